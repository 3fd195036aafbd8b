"""Lesson 2's exercise data and judges, in-process and fast (the wrong answers, run in real kernels against the grader
bundle, are in tests/mutations/02_scrape.py): the sample downloads are what they claim to be by the library's own verdict,
the sample hashes hold the chains and cross-class copies the split exercise needs, and the judges pass right answers
and fail wrong ones with their advice."""
import hashlib, random

import pytest

from transfer_course.scrape import ImageRejected, hamming, near_duplicate_groups, verify_image
from transfer_course.testing.web import (download_verdicts, exact_duplicate_map, sample_downloads, sample_hashes,
    split_without_leaks)

VERDICT_OF = {"truncated": "truncated", "html": "html", "garbage": "not-an-image", "thumbnail": "too-small"}


def library_verdict(data: bytes, min_size: int) -> str:
    try: verify_image(data, min_size); return "ok"
    except ImageRejected as rejected: return rejected.reason


@pytest.mark.parametrize("seed, min_size", [(0, 64), (1, 96), (2, 128)])
def test_sample_downloads_are_what_they_say(seed, min_size):
    downloads, kinds = sample_downloads(seed, min_size=min_size)
    assert {u: library_verdict(d, min_size) for u, d in downloads.items()} == {u: VERDICT_OF.get(k, "ok") for u, k in kinds.items()}
    order, first = list(downloads), {}
    for url, data in downloads.items():
        first.setdefault(hashlib.sha256(data).digest(), url)
        if kinds[url] == "exact-copy": assert order.index(first[hashlib.sha256(data).digest()]) < order.index(url)
        if kinds[url] in ("near-copy", "namesake"): assert first[hashlib.sha256(data).digest()] == url  # new bytes
    bmps = [len(d) for u, d in downloads.items() if kinds[u] == "bmp"]
    assert len(set(bmps)) == 1 and len(bmps) == 2, "same-sized BMPs have the same length in bytes"


def test_sample_hashes_hold_chains_and_cross_class_copies():
    hashes, labels = sample_hashes(5, cross=3)
    groups = near_duplicate_groups(hashes, 8)
    members = {}
    for i, g in enumerate(groups): members.setdefault(g, []).append(i)
    chains = [m for m in members.values() if max(hamming(hashes[a], hashes[b]) for a in m for b in m) > 8]
    mixed = [m for m in members.values() if len({labels[i] for i in m}) > 1]
    assert chains and mixed
    exact = [(a, b) for m in members.values() for a in m for b in m if a < b and hamming(hashes[a], hashes[b]) == 8]
    assert exact, "copies exactly at the threshold"


def test_judges_pass_right_answers_and_explain_wrong_ones():
    downloads, kinds = sample_downloads(3)
    right = {u: VERDICT_OF.get(k, "ok") for u, k in kinds.items()}
    judge = download_verdicts(right, kinds)
    assert judge(right).passed
    header_only = {u: "ok" if v == "truncated" else v for u, v in right.items()}
    assert not judge(header_only).passed and "reads only the header" in judge(header_only).message
    assert "a dict" in judge(list(right)).message
    first, copies = {}, {}
    for url, data in downloads.items():
        key = hashlib.sha256(data).digest()
        if key in first: copies[url] = first[key]
        first.setdefault(key, url)
    judge = exact_duplicate_map(copies, kinds)
    assert judge(copies).passed and "compare the content" in judge({}).message
    hashes, labels = sample_hashes(0)
    judge = split_without_leaks(hashes, labels, 0.25)
    groups, rng = near_duplicate_groups(hashes, 8), random.Random(0)
    owner = {}
    for i, g in enumerate(groups): owner.setdefault(g, labels[i])
    sides = {}
    for label in sorted(set(labels)):
        mine = sorted(g for g in owner if owner[g] == label); rng.shuffle(mine)
        target, filled = round(0.25*labels.count(label)), 0
        for g in mine:
            sides[g] = "valid" if filled < target else "train"
            filled += groups.count(g) if sides[g] == "valid" else 0
    split = [sides[g] for g in groups]
    assert judge([split, split]).passed, judge([split, split]).message
    per_image = [rng.choice(["train", "valid"]) for _ in hashes]
    assert "straddle the split" in judge([per_image, per_image]).message
    assert "seed your random generator" in judge([split, per_image]).message
