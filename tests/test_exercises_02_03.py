"Mutation tests for the exercises of lessons 2 and 3: the solutions pass, known-wrong answers fail with the intended message."
import math

import pytest
import torch
from torchvision.transforms import v2

from conftest import ROOT, exercise_namespace, verdict


@pytest.fixture(scope="module")
def scrape_ns():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"02_scrape.ipynb")


@pytest.fixture(scope="module")
def augment_ns():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"03_augment.ipynb")


@pytest.mark.parametrize("name", ["parse_url_list", "near_duplicate_pairs", "leaking_files"])
def test_scrape_solutions_pass(scrape_ns, name):
    statuses, messages = verdict(scrape_ns, name)
    assert set(statuses) == {"passed"}, messages


@pytest.mark.parametrize("name", ["make_valid_transform", "denormalise", "presize_side", "validation_transform"])
def test_augment_solutions_pass(augment_ns, name):
    statuses, messages = verdict(augment_ns, name)
    assert set(statuses) == {"passed"}, messages


@pytest.mark.parametrize("wrong, message", [
    (lambda lines: sorted({l.split()[0] for l in lines if l.strip() and not l.strip().startswith("#")}), "order of first appearance"),
    (lambda lines: [l.split()[0] for l in lines if l.strip() and not l.strip().startswith("#")], "Not quite"),  # keeps repeats
    (lambda lines: list(dict.fromkeys(l.strip() for l in lines if l.strip() and not l.startswith("#"))), "Not quite"),  # comments kept
])
def test_url_list_bugs_fail(scrape_ns, wrong, message):
    statuses, messages = verdict(scrape_ns, "parse_url_list", parse_url_list=wrong)
    assert "failed" in statuses and message in messages, messages


def strict_threshold(hashes, threshold=8):
    return [(i, j) for i in range(len(hashes)) for j in range(i + 1, len(hashes)) if bin(hashes[i] ^ hashes[j]).count("1") < threshold]

def counts_equal_bits(hashes, threshold=8):
    return [(i, j) for i in range(len(hashes)) for j in range(i + 1, len(hashes)) if 64 - bin(hashes[i] ^ hashes[j]).count("1") <= threshold]

def pairs_with_self(hashes, threshold=8):
    return [(i, j) for i in range(len(hashes)) for j in range(i, len(hashes)) if bin(hashes[i] ^ hashes[j]).count("1") <= threshold]


@pytest.mark.parametrize("wrong, message", [(strict_threshold, "equal to the threshold"), (counts_equal_bits, "Not quite"), (pairs_with_self, "Not quite")])
def test_pair_bugs_fail(scrape_ns, wrong, message):
    statuses, messages = verdict(scrape_ns, "near_duplicate_pairs", near_duplicate_pairs=wrong)
    assert "failed" in statuses and message in messages, messages


def valid_side_only(table):
    splits = {}
    for _, group, split in table: splits.setdefault(group, set()).add(split)
    return sorted(name for name, group, split in table if len(splits[group]) > 1 and split != "train")

def any_duplicate_group(table):
    sizes = {}
    for _, group, _ in table: sizes[group] = sizes.get(group, 0) + 1
    return sorted(name for name, group, _ in table if sizes[group] > 1)


@pytest.mark.parametrize("wrong", [valid_side_only, any_duplicate_group])
def test_leak_bugs_fail(scrape_ns, wrong):
    statuses, messages = verdict(scrape_ns, "leaking_files", leaking_files=wrong)
    assert statuses[0] == "failed" and "on both sides" in messages, messages


def hard_coded_imagenet(record):
    return v2.Compose([v2.Resize(record.resize_size, interpolation=v2.InterpolationMode(record.interpolation)), v2.CenterCrop(record.input_size),
                       v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

def not_scaled(record):
    return v2.Compose([v2.Resize(record.resize_size, interpolation=v2.InterpolationMode(record.interpolation)), v2.CenterCrop(record.input_size),
                       v2.PILToTensor(), v2.ToDtype(torch.float32), v2.Normalize(list(record.mean), list(record.std))])

def squashed(record):
    return v2.Compose([v2.Resize((record.resize_size, record.resize_size), interpolation=v2.InterpolationMode(record.interpolation)), v2.CenterCrop(record.input_size),
                       v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(record.mean), list(record.std))])

def not_normalised(record):
    return v2.Compose([v2.Resize(record.resize_size, interpolation=v2.InterpolationMode(record.interpolation)), v2.CenterCrop(record.input_size),
                       v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True)])


@pytest.mark.parametrize("wrong, message", [(hard_coded_imagenet, "different values"), (not_scaled, "255 times too large"),
                                            (squashed, "different values"), (not_normalised, "different values")])
def test_valid_transform_bugs_fail(augment_ns, wrong, message):
    statuses, messages = verdict(augment_ns, "make_valid_transform", make_valid_transform=wrong)
    assert "failed" in statuses and message in messages, messages



@pytest.mark.parametrize("wrong", [
    lambda batch, record: (batch * torch.tensor(record.mean).view(1, 3, 1, 1) + torch.tensor(record.std).view(1, 3, 1, 1)).clamp(0, 1),  # swapped
    lambda batch, record: batch * torch.tensor(record.std).view(1, 3, 1, 1) + torch.tensor(record.mean).view(1, 3, 1, 1),  # no clamp
    lambda batch, record: (batch * 0.5 + 0.5).clamp(0, 1),  # hard-coded 0.5
])
def test_denormalise_bugs_fail(augment_ns, wrong):
    statuses, messages = verdict(augment_ns, "denormalise", denormalise=wrong)
    assert "failed" in statuses, messages


@pytest.mark.parametrize("wrong, message", [
    (lambda size, scale: math.ceil(size / scale), "square root"),
    (lambda size, scale: int(size / math.sqrt(scale)), "Round up"),
    (lambda size, scale: math.ceil(size * math.sqrt(scale)), "square root"),
])
def test_presize_bugs_fail(augment_ns, wrong, message):
    statuses, messages = verdict(augment_ns, "presize_side", presize_side=wrong)
    assert "failed" in statuses and message in messages, messages


@pytest.mark.parametrize("answer, message", [("A", "Augment only the training set"), ("C", "raw photos"), ("D", "not one of the options")])
def test_wrong_transform_choice_teaches(augment_ns, answer, message):
    statuses, messages = verdict(augment_ns, "validation_transform", validation_transform=answer)
    assert statuses == ["failed"] and message in messages
