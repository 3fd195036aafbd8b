"Pretrained models: our preprocessing equals the libraries' own, weights load and are checked, predictions are right."
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from transfer_course.core import find_dataset
from transfer_course.pretrained import PredictionExplorer, predict, preprocess
from transfer_course.records import (MODELS, WeightsError, build_architecture, get_record, load_pretrained,
                                     torchvision_weights, verify_sha256_prefix, efficientnet_lite_weights_file)

TORCHVISION_MODELS = [name for name, record in MODELS.items() if record.architecture.startswith("torchvision:")]
LITE_MODELS = [name for name, record in MODELS.items() if record.architecture.startswith("timm:")]


def real_photos(photos):
    "Bundled photos plus a few large real JPEGs from the data dir (portrait and landscape, up to 2592x1944)."
    hymenoptera = find_dataset("hymenoptera")
    big = sorted((hymenoptera/"train"/"bees").glob("*.jpg"), key=lambda p: -p.stat().st_size)[:2]
    return [photos["chelsea"], photos["grace_hopper"], photos["astronaut"], *big]


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_torchvision_preprocessing_equals_weights_transforms(name, photos):
    record = get_record(name)
    transform = torchvision_weights(record.weights.split(":", 1)[1]).transforms()
    for path in real_photos(photos):
        ours = preprocess(path, record, draft=False)
        theirs = transform(Image.open(path).convert("RGB"))
        assert ours.shape == theirs.shape == (3, record.input_size, record.input_size)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", LITE_MODELS)
def test_efficientnet_lite_preprocessing_equals_timm_data_config(name, photos):
    import timm
    record = get_record(name)
    config = timm.data.resolve_model_data_config(timm.create_model(record.architecture.split(":")[1]))
    assert (config["input_size"][1], config["interpolation"], tuple(config["mean"]), tuple(config["std"])) == \
           (record.input_size, record.interpolation, record.mean, record.std)
    transform = timm.data.create_transform(**config)
    for path in real_photos(photos):
        torch.testing.assert_close(preprocess(path, record, draft=False), transform(Image.open(path).convert("RGB")), atol=1e-5, rtol=0)


def test_draft_decoding_is_close_to_full_decoding(photos):
    "JPEG draft mode (DCT-domain downscale) changes pixels a little, not the picture."
    record = get_record("efficientnet_lite0")
    for path in real_photos(photos)[-2:]:
        full, drafted = preprocess(path, record, draft=False), preprocess(path, record, draft=True)
        assert (full - drafted).abs().mean() < 0.03, (full - drafted).abs().mean()


def test_preprocessing_mistakes_would_be_caught(photos):
    "The equality tests above can fail: a wrong mean or a squash resize is far from torchvision's tensor."
    record = get_record("resnet18")
    theirs = torchvision_weights("ResNet18_Weights.IMAGENET1K_V1").transforms()(Image.open(photos["chelsea"]).convert("RGB"))
    from dataclasses import replace
    wrong_mean = preprocess(photos["chelsea"], replace(record, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    wrong_resize = preprocess(photos["chelsea"], replace(record, resize_size=224))
    assert (wrong_mean - theirs).abs().max() > 0.1 and (wrong_resize - theirs).abs().mean() > 0.05


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_weights_load_strict_and_predict_a_cat(variant, photos):
    model = load_pretrained(f"efficientnet_lite{variant}", device="cpu")
    assert not model.training and model.record.name == f"efficientnet_lite{variant}"
    top = predict([photos["chelsea"], photos["coffee"]], model, k=5)
    assert top[0][0]["label"] in {"tabby", "tiger cat", "Egyptian cat"}
    assert top[1][0]["label"] in {"espresso", "cup", "coffee mug"}
    assert abs(sum(g["prob"] for g in top[0]) - 1) < 0.2 and top[0] == sorted(top[0], key=lambda g: -g["prob"])


def test_corrupt_weights_file_is_rejected(tmp_path):
    original = efficientnet_lite_weights_file(0)
    copy = tmp_path/original.name
    shutil.copy(original, copy)
    assert verify_sha256_prefix(copy) == copy
    with open(copy, "r+b") as handle: handle.seek(1000); handle.write(b"\x00\x01\x02")
    with pytest.raises(WeightsError, match="is corrupt"): verify_sha256_prefix(copy)


@pytest.mark.parametrize("name", ["resnet18", "vgg16_bn"])
def test_torchvision_weights_load_from_a_prefilled_torch_home(name, tmp_path, monkeypatch):
    "The real loading path: a state dict under torchvision's file name in $TORCH_HOME/hub/checkpoints."
    record = get_record(name)
    url = torchvision_weights(record.weights.split(":", 1)[1]).url
    reference = build_architecture(record)
    torch.manual_seed(0)
    for parameter in reference.parameters(): torch.nn.init.normal_(parameter, std=0.01)
    checkpoints = tmp_path/"hub"/"checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(reference.state_dict(), checkpoints/Path(url).name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRANSFER_COURSE_OFFLINE", "1")
    monkeypatch.delenv("TRANSFER_COURSE_MODELS", raising=False)
    model = load_pretrained(name, device="cpu")
    for (key, ours), theirs in zip(model.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(ours, theirs, msg=key)


def test_offline_cache_miss_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRANSFER_COURSE_OFFLINE", "1")
    monkeypatch.delenv("TRANSFER_COURSE_MODELS", raising=False)
    with pytest.raises(WeightsError) as error: load_pretrained("resnet50", device="cpu")
    message = str(error.value)
    assert "resnet50-11ad3fa6.pth" in message and str(tmp_path/"hub"/"checkpoints") in message and "offline" in message


def test_unknown_model_name():
    with pytest.raises(KeyError, match="Known models"): load_pretrained("resnet19")


def hymenoptera_val():
    root = find_dataset("hymenoptera")/"val"
    paths = sorted(root.rglob("*.jpg"))
    return paths, ["ant" if path.parent.name == "ants" else "bee" for path in paths]


def test_imagenet_accuracy_on_real_labelled_photos(lite0):
    "Ants and bees are ImageNet classes: top-1 with the correct preprocessing is ~85% on hymenoptera/val."
    paths, truth = hymenoptera_val()
    predictions = predict(paths, lite0, k=5, batch_size=32)
    top1 = sum(p[0]["label"] == t for p, t in zip(predictions, truth))/len(paths)
    top5 = sum(t in [g["label"] for g in p] for p, t in zip(predictions, truth))/len(paths)
    print(f"hymenoptera/val ({len(paths)} photos): top-1 {top1:.1%}, top-5 {top5:.1%}")
    assert top1 >= 0.80 and top5 >= 0.90


def test_a_preprocessing_mistake_fails_the_accuracy_bar(lite0):
    "BGR input: the same check must fail, so the bar above means something."
    from dataclasses import replace
    paths, truth = hymenoptera_val()
    paths, truth = paths[::3], truth[::3]
    wrong_record = replace(lite0.record, channel_order="BGR")  # the record's channel order, deliberately wrong
    predicted = predict(paths, lite0, k=1, record=wrong_record)
    top1 = sum(p[0]["label"] == t for p, t in zip(predicted, truth))/len(paths)
    print(f"BGR top-1 {top1:.1%}")
    assert top1 < 0.80


def test_predict_reports_unreadable_images_in_order(tmp_path, photos, lite0):
    "errors='report': one entry per image, in input order; good images are still predicted (the CLI's contract)."
    fake, cut = tmp_path/"fake.jpg", tmp_path/"cut.jpg"
    fake.write_text("<html><body>404 not found</body></html>")
    cut.write_bytes(photos["rocket"].read_bytes()[:4000])
    images = [photos["coffee"], fake, tmp_path/"missing.jpg", cut, tmp_path, photos["chelsea"].read_bytes()]
    report = predict(images, lite0, k=2, batch_size=2, errors="report")
    assert [entry["path"] for entry in report] == [str(photos["coffee"]), str(fake), str(tmp_path/"missing.jpg"), str(cut),
                                                   str(tmp_path), "<bytes>"]
    assert report[0]["top"][0]["label"] == "espresso" and len(report[0]["top"]) == 2
    assert "not an image" in report[1]["error"] and "file not found" in report[2]["error"]
    assert "truncated" in report[3]["error"] and "folder" in report[4]["error"]
    assert report[5]["top"][0]["label"] in {"tabby", "tiger cat", "Egyptian cat"}
    with pytest.raises(FileNotFoundError): predict([photos["coffee"], tmp_path/"missing.jpg"], lite0)
    assert predict([fake], lite0, errors="report") == [{"path": str(fake), "error": report[1]["error"]}]
    with pytest.raises(ValueError, match="must be \"raise\" or \"report\""): predict([photos["coffee"]], lite0, errors="ignore")


def test_predict_uses_a_models_own_class_names(photos, lite0):
    "A fine-tuned model's class names (model.class_names) replace the ImageNet labels."
    import copy
    relabelled = copy.deepcopy(lite0)
    relabelled.class_names = [f"class{i}" for i in range(1000)]
    assert predict([photos["coffee"]], relabelled, k=1)[0][0]["label"] == "class967"


def test_prediction_explorer_with_real_and_bad_bytes(photos, lite0):
    "The widget's upload path on real photo bytes, then bad bytes: a message, no exception, and a good photo clears it."
    explorer = PredictionExplorer(lite0, k=3)
    top = explorer.show_bytes(photos["coffee"].read_bytes(), "coffee.png")
    assert top[0]["label"] == "espresso" and len(top) == 3 and explorer.message.value == ""
    assert explorer.show_bytes(b"\x89PNG\r\n not really", "broken.png") is None
    assert "Could not read broken.png as an image" in explorer.message.value
    assert explorer.last_predictions == top  # the failed upload did not replace the last good prediction
    explorer._on_upload([{"name": "cat.jpg", "content": memoryview(photos["chelsea"].read_bytes())}])
    assert explorer.message.value == "" and explorer.last_predictions[0]["label"] in {"tabby", "tiger cat", "Egyptian cat"}
    explorer.picker.value = "rocket"  # the dropdown is wired to show_sample
    assert explorer.last_predictions[0]["label"] in {"missile", "projectile", "space shuttle"}
