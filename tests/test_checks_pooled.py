"""checks.all_of (pooled cases), param_groups with parameter names, and equals' sorted first difference (issue 14)."""
import torch
from torch import nn

from transfer_course import checks
from transfer_course.checks import Check
from transfer_course.exercises import Test


def test_all_of_passes_only_when_every_case_passes():
    pooled = checks.all_of([checks.number_close(1.0), checks.equals("b")], labels=["one", "bee"])
    assert pooled([1.0, "b"]).passed
    wrong = pooled([1.0, "c"])
    assert wrong.status == "failed" and wrong.message.startswith("1 of 2 cases fails: [bee] Not quite")
    assert not pooled([1.0]).passed and not pooled("b").passed  # one answer per case, as a list


def test_all_of_survives_the_bundle_round_trip():
    test = Test("x", checks.all_of([checks.tensor_close(torch.ones(2), what="your tensor")]))
    again = Test.from_json(test.to_json()).check
    assert again([torch.ones(2)]).passed and "different values" in again([torch.zeros(2)]).message
    assert Check("all_of", again.params)([torch.ones(2)]).passed


def _summary_and_names():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    optimizer = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 1e-4}, {"params": model[1].parameters(), "lr": 1e-3}])
    return checks.param_groups_summary(optimizer, model), [n for n, _ in model.named_parameters()]


def test_param_groups_names_a_parameter_left_out_or_doubled():
    summary, names = _summary_and_names()
    judge = checks.param_groups([1e-4, 1e-3], names=names)
    assert judge(summary).passed
    left_out = [summary[0], {**summary[1], "names": ["1.weight"]}]
    assert judge(left_out).message.startswith("1 trainable parameter(s) are in no parameter group, e.g. 1.bias")
    doubled = [{**summary[0], "names": summary[0]["names"] + ["1.bias"]}, summary[1]]
    assert judge(doubled).message.startswith("1.bias is in groups 0 and 1")
    assert checks.param_groups([1e-4, 1e-3])(left_out).passed  # without names, coverage is not judged (as before)


def test_equals_reports_the_first_differing_key_in_sorted_order():
    assert checks.equals({"b": 1, "a": 2})({"b": 2, "a": 3}).message == "Not quite: answer['a'] is 3."
    assert checks.equals({"2. z": 1, "1. y": 1})({"2. z": 0, "1. y": 0}).message == "Not quite: answer['1. y'] is 0."
