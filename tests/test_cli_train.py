"`transfer-course train`, export and `predict --model`, run as a user would: subprocesses on real photos (symlinked, small)."
import json

import pytest
import torch

from conftest import run_cli
from transfer_course.core import find_dataset
from transfer_course.finetune import ProbeEnsemble, create_probe_ensemble, default_members, export, fit_linear_classifier, load_exported
from transfer_course.train import create_transfer_model, evaluate, linear_head


def link_photos(source_dir, target_dir, per_class):
    "Symlink the first `per_class` photos of each class folder of `source_dir` into `target_dir`."
    for class_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
        (target_dir/class_dir.name).mkdir(parents=True, exist_ok=True)
        for photo in sorted(class_dir.glob("*.jpg"))[:per_class]: (target_dir/class_dir.name/photo.name).symlink_to(photo)
    return target_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "Train once on a flat folder of ants and bees (--valid-pct), with a broken file; unfrozen phase included."
    root = tmp_path_factory.mktemp("flat")
    link_photos(find_dataset("hymenoptera")/"train", root, per_class=12)
    (root/"bees"/"broken.jpg").write_bytes(b"<html>not a photo</html>")
    out = root.parent/"bees.pt"
    result = run_cli("train", root, "--valid-pct", "0.25", "--size", "96", "--freeze-epochs", "4", "--epochs", "1",
                     "--out", out, "--json", "--device", "cpu", "--seed", "1")
    return root, out, result


def test_train_json_summary_and_bad_file_skipped(trained):
    root, out, result = trained
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["classes"] == ["ants", "bees"] and summary["size"] == 96
    assert summary["n_train"] + summary["n_valid"] == 24 and summary["n_valid"] == 6
    assert set(summary["phases_seconds"]) == {"decode", "features", "frozen", "unfrozen"}
    assert 0 <= summary["valid_accuracy"] <= 1 and summary["valid_loss"] > 0 and summary["kept"] in ("frozen", "unfrozen")
    assert summary["recipe"] == "fine-tune" and "sizes" not in summary  # --freeze-epochs/--epochs imply the fine-tune recipe
    assert len(summary["skipped"]) == 1 and "broken.jpg" in summary["skipped"][0] and "broken.jpg" in result.stderr
    assert summary["out"] == str(out) and out.exists()
    assert summary["flip_tta"] is True and load_exported(out, device="cpu").flip_tta  # the exported model predicts as measured


def test_predict_with_the_exported_model_uses_the_new_classes(trained):
    root, out, _ = trained
    photos = sorted((find_dataset("hymenoptera")/"val"/"bees").glob("*.jpg"))[:3]
    result = run_cli("predict", *photos, "--model", out, "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    for entry in document:
        assert len(entry["top"]) == 2  # only two classes: top-5 is capped
        assert {g["label"] for g in entry["top"]} == {"ants", "bees"}
        assert all(g["index"] == ["ants", "bees"].index(g["label"]) for g in entry["top"])
        assert sum(g["prob"] for g in entry["top"]) == pytest.approx(1, abs=1e-4)


def test_export_roundtrip_is_exact_and_loads_safely(tmp_path):
    model = create_transfer_model("efficientnet_lite0", ["x", "y", "z"], head="mlp", size=64, device="cpu", hidden=32)
    path = export(model, tmp_path/"m.pt", metadata={"accuracy": 0.5})
    loaded = load_exported(path, device="cpu")
    assert loaded.class_names == ("x", "y", "z") and loaded.record == model.record and not loaded.training
    assert loaded.head_config == {"kind": "mlp", "hidden": 32} and loaded.metadata == {"accuracy": 0.5}
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad(): torch.testing.assert_close(loaded(images), model(images))
    payload = torch.load(path, weights_only=True)  # plain data only: loads without unpickling code
    assert isinstance(payload["record"], dict) and payload["format"].startswith("transfer_course.export/")
    assert loaded.flip_tta is False
    model.flip_tta = True
    mirrored = load_exported(export(model, tmp_path/"tta.pt"), device="cpu")
    assert mirrored.flip_tta is True
    with torch.no_grad(): torch.testing.assert_close(mirrored(images), (model.eval().head(model.body(images)) + model.head(model.body(images.flip(-1))))/2)


def test_train_layouts_and_clear_errors(tmp_path):
    empty = tmp_path/"empty"; empty.mkdir()
    result = run_cli("train", empty)
    assert result.returncode == 2 and "no class folders" in result.stderr
    (empty/"cats").mkdir(); (empty/"dogs").mkdir(); (empty/"dogs"/"a.jpg").write_bytes(b"x")
    result = run_cli("train", empty, "--valid-pct", "0.2")
    assert result.returncode == 2 and "with no images in" in result.stderr and "cats" in result.stderr
    flat = link_photos(find_dataset("hymenoptera")/"train", tmp_path/"flat", per_class=3)
    result = run_cli("train", flat)
    assert result.returncode == 2 and "--valid-pct" in result.stderr
    odd = tmp_path/"odd"
    link_photos(find_dataset("hymenoptera")/"train", odd/"train", per_class=2)
    link_photos(find_dataset("clothing_small_5cls")/"valid", odd/"valid", per_class=1)
    result = run_cli("train", odd)
    assert result.returncode == 2 and "Validation classes not in the training folder" in result.stderr


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    "The default recipe (probe ensemble) on train/ + val/ folders of ants and bees, small images."
    root = tmp_path_factory.mktemp("layout")
    link_photos(find_dataset("hymenoptera")/"train", root/"train", per_class=16)
    link_photos(find_dataset("hymenoptera")/"val", root/"val", per_class=8)
    out = root.parent/"ensemble.pt"
    return root, out, run_cli("train", root, "--size", "64", "--out", out, "--json", "--device", "cpu")


def test_default_recipe_is_the_probe_ensemble(ensemble_run):
    root, out, result = ensemble_run
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    members = ["efficientnet_lite0@64", "efficientnet_lite2@72"]
    assert summary["recipe"] == "ensemble" and summary["members"] == members == default_members("efficientnet_lite0", 64) and summary["size"] == 72
    assert set(summary["phases_seconds"]) == {"decode", "features", "fit"} and "kept" not in summary
    assert set(summary["member_accuracy"]) == set(members) and (summary["n_train"], summary["n_valid"]) == (32, 16)
    model = load_exported(out, device="cpu")
    assert isinstance(model, ProbeEnsemble) and model.members == [("efficientnet_lite0", 64), ("efficientnet_lite2", 72)]
    assert model.flip_tta and model.record.input_size == 72 and model.record.name == "efficientnet_lite2"
    assert model.metadata["recipe"] == "ensemble" and not any(p.requires_grad for p in model.parameters())


def test_exported_ensemble_predicts_as_measured(ensemble_run):
    "The file on disk, evaluated again on the validation photos, gives the accuracy and loss the command reported."
    from transfer_course.train import ImageData, split_image_folders
    root, out, result = ensemble_run
    summary, model = json.loads(result.stdout), load_exported(out, device="cpu")
    data = ImageData(split_image_folders(root), model.record, batch_size=16, seed=0)
    again = evaluate(model, data.valid_loader())
    assert again["accuracy"] == pytest.approx(summary["valid_accuracy"], abs=1e-6)
    assert again["valid_loss"] == pytest.approx(summary["valid_loss"], rel=1e-3)
    photos = sorted((find_dataset("hymenoptera")/"val"/"ants").glob("*.jpg"))[:2]
    predicted = run_cli("predict", *photos, "--model", out, "--json", "--device", "cpu")
    assert predicted.returncode == 0, predicted.stderr
    for entry in json.loads(predicted.stdout):
        assert {g["label"] for g in entry["top"]} == {"ants", "bees"}
        assert sum(g["prob"] for g in entry["top"]) == pytest.approx(1, abs=1e-4)


def test_recipe_options_do_not_mix(tmp_path):
    flat = link_photos(find_dataset("hymenoptera")/"train", tmp_path/"flat", per_class=3)
    mixed = run_cli("train", flat, "--valid-pct", "0.3", "--recipe", "ensemble", "--epochs", "1")
    assert mixed.returncode == 2 and "--epochs only apply to --recipe fine-tune" in mixed.stderr
    mixed = run_cli("train", flat, "--valid-pct", "0.3", "--recipe", "fine-tune", "--members", "efficientnet_lite0@64")
    assert mixed.returncode == 2 and "--members and --c only apply to --recipe ensemble" in mixed.stderr
    for bad in ("efficientnet_lite0@16", "lite9@64", "efficientnet_lite0"):
        refused = run_cli("train", flat, "--valid-pct", "0.3", "--members", bad)
        assert refused.returncode == 2 and "ARCH@SIZE" in refused.stderr, refused.stderr
    unknown = run_cli("train", flat, "--recipe", "magic")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_probe_ensemble_export_roundtrip_and_averaging(tmp_path):
    "Members of different bodies, sizes and normalisations (Lite0: 0.5/0.5, ResNet-18: ImageNet statistics) average as promised."
    torch.manual_seed(0)
    ensemble = create_probe_ensemble(["efficientnet_lite0@64", "efficientnet_lite0@80"], ["x", "y", "z"], pretrained=False, device="cpu")
    for head in ensemble.heads.values(): torch.nn.init.normal_(head.fc.weight)
    images = torch.randn(2, 3, 80, 80)
    with torch.no_grad():
        small = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
        body, heads = ensemble.bodies["efficientnet_lite0"], ensemble.heads
        by_hand = sum(heads[f"efficientnet_lite0@{s}"](body(v)).softmax(1) for s, x in ((64, small), (80, images)) for v in (x, x.flip(-1)))/4
        torch.testing.assert_close(ensemble(images).exp(), by_hand, rtol=1e-5, atol=1e-6)
        loaded = load_exported(export(ensemble, tmp_path/"e.pt", metadata={"a": 1}), device="cpu")
        torch.testing.assert_close(loaded(images), ensemble(images))
    assert loaded.members == ensemble.members and loaded.class_names == ("x", "y", "z") and loaded.metadata == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pt"]
    with pytest.raises(ValueError, match="largest member"): ProbeEnsemble(ensemble.bodies, {"efficientnet_lite0@64": heads["efficientnet_lite0@64"]}, loaded.record, ["x", "y", "z"])
    with pytest.raises(ValueError, match="No body for resnet18"): ProbeEnsemble(ensemble.bodies, {"resnet18@80": heads["efficientnet_lite0@80"]}, loaded.record, ["x"])


def test_fit_linear_classifier_is_regularised_logistic_regression():
    "Separable data: perfect training accuracy; a smaller C shrinks the weights; the gradient of the objective vanishes."
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=generator)*4
    labels = torch.arange(3).repeat_interleave(20)
    features = centres[labels] + torch.randn(60, 8, generator=generator)
    strong, weak = fit_linear_classifier(features, labels, 3, c=100.0), fit_linear_classifier(features, labels, 3, c=0.01)
    assert (strong(features).argmax(1) == labels).all()
    assert weak.weight.norm() < strong.weight.norm() / 3
    weight, bias = strong.weight.clone().requires_grad_(), strong.bias.clone().requires_grad_()
    objective = torch.nn.functional.cross_entropy(features @ weight.T + bias, labels) + weight.pow(2).sum()/(2*100.0*60)
    objective.backward()
    assert weight.grad.abs().max() < 1e-4 and bias.grad.abs().max() < 1e-4
    with pytest.raises(ValueError, match="as many labels"): fit_linear_classifier(features, labels[:5], 3)
