"""Augmentation: transforms come from the model record (no hard-coded statistics), the validation transform is the
inference preprocessing bit for bit, and augmentation never reaches the validation set."""
import os, time
from dataclasses import replace

import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from transfer_course.augment import (AugmentConfig, fastai_datablock, image_data, image_loader, mean_fill, presize_folder,
                                     presize_size, train_transform, valid_transform)
from transfer_course.core import find_dataset
from transfer_course.data import load_image, split_image_folders
from transfer_course.pretrained import preprocess
from transfer_course.records import MODELS, denormalize, get_record

RANDOM_STEPS = (v2.RandomResizedCrop, v2.RandomHorizontalFlip, v2.RandomRotation, v2.ColorJitter)


@pytest.fixture(scope="module")
def sample_photos():
    clothing, ants = find_dataset("clothing_small_5cls"), find_dataset("hymenoptera")
    return sorted(clothing.glob("valid/*/*.jpg"))[::25] + sorted(ants.glob("*/*/*.jpg"))[::60] + [ants/"train"/"ants"/"ant photos.jpg"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_valid_transform_is_preprocess_bit_for_bit(name, sample_photos):
    record = get_record(name)
    transform, load = valid_transform(record), image_loader(record)
    for path in sample_photos:
        assert torch.equal(transform(load(path)), preprocess(path, record)), path
        assert torch.equal(transform(load_image(path)), preprocess(path, record, draft=False)), path


def test_transforms_follow_any_record(sample_photos):
    "A made-up record: if anything were hard-coded, this would differ."
    odd = replace(get_record("efficientnet_lite0"), input_size=160, resize_size=190, interpolation="bilinear",
                  mean=(0.1, 0.2, 0.3), std=(0.9, 0.8, 0.7))
    image = load_image(sample_photos[0])
    assert torch.equal(valid_transform(odd)(image), preprocess(image, odd))
    plain = AugmentConfig(min_scale=1.0, max_ratio=1.0, flip=False, rotation=0, brightness=0, contrast=0, saturation=0)
    out = train_transform(odd, plain)(Image.new("RGB", (300, 300), (25, 51, 76)))  # 0.1, 0.2, 0.3 in 0..255
    assert out.shape == (3, 160, 160) and out.abs().max() < 0.01
    assert mean_fill(odd) == (26, 51, 76)


def test_config_switches_steps_off():
    record = get_record("resnet18")
    everything = [type(t) for t in train_transform(record).transforms]
    assert all(step in everything for step in RANDOM_STEPS)
    bare = [type(t) for t in train_transform(record, AugmentConfig(flip=False, rotation=0, brightness=0, contrast=0, saturation=0)).transforms]
    assert v2.RandomResizedCrop in bare and not any(step in bare for step in RANDOM_STEPS[1:])
    crop = train_transform(record).transforms[0]
    assert crop.interpolation == v2.InterpolationMode.BILINEAR and tuple(crop.size) == (224, 224)


def test_validation_set_is_never_augmented():
    record = get_record("efficientnet_lite0")
    data = image_data(split_image_folders(find_dataset("clothing_small_5cls")), record,
                      AugmentConfig(rotation=30, hue=0.2), batch_size=8, seed=0)
    assert not any(isinstance(step, RANDOM_STEPS) for step in data.valid.transform.transforms)
    torch.manual_seed(0); first = [data.valid[i][0] for i in (0, 50, 100)]
    torch.manual_seed(1); second = [data.valid[i][0] for i in (0, 50, 100)]
    for index, a, b in zip((0, 50, 100), first, second):
        assert torch.equal(a, b) and torch.equal(a, preprocess(data.split.valid[index][0], record))
    assert not torch.equal(data.train_augmented[0][0], data.train_augmented[0][0])
    assert any(isinstance(step, RANDOM_STEPS) for step in data.train_augmented.transform.transforms)
    assert data.classes == ["dress", "hat", "pants", "shoes", "t-shirt"]


def test_loaders_shuffle_train_only_and_are_seeded():
    record = get_record("efficientnet_lite0")
    split = split_image_folders(find_dataset("hymenoptera"), max_per_class=12)
    train_a, valid_a = image_data(split, record, batch_size=8, seed=3).train_loader(), None
    data_b = image_data(split, record, batch_size=8, seed=3)
    train_b, valid_a = data_b.train_loader(), data_b.valid_loader()
    assert list(train_a.sampler) == list(train_b.sampler) and list(train_a.sampler) != sorted(train_a.sampler)
    assert list(valid_a.sampler) == list(range(len(valid_a.dataset)))
    assert len(split.valid) == 24  # hymenoptera/val via the val/ fallback, 12 per class


def test_denormalize_inverts_normalisation():
    record = get_record("resnet18")
    pixels = torch.rand(2, 3, 8, 8)
    normalised = v2.Normalize(list(record.mean), list(record.std))(pixels)
    assert torch.allclose(denormalize(normalised, record), pixels, atol=1e-6)
    assert not torch.allclose(denormalize(normalised, get_record("efficientnet_lite0")), pixels, atol=1e-2)


def test_presize_folder_resizes_once_and_atomically(tmp_path):
    source = tmp_path/"src"/"ants"; source.mkdir(parents=True)
    large = max(find_dataset("hymenoptera").glob("*/*/*.jpg"), key=lambda p: Image.open(p).width)
    (source/"big.jpg").write_bytes(large.read_bytes()); Image.new("RGB", (100, 80)).save(source/"small.png")
    counts = presize_folder(tmp_path/"src", tmp_path/"cache", 300)
    assert counts == {"resized": 2, "cached": 0}
    assert min(Image.open(tmp_path/"cache"/"ants"/"big.jpg").size) == 300 and Image.open(tmp_path/"cache"/"ants"/"small.jpg").size == (100, 80)
    assert presize_folder(tmp_path/"src", tmp_path/"cache", 300) == {"resized": 0, "cached": 2}
    time.sleep(0.01); os.utime(source/"big.jpg")  # a newer original is redone
    assert presize_folder(tmp_path/"src", tmp_path/"cache", 300) == {"resized": 1, "cached": 1}
    assert not [p for p in (tmp_path/"cache").rglob("*") if p.name.startswith(".")]


def test_presize_size_never_upsamples_crops():
    record = get_record("efficientnet_lite2")
    for scale in (0.08, 0.35, 1.0):
        side = presize_size(record, AugmentConfig(min_scale=scale))
        assert side >= record.resize_size and side * side * scale >= record.input_size ** 2 - 1


def test_fastai_datablock_uses_the_record_statistics():
    from fastai.data.transforms import Normalize
    record = get_record("resnet18")
    block = fastai_datablock(record)
    normalize = next(t for t in block.batch_tfms if isinstance(t, Normalize))
    assert torch.allclose(normalize.mean.flatten().cpu(), torch.tensor(record.mean)) and torch.allclose(normalize.std.flatten().cpu(), torch.tensor(record.std))
