"The engine: the one device/precision rule, the one inference loop, the one training step, the one file format."
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_course import engine
from transfer_course.engine import (Placement, autocast, autocast_dtype, grad_scaler, infer, load_payload, model_device,
                                    placement, prepare_model, preserved_modes, save_payload, to_device, train_step)

PACKAGE = Path(engine.__file__).parent


def small_convnet(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.3),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def test_precision_rule_is_a_function_of_device_type_and_bf16_support():
    table = {(kind, bf16): autocast_dtype(kind, bf16) for kind in ("cpu", "cuda", "mps") for bf16 in (False, True)}
    assert table == {("cpu", False): None, ("cpu", True): None, ("mps", False): None, ("mps", True): None,
                     ("cuda", False): torch.float16, ("cuda", True): torch.bfloat16}
    assert placement("cuda:1", bf16_supported=True) == Placement(torch.device("cuda:1"), torch.channels_last, torch.bfloat16)
    assert placement("cuda", bf16_supported=False).needs_grad_scaler
    assert not placement("cuda", bf16_supported=True).needs_grad_scaler
    assert placement("mps").memory_format == torch.contiguous_format and placement("cpu").memory_format == torch.channels_last


def test_placement_defaults_to_choose_device(monkeypatch):
    monkeypatch.setenv("TRANSFER_COURSE_DEVICE", "cpu")
    assert placement().device == torch.device("cpu")


def test_device_rule_lives_only_in_the_engine():
    "No module but the engine hard-codes a device, a memory layout or an autocast precision."
    pattern = re.compile(r"\.cuda\(|\.to\([\"']cuda|torch\.autocast\(|channels_last|GradScaler\(")
    offenders = [f"{path.name}:{number}: {line.strip()}" for path in sorted(PACKAGE.rglob("*.py"))
                 if path.name not in ("engine.py", "_modidx.py")
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, "use transfer_course.engine (placement, to_device, prepare_model, autocast):\n" + "\n".join(offenders)


def test_to_device_moves_nested_batches_and_lays_out_images():
    batch = {"images": torch.rand(2, 3, 5, 5), "pair": (torch.rand(2, 3), [torch.tensor([1, 2])]), "name": "x"}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["images"].is_contiguous(memory_format=torch.channels_last)
    assert isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list) and moved["name"] == "x"
    assert torch.equal(moved["images"], batch["images"]) and torch.equal(moved["pair"][1][0], torch.tensor([1, 2]))
    meta = to_device(torch.rand(2, 3, 5, 5), "meta")
    assert meta.device.type == "meta" and meta.is_contiguous(memory_format=torch.channels_last)


def test_prepare_model_and_model_device():
    model = prepare_model(small_convnet(), "cpu")
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last) and model_device(model) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu")  # no parameters: CPU
    assert model_device(nn.Linear(2, 2, device="meta")) == torch.device("meta")


def test_preserved_modes_restores_after_an_error():
    model = small_convnet().train()
    model[1].eval()
    before = [m.training for m in model.modules()]
    with pytest.raises(RuntimeError), preserved_modes(model):
        model.eval(); raise RuntimeError("boom")
    assert [m.training for m in model.modules()] == before


def test_infer_matches_a_plain_forward_and_restores_modes():
    model = small_convnet().train()
    model[1].eval()  # a frozen BatchNorm inside a training model: a mix of modes
    modes = [m.training for m in model.modules()]
    images, labels = torch.rand(10, 3, 8, 8), torch.arange(10) % 4
    logits, targets = infer(model, DataLoader(TensorDataset(images, labels), batch_size=4))
    assert [m.training for m in model.modules()] == modes
    with torch.no_grad(): expected = model.eval()(images)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(targets, labels) and logits.dtype == torch.float32 and logits.device.type == "cpu"
    assert torch.equal(infer(model, [images[:3], images[3:]]), logits)  # bare tensors: outputs only


def test_infer_outputs_can_train_something():
    "Tensors made under inference_mode cannot be saved for backward; infer's outputs are ordinary tensors."
    features = infer(nn.Identity(), [torch.rand(4, 3)])
    head = nn.Linear(3, 2)
    head(features).sum().backward()
    assert head.weight.grad is not None


def test_infer_progress_bar_and_bad_batches(capsys):
    infer(nn.Identity(), [torch.rand(2, 3)] * 3, progress=True)
    assert "infer" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no batches"): infer(nn.Identity(), [])
    with pytest.raises(ValueError, match="3 items"): infer(nn.Identity(), [(torch.rand(2), torch.rand(2), torch.rand(2))])


def test_infer_runs_in_inference_mode():
    seen = []
    class Probe(nn.Module):
        def forward(self, x): seen.append((torch.is_inference_mode_enabled(), self.training)); return x
    infer(Probe().train(), [torch.rand(2, 2)])
    assert seen == [(True, False)]


def test_train_step_decreases_the_loss_on_a_tiny_problem():
    torch.manual_seed(0)
    inputs = torch.randn(64, 5)
    targets = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    losses = [train_step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer)[0] for _ in range(30)]
    assert losses[-1] < 0.5*losses[0], losses
    loss, outputs = train_step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer)
    assert isinstance(loss, float) and outputs.shape == (64, 3) and not outputs.requires_grad


def test_train_step_moves_batches_to_the_models_device():
    "Inputs made on the CPU reach a model on another device (here 'meta', which every machine has) in its layout."
    class Seen(Exception): pass
    model = nn.Conv2d(3, 2, 1, device="meta")
    arrived = []
    def hook(module, args): arrived.append(args[0]); raise Seen
    model.register_forward_pre_hook(hook)
    with pytest.raises(Seen):
        train_step(model, torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss(),
                   torch.optim.SGD(model.parameters(), lr=0.1))
    assert arrived[0].device.type == "meta" and arrived[0].is_contiguous(memory_format=torch.channels_last)


def test_train_step_leaves_the_mode_to_the_caller_and_only_steps_trainable_parameters():
    model = small_convnet().eval()
    for parameter in model[0].parameters(): parameter.requires_grad_(False)
    frozen = model[0].weight.clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    train_step(model, torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]), nn.CrossEntropyLoss(), optimizer)
    assert not model.training and torch.equal(model[0].weight, frozen)


def test_float16_training_needs_and_uses_a_grad_scaler(monkeypatch):
    "Where autocast is float16 (old GPUs), train_step refuses to run without a scaler and works with one."
    fp16 = Placement(torch.device("cpu"), torch.channels_last, torch.float16)
    assert grad_scaler("cpu") is None and isinstance(grad_scaler(fp16), torch.amp.GradScaler)
    monkeypatch.setattr(engine, "placement", lambda device=None, bf16_supported=None: fp16)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(8, 4), torch.tensor([0, 1] * 4)
    with pytest.raises(ValueError, match="grad_scaler"):
        train_step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer)
    before = model.weight.clone()
    scaler = grad_scaler(fp16)
    loss, outputs = train_step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer, scaler)
    assert outputs.dtype == torch.float16 and scaler.get_scale() > 0 and not torch.equal(model.weight, before)


def test_autocast_on_cpu_is_a_no_op():
    with autocast("cpu"): result = nn.Linear(3, 3)(torch.rand(2, 3))
    assert result.dtype == torch.float32


def test_payload_round_trip(tmp_path):
    state = {"weight": torch.randn(3, 2), "steps": torch.tensor(7)}
    path = save_payload({"state_dict": state, "class_names": ["a", "b"], "metadata": {"accuracy": 0.5}},
                        tmp_path/"sub"/"model.pt", "test.format/1")
    payload = load_payload(path, "test.format/1")
    assert payload["format"] == "test.format/1" and payload["class_names"] == ["a", "b"]
    assert all(torch.equal(payload["state_dict"][k], v) for k, v in state.items())
    assert load_payload(path, ("test.format/0", "test.format/1"))["metadata"] == {"accuracy": 0.5}
    assert [p.name for p in (tmp_path/"sub").iterdir()] == ["model.pt"]  # no temporary file left behind


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    import transfer_course.core as core
    path = save_payload({"value": torch.tensor(1)}, tmp_path/"model.pt", "test.format/1")
    def disk_full(fd): raise OSError(28, "No space left on device")
    monkeypatch.setattr(core.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_payload({"value": torch.tensor(2)}, path, "test.format/1")
    monkeypatch.undo()
    assert load_payload(path, "test.format/1")["value"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_wrong_files_are_clear_errors(tmp_path):
    path = save_payload({"value": 1}, tmp_path/"old.pt", "test.format/0")
    with pytest.raises(ValueError, match=r"old\.pt has format 'test\.format/0', expected test\.format/1; retrain it"):
        load_payload(path, "test.format/1", what_to_do="retrain it")
    (tmp_path/"photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a model")
    with pytest.raises(ValueError, match=r"photo\.jpg is not a transfer_course file"): load_payload(tmp_path/"photo.jpg", "test.format/1")
    torch.save({"value": 1}, tmp_path/"untagged.pt")
    with pytest.raises(ValueError, match="format None"): load_payload(tmp_path/"untagged.pt", "test.format/1")
    with pytest.raises(FileNotFoundError, match="missing.pt"): load_payload(tmp_path/"missing.pt", "test.format/1")
    with pytest.raises(ValueError, match="payload says format"): save_payload({"format": "x/1"}, tmp_path/"y.pt", "x/2")


def test_loading_never_runs_code(tmp_path):
    "weights_only=True: a pickle that would call a function on load is refused, not executed."
    calls = []
    class Trap:
        def __reduce__(self): return (calls.append, ("ran",))
    torch.save({"format": "test.format/1", "trap": Trap()}, tmp_path/"trap.pt")
    with pytest.raises(ValueError, match="trap.pt"): load_payload(tmp_path/"trap.pt", "test.format/1")
    assert calls == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path_end_to_end():
    model = prepare_model(small_convnet(), "cuda")
    images, labels = torch.rand(8, 3, 8, 8), torch.arange(8) % 4
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, outputs = train_step(model, images, labels, nn.CrossEntropyLoss(), optimizer, grad_scaler("cuda"))
    assert outputs.device.type == "cuda" and outputs.dtype == placement("cuda").autocast_dtype
    logits, targets = infer(model, [(images, labels)])
    assert logits.device.type == "cpu" and logits.dtype == torch.float32 and torch.equal(targets, labels)


def test_gpu_check_imports_names_that_exist():
    "make gpu-check runs only where a GPU is lent: at least every course name it imports must exist here."
    import ast, importlib
    from pathlib import Path
    source = (Path(__file__).resolve().parent.parent/"tools"/"gpu_check.py").read_text()
    imports = [(node.module, alias.name) for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transfer_course")
               for alias in node.names]
    assert len(imports) >= 10
    missing = [f"{module}.{name}" for module, name in imports if not hasattr(importlib.import_module(module), name)]
    assert not missing, missing
