"Image data: one lister, load_image on bytes (the bug that hid), splits with a held-out test set, decoding once."
import shutil

import pytest
import torch
from PIL import UnidentifiedImageError

from transfer_course.core import find_dataset
from transfer_course.data import (DataError, ImageData, ImageSplit, decode_images, image_files, image_name, load_image,
                                  prefetch_batches, read_error_message, split_image_folders)
from torchvision.transforms import v2

from transfer_course.records import get_record, input_transform


def plain_transforms(record) -> dict:
    "Deterministic transforms for both splits (lesson 3's come from `augment.image_data`)."
    centre = v2.Compose([v2.CenterCrop(record.input_size), input_transform(record)])
    return {"train_transform": centre, "valid_transform": centre}


def touch(root, *names, content=b""):
    for name in names:
        (root/name).parent.mkdir(parents=True, exist_ok=True)
        (root/name).write_bytes(content)


def test_image_files_keeps_explicit_files_searches_folders_skips_hidden(tmp_path):
    touch(tmp_path, "z.jpg", "b/deep/cat.PNG", "a.jpeg", ".hidden.jpg", ".cache/x.jpg", "b/.git/y.png", "notes.txt", "b/c.webp")
    found = image_files(tmp_path/"notes.txt", tmp_path/"missing.jpg", tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == \
        ["notes.txt", "missing.jpg", "a.jpeg", "b/c.webp", "b/deep/cat.PNG", "z.jpg"]
    assert [p.name for p in image_files(tmp_path, recursive=False)] == ["a.jpeg", "z.jpg"]
    assert image_files() == []


def test_load_image_from_real_bytes_equals_from_path(photos):
    for name in ["rocket", "coffee", "grace_hopper"]:
        data = photos[name].read_bytes()
        from_path, from_bytes = load_image(photos[name]), load_image(data)
        assert from_bytes.mode == "RGB" and from_bytes.tobytes() == from_path.tobytes()
        assert load_image(bytearray(data)).tobytes() == from_path.tobytes()
    drafted = load_image(photos["rocket"].read_bytes(), draft_size=100)
    assert min(drafted.size) >= 100 and drafted.size < load_image(photos["rocket"]).size


def test_load_image_bad_bytes_are_a_clear_error(photos):
    with pytest.raises(UnidentifiedImageError, match="not an image file.*27 bytes"): load_image(b"<html>404 not found</html>\n")
    with pytest.raises(OSError, match="truncated"): load_image(photos["rocket"].read_bytes()[:4000])


def test_pretrained_entries_accept_bytes(photos, lite0):
    "Every public entry that takes an image accepts file bytes (the NameError of the old package)."
    from transfer_course.pretrained import load_image as lesson_load_image, predict, preprocess
    data = photos["coffee"].read_bytes()
    assert lesson_load_image(data).size == load_image(photos["coffee"]).size
    torch.testing.assert_close(preprocess(data, lite0.record), preprocess(photos["coffee"], lite0.record))
    assert predict([data], lite0, k=1)[0][0]["label"] == "espresso"


@pytest.fixture(scope="module")
def clothing():
    return find_dataset("clothing_small_5cls")


def files(items): return {path for path, _ in items}


def test_held_out_test_split_never_overlaps_and_leaves_validation_alone(clothing):
    plain = split_image_folders(clothing, seed=42)
    split = split_image_folders(clothing, seed=42, test_pct=0.1)
    assert split.valid == plain.valid and plain.test == []
    assert not files(split.train) & files(split.test) and not files(split.valid) & files(split.test)
    assert files(split.train) | files(split.test) == files(plain.train)
    per_class = {c: sum(1 for _, label in split.test if label == i) for i, c in enumerate(split.classes)}
    totals = {c: sum(1 for _, label in plain.train if label == i) for i, c in enumerate(plain.classes)}
    assert all(per_class[c] == max(1, round(0.1*totals[c])) for c in split.classes), (per_class, totals)


def test_splits_are_deterministic_per_seed(clothing):
    first = split_image_folders(clothing, seed=1, test_pct=0.2, max_per_class=10)
    assert split_image_folders(clothing, seed=1, test_pct=0.2, max_per_class=10) == first
    other = split_image_folders(clothing, seed=2, test_pct=0.2, max_per_class=10)
    assert files(other.test) != files(first.test)


def test_flat_folders_hold_out_valid_and_test(tmp_path, photos):
    for index in range(10):
        for name in ("cats", "dogs"): shutil.copy(photos["chelsea"], tmp_path/f"{name}_{index}.png")
    for name in ("cats", "dogs"):
        (tmp_path/name).mkdir()
        for path in tmp_path.glob(f"{name}_*.png"): path.rename(tmp_path/name/path.name)
    split = split_image_folders(tmp_path, valid_pct=0.2, test_pct=0.25, seed=0)
    assert (len(split.train), len(split.valid), len(split.test)) == (12, 4, 4)
    assert len(files(split.train) | files(split.valid) | files(split.test)) == 20


def test_a_test_folder(tmp_path):
    touch(tmp_path, "train/a/1.jpg", "train/a/2.jpg", "train/b/3.jpg", "valid/a/4.jpg", "valid/b/5.jpg", "test/b/6.jpg")
    split = split_image_folders(tmp_path, test_dir=tmp_path/"test")
    assert [(path.name, label) for path, label in split.test] == [("6.jpg", 1)]
    touch(tmp_path, "test/c/7.jpg")
    with pytest.raises(DataError, match="Test classes not in the training folder.*c"): split_image_folders(tmp_path, test_dir=tmp_path/"test")
    with pytest.raises(DataError, match="in both the train and the test"): split_image_folders(tmp_path, test_dir=tmp_path/"train")
    with pytest.raises(DataError, match="not both"): split_image_folders(tmp_path, test_dir=tmp_path/"test", test_pct=0.1)


def test_one_class_is_a_clear_error(tmp_path):
    touch(tmp_path, "train/cats/1.jpg", "train/cats/2.jpg", "valid/cats/3.jpg")
    with pytest.raises(DataError, match="only one class folder \\(cats\\): a classifier needs at least two classes"):
        split_image_folders(tmp_path)


def test_other_bad_layouts(tmp_path):
    with pytest.raises(DataError, match="is not a folder"): split_image_folders(tmp_path/"nothing")
    with pytest.raises(DataError, match="no class folders"): split_image_folders(tmp_path)
    touch(tmp_path, "a/1.jpg", "b/2.jpg")
    with pytest.raises(DataError, match="--valid-pct"): split_image_folders(tmp_path)
    with pytest.raises(DataError, match="between 0 and 1"): split_image_folders(tmp_path, valid_pct=0.5, test_pct=1.5)


def test_image_data_decodes_once_skips_bad_files_and_touches_test_on_demand(tmp_path, photos):
    for name, photo in [("cats", "chelsea"), ("cups", "coffee")]:
        for index in range(3): shutil.copy(photos[photo], tmp_path/f"{name}{index}.png")
    (tmp_path/"broken.jpg").write_bytes(photos["rocket"].read_bytes()[:4000])
    items = lambda *names: [(tmp_path/name, 0 if name.startswith("cat") else 1) for name in names]
    split = ImageSplit(["cats", "cups"], items("cats0.png", "cups0.png", "broken.jpg"), items("cats1.png", "cups1.png"),
                       items("cats2.png", "cups2.png"))
    record = get_record("efficientnet_lite0")
    with pytest.warns(UserWarning, match="broken.jpg"): data = ImageData(split, record, batch_size=4, seed=0, **plain_transforms(record))
    assert len(data.train_plain) == 2 and data._test is None
    images, labels = next(iter(data.test_loader()))
    assert images.shape == (2, 3, 224, 224) and labels.tolist() == [0, 1]
    valid_images, _ = next(iter(data.valid_loader()))
    torch.testing.assert_close(images, valid_images)  # same photos, same (deterministic) preprocessing
    with pytest.raises(TypeError, match="train_transform"): ImageData(split, record)  # transforms are explicit
    no_test = ImageData(ImageSplit(split.classes, split.train[:2], split.valid), record, batch_size=4,
                        **plain_transforms(record))
    with pytest.raises(DataError, match="no test images"): no_test.test_loader()


def test_decode_images_reports_skipped_files(tmp_path, photos):
    (tmp_path/"fake.jpg").write_text("<html></html>")
    images, labels, skipped = decode_images([(photos["coffee"], 3), (tmp_path/"fake.jpg", 4)], 32)
    assert labels == [3] and images[0].dtype == torch.uint8 and min(images[0].shape[1:]) == 32
    assert len(skipped) == 1 and "fake.jpg" in skipped[0]


def test_prefetch_batches_keeps_order_reports_errors_and_prepares_ahead(photos):
    import time
    started = []
    def prepare(item):
        started.append(item)
        if item == "bad": raise ValueError("bad item")
        time.sleep(0.01)
        return item.upper()
    batches = prefetch_batches(["a", "bad", "c", "d", "e"], prepare, batch_size=2)
    first = next(batches)
    time.sleep(0.3)
    assert set(started) >= {"a", "bad", "c", "d"}  # the second batch was started while we held the first
    assert "e" not in started  # ... but not the third: memory stays bounded
    rest = list(batches)
    assert [(item, value) for item, value, _ in first + sum(rest, [])] == \
        [("a", "A"), ("bad", None), ("c", "C"), ("d", "D"), ("e", "E")]
    assert isinstance(first[1][2], ValueError) and first[0][2] is None
    assert list(prefetch_batches([], prepare, 4)) == []


def test_read_error_messages_say_what_is_wrong(tmp_path, photos):
    def message(source):
        try: load_image(source)
        except Exception as error: return read_error_message(source, error)
    assert message(tmp_path/"missing.jpg") == f"file not found: {tmp_path/'missing.jpg'}"
    assert message(tmp_path) == f"is a folder, not an image: {tmp_path}"
    (tmp_path/"page.jpg").write_text("<html></html>")
    assert message(tmp_path/"page.jpg").startswith("not an image file")
    assert "truncated" in message(photos["rocket"].read_bytes()[:4000]) and "<bytes>" in message(b"xyz")
    assert image_name(photos["rocket"]) == str(photos["rocket"]) and image_name(bytearray(b"x")) == "<bytearray>"
