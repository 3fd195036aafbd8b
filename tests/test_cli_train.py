"`transfer-course train`, export and `predict --model`, run as a user would: subprocesses on real photos (symlinked, small)."
import json

import pytest

from conftest import run_cli
from transfer_course.core import find_dataset
from transfer_course.recipes import ProbeEnsemble, default_members, load_exported
from transfer_course.train import evaluate


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


@pytest.mark.parametrize("layout", ["flat", "train_valid"])
def test_a_single_class_is_refused_before_training(tmp_path, layout):
    "One class folder would train a one-class model that is always 'right': exit 2 with a message saying why."
    ants = find_dataset("hymenoptera")
    parts = {"flat": {"": "train"}, "train_valid": {"train": "train", "valid": "val"}}[layout]
    for target, source in parts.items():
        (tmp_path/"one"/target/"ants").mkdir(parents=True)
        for photo in sorted((ants/source/"ants").glob("*.jpg"))[:4]: (tmp_path/"one"/target/"ants"/photo.name).symlink_to(photo)
    out = tmp_path/"one.pt"
    extra = ["--valid-pct", "0.25"] if layout == "flat" else []
    result = run_cli("train", tmp_path/"one", *extra, "--size", "64", "--out", out, "--device", "cpu")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "a classifier needs at least two classes" in result.stderr and "ants" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not out.exists() and result.stdout == ""


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
    from transfer_course.augment import image_data
    from transfer_course.data import split_image_folders
    root, out, result = ensemble_run
    summary, model = json.loads(result.stdout), load_exported(out, device="cpu")
    data = image_data(split_image_folders(root), model.record, batch_size=16, seed=0)
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
