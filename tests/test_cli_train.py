"`transfer-course train`, export and `predict --model`, run as a user would: subprocesses on real photos (symlinked, small)."
import json

import pytest
import torch

from conftest import run_cli
from transfer_course.core import find_dataset
from transfer_course.finetune import export, load_exported
from transfer_course.train import create_transfer_model


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
