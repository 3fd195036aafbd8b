"Training modules (lessons 4 and 5) against fastai's own functions, on real weights; freezing and BatchNorm policy; determinism."
import math, random

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_course import metrics, train
from transfer_course.core import seed_everything
from transfer_course.engine import EXPORT_FORMAT, infer, load_payload
from transfer_course.finetune import fastai_splitter, lr_find, valley
from transfer_course.records import MODELS, build_architecture
from transfer_course.train import (BATCHNORM_TYPES, compute_features, create_head, create_transfer_model, cut_body,
                                   discriminative_lrs, evaluate, feature_extractor, fit, fit_head_cached, freeze,
                                   freeze_to, group_parameters, layer_groups, linear_head, parameter_groups,
                                   parameter_report, train_mode, trainable_head, unfreeze)

try: from transfer_course.recipes import load_exported
except ImportError: from transfer_course.finetune import load_exported


@pytest.fixture(scope="module")
def model():
    return create_transfer_model("efficientnet_lite0", ["a", "b", "c"], size=64, device="cpu")


def test_create_head_matches_fastai_layer_by_layer():
    from fastai.vision.learner import create_head as fastai_create_head
    ours, theirs = list(create_head(1280, 5)), list(fastai_create_head(1280, 5))
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    for mine, reference in zip(ours, theirs):
        assert [tuple(p.shape) for p in mine.parameters()] == [tuple(p.shape) for p in reference.parameters()]
        if isinstance(mine, nn.Dropout): assert mine.p == reference.p


def test_valley_matches_fastai_on_random_curves():
    from fastai.callback.schedule import valley as fastai_valley
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(5, 60)
        lrs = [10**(-7 + 8*i/n) for i in range(n)]
        losses = torch.tensor([rng.random() + 2*math.exp(-i/8) for i in range(n)])
        assert valley(lrs, losses.tolist()) == fastai_valley(lrs, losses, n)[0]


def test_discriminative_lrs_match_fastai_slice_semantics():
    from fastai.torch_core import even_mults
    assert discriminative_lrs(slice(1e-3), 4) == [1e-4, 1e-4, 1e-4, 1e-3]
    assert discriminative_lrs(slice(1e-6, 1e-2), 5) == pytest.approx(list(even_mults(1e-6, 1e-2, 5)))
    with pytest.raises(ValueError, match="2 learning rates for 3"): discriminative_lrs([1e-3, 1e-2], 3)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_record_splits_every_body_parameter_into_ordered_groups(name):
    record = MODELS[name]
    body = cut_body(build_architecture(record), record)
    groups = group_parameters(body.named_parameters(), record.layer_groups[:-1])
    assert all(groups) and sum(map(len, groups)) == len(list(body.parameters()))
    order = [name for name, _ in body.named_parameters()]
    flattened = [name for group in groups for name, _ in group]
    assert flattened == order  # groups are contiguous, early to late


def test_fastai_splitter_gives_the_same_groups_as_ours(model):
    from fastai.vision.learner import create_head as fastai_create_head
    ours = layer_groups(model)
    for body in (nn.Sequential(*model.body.children()), model.body):  # numbered children, as fastai's cut makes; or named
        theirs = fastai_splitter(model.record)(nn.Sequential(body, fastai_create_head(1280, 3)))
        assert [[id(p) for p in group] for group in theirs[:-1]] == [[id(p) for _, p in group] for group in ours[:-1]]
        assert len(theirs) == 3 and all(theirs)


def test_freeze_and_train_mode_bn_policy(model):
    counts = freeze(model, train_bn=False)
    assert counts["trainable"] == sum(p.numel() for p in model.head.parameters())
    frozen_bns = train_mode(model)
    body_bns = [m for m in model.body.modules() if isinstance(m, BATCHNORM_TYPES)]
    assert len(frozen_bns) == len(body_bns) and not any(m.training for m in body_bns)
    assert model.head.bn1.training  # the head's BatchNorm learns
    freeze(model, train_bn=True)
    assert train_mode(model) == [] and all(m.training for m in body_bns)
    freeze_to(model, 1)
    groups = layer_groups(model)
    assert not any(p.requires_grad for _, p in groups[0]) and all(p.requires_grad for _, p in groups[1])
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())
    model.eval(); freeze(model)


def test_a_frozen_body_and_its_statistics_do_not_move_in_fit(model):
    "The mutation this guards against: requires_grad=False alone still lets BatchNorm running statistics drift."
    seed_everything(0)
    freeze(model, train_bn=False)
    body_before = {k: v.clone() for k, v in model.body.state_dict().items()}
    images, labels = torch.randn(8, 3, 64, 64), torch.randint(0, 3, (8,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=4)
    fit(model, loader, loader, epochs=1, lr=1e-2, progress=False)
    for key, value in model.body.state_dict().items(): assert torch.equal(value, body_before[key]), key
    assert not model.training  # modes restored (the model came in eval mode)


def test_fit_is_deterministic_with_a_seed_and_early_stopping_restores_the_best():
    def run():
        seed_everything(3)
        head = linear_head(16, 3)[2:]
        features = TensorDataset(torch.randn(64, 16), torch.randint(0, 3, (64,)))
        valid = TensorDataset(torch.randn(32, 16), torch.randint(0, 3, (32,)))
        history = fit(head, DataLoader(features, 16, shuffle=True, generator=torch.Generator().manual_seed(3)),
                      DataLoader(valid, 16), epochs=12, lr=0.3, patience=2, progress=False)
        return head, history
    (first, history), (second, _) = run(), run()
    for a, b in zip(first.parameters(), second.parameters()): assert torch.equal(a, b)
    best = min(row["valid_loss"] for row in history.epochs)
    assert history.best["valid_loss"] == best
    if history.stopped_early: assert len(history.epochs) - 1 - history.best_epoch == 2


def test_fit_refuses_a_model_with_nothing_to_train(model):
    for p in model.parameters(): p.requires_grad_(False)
    loader = DataLoader(TensorDataset(torch.randn(2, 3, 64, 64), torch.tensor([0, 1])), batch_size=2)
    with pytest.raises(ValueError, match="Nothing to train"): fit(model, loader, loader, epochs=1, progress=False)
    freeze(model)


def test_lr_find_restores_weights_and_suggests_a_sane_rate():
    seed_everything(0)
    centers = torch.randn(3, 16)*3
    labels = torch.randint(0, 3, (256,))
    features = centers[labels] + torch.randn(256, 16)
    head = nn.Sequential(nn.Linear(16, 3))
    before = [p.clone() for p in head.parameters()]
    result = lr_find(head, DataLoader(TensorDataset(features, labels), 32, shuffle=True), steps=100)
    assert all(torch.equal(a, b) for a, b in zip(before, head.parameters()))
    assert 1e-4 < result.suggestion < 1 and result.lrs[0] == pytest.approx(1e-7) and len(result.lrs) <= 100


def test_parameter_report_counts_and_parameter_groups(model):
    freeze(model)
    report = parameter_report(model)
    assert report["total"].sum() == sum(p.numel() for p in model.parameters())
    assert report["trainable"].sum() == sum(p.numel() for p in model.head.parameters())
    body_bns = sum(isinstance(m, BATCHNORM_TYPES) for m in model.body.modules())
    assert report.filter(like="body", axis=0)["batchnorm"].sum() == body_bns
    assert report["learning"].sum() == 2  # the head's two BatchNorm layers; none of the body's
    freeze(model, train_bn=True)
    assert parameter_report(model)["learning"].sum() == body_bns + 2
    freeze(model)
    groups = parameter_groups(model, slice(1e-5, 1e-3))
    assert [g["name"] for g in groups] == ["group0", "group1", "head"]
    assert groups[0]["lr"] == pytest.approx(1e-5) and groups[-1]["lr"] == pytest.approx(1e-3)
    assert trainable_head(model)[0] is model.head.bn1


def test_train_has_no_metric_or_device_duplicates():
    "One implementation each: train uses the metrics and engine modules, and defines none of its own."
    assert train.accuracy is metrics.accuracy and train.top_k_accuracy is metrics.top_k_accuracy
    for name in ("accuracy", "per_class_accuracy", "model_device", "to_device", "preserved_modes", "ParameterReport"):
        assert name not in train.__all__


def small_loaders(seed=0, n=24, size=64, classes=3):
    generator = torch.Generator().manual_seed(seed)
    images, labels = torch.rand(n, 3, size, size, generator=generator), torch.arange(n) % classes
    return (DataLoader(TensorDataset(images, labels), 8, shuffle=True, generator=torch.Generator().manual_seed(seed)),
            DataLoader(TensorDataset(images, labels), 8))


def test_evaluate_is_infer_plus_metrics_and_restores_modes(model):
    _, valid = small_loaders()
    model.train(); freeze(model)
    figures = evaluate(model, valid, k=2)
    assert model.training  # modes restored
    logits, targets = infer(model, valid)
    assert figures["accuracy"] == metrics.accuracy(logits, targets)
    assert figures["top2"] == metrics.top_k_accuracy(logits, targets, 2)
    assert figures["valid_loss"] == pytest.approx(nn.functional.cross_entropy(logits, targets).item())
    assert figures["per_class"] == pytest.approx(metrics.per_class_accuracy(logits, targets).tolist(), nan_ok=True)
    assert "top5" not in evaluate(model, valid, k=5)  # 3 classes: top-5 would be meaningless (always 1.0)
    model.eval()


def test_compute_features_match_the_extractor_and_can_train_a_head(model):
    freeze(model)
    _, valid = small_loaders()
    features = compute_features(model, valid)
    images = torch.cat([batch for batch, _ in valid])
    with torch.no_grad(): expected = feature_extractor(model).eval()(images)
    torch.testing.assert_close(features.tensors[0], expected, atol=1e-4, rtol=1e-4)
    head = trainable_head(model)
    head.train()(features.tensors[0][:4]).sum().backward()  # ordinary tensors, not inference tensors
    assert head.bn1.weight.grad is not None
    model.zero_grad(set_to_none=True); model.eval()


def test_best_checkpoint_is_an_exported_model_that_load_exported_reads(tmp_path):
    "fit(checkpoint=...) and fit_head_cached(checkpoint=...) write the one export format; load_exported rebuilds it."
    seed_everything(0)
    model = create_transfer_model("efficientnet_lite0", ["a", "b", "c"], head="linear", size=64, device="cpu")
    freeze(model)
    train_loader, valid_loader = small_loaders()
    history = fit(model, train_loader, valid_loader, epochs=2, lr=1e-2, checkpoint=tmp_path/"fit.pt", progress=False)
    payload = load_payload(tmp_path/"fit.pt", EXPORT_FORMAT)
    assert payload["metadata"]["epoch"] == history.best_epoch and payload["head"] == {"kind": "linear"}
    restored = load_exported(tmp_path/"fit.pt", device="cpu")
    assert restored.class_names == ("a", "b", "c") or list(restored.class_names) == ["a", "b", "c"]
    torch.testing.assert_close(infer(restored, valid_loader)[0], infer(model, valid_loader)[0], atol=1e-5, rtol=1e-5)
    # a head trained on cached features: the file holds the whole model, with the best head
    cached = fit_head_cached(model, train_loader, valid_loader, epochs=3, checkpoint=tmp_path/"cached.pt",
                             progress=False)
    restored = load_exported(tmp_path/"cached.pt", device="cpu")
    assert load_payload(tmp_path/"cached.pt", EXPORT_FORMAT)["metadata"]["epoch"] == cached.best_epoch
    torch.testing.assert_close(infer(restored, valid_loader)[0], infer(model, valid_loader)[0], atol=1e-5, rtol=1e-5)


def test_a_checkpoint_file_needs_an_exportable_model(tmp_path):
    head = nn.Linear(4, 2)
    loader = DataLoader(TensorDataset(torch.randn(4, 4), torch.tensor([0, 1, 0, 1])), batch_size=2)
    with pytest.raises(ValueError, match="exported model"):
        fit(head, loader, loader, epochs=1, checkpoint=tmp_path/"x.pt", progress=False)
    assert not (tmp_path/"x.pt").exists()


def test_a_failed_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    from transfer_course.engine import BestCheckpoint
    import transfer_course.core as core
    model = create_transfer_model("efficientnet_lite0", 2, head="linear", size=64, pretrained=False, device="cpu")
    tracker = BestCheckpoint(tmp_path/"best.pt", exported=model)
    tracker.update(0.9, model, 0)
    monkeypatch.setattr(core.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError): tracker.update(0.5, model, 1)
    monkeypatch.undo()
    assert load_payload(tmp_path/"best.pt", EXPORT_FORMAT)["metadata"]["epoch"] == 0


def test_fit_schedules_runs_of_very_few_steps():
    "2 epochs x 2 batches: a one-cycle warm-up of 0.25 x 4 = 1 step used to divide by zero inside OneCycleLR."
    from torch.utils.data import DataLoader, TensorDataset
    torch.manual_seed(0)
    inputs = torch.randn(8, 4); targets = (inputs[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=4)
    for epochs in (1, 2, 3):
        history = fit(torch.nn.Linear(4, 2), loader, loader, epochs=epochs, lr=1e-2, progress=False)
        assert len(history.epochs) == epochs
