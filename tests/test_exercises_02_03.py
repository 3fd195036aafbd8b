"Mutation tests for the exercises of lesson 2 (lesson 3's wrong answers are in tests/mutations/03_augment.py): the solutions pass, known-wrong answers fail with the intended message."
import pytest

from conftest import ROOT, exercise_namespace, verdict


@pytest.fixture(scope="module")
def scrape_ns():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"02_scrape.ipynb")


@pytest.mark.parametrize("name", ["parse_url_list", "near_duplicate_pairs", "leaking_files"])
def test_scrape_solutions_pass(scrape_ns, name):
    statuses, messages = verdict(scrape_ns, name)
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
