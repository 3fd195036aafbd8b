"""Mutation tests: for every check, the right answer passes and each known-wrong answer fails with the message meant for it."""
import json

import pytest, torch
from torch import nn

from transfer_course import checks
from transfer_course.exercises import Exercise, decode_answer, encode_answer, probe_json, read_probe


def frozen_model(freeze_body=True, body_eval=True):
    torch.manual_seed(0)
    model = nn.ModuleDict({"body": nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                           "classifier": nn.Linear(4, 5)})
    model["body"].requires_grad_(not freeze_body)
    model.train()
    if body_eval: model["body"].eval()
    return model


IMAGE = torch.rand(3, 8, 8) * 2 - 1
MEAN = STD = (0.5, 0.5, 0.5)
PIXELS = torch.rand(4, 3, 8, 8) * torch.tensor([0.7, 0.5, 0.2]).view(1, 3, 1, 1)
NORMALISED = (PIXELS - 0.5) / 0.5


def bn_step(model):
    before = checks.batchnorm_summary(model)
    model["body"](torch.randn(4, 3, 8, 8))
    return {"before": before, "after": checks.batchnorm_summary(model)}


def groups(lrs):
    model = frozen_model(freeze_body=False)
    params = [model["body"].parameters(), model["classifier"].parameters()]
    optimizer = torch.optim.SGD([{"params": p, "lr": lr} for p, lr in zip(params, lrs)] if len(lrs) == 2 else model.parameters(), lr=lrs[0])
    return checks.param_groups_summary(optimizer, model)


CASES = [  # (check, right answer, {known-wrong answer name: (answer, phrase in its message)})
    (checks.tensor_close(IMAGE, mean=MEAN, std=STD), IMAGE, {
        "channels last": (IMAGE.permute(1, 2, 0), "permute(2, 0, 1)"), "0-255": (IMAGE * 255, "255 times"), "BGR": (IMAGE.flip(0), "BGR"),
        "unnormalised": (IMAGE * 0.5 + 0.5, "not normalised"), "reshape": (IMAGE.reshape(8, 8, 3).permute(2, 0, 1), "wrong places"),
        "uint8": ((IMAGE * 100).to(torch.uint8), "floating-point"), "batch dim": (IMAGE[None], "extra leading batch"), "None": (None, "forget to `return`")}),
    (checks.equals(["tabby", "tiger cat"]), ["tabby", "tiger cat"], {"order": (["tiger cat", "tabby"], "answer[0] is 'tiger cat'"),
                                                                      "off by one": (["tabby"], "1 items, expected 2")}),
    (checks.number_close(0.25), 0.25, {"off": (0.5, "off by 0.25"), "nan": (float("nan"), "NaN"), "string": ("0.25", "Expected a number")}),
    (checks.choice("B", {"A": "A is wrong because"}, ["A", "B"]), "B", {"explained": ("A", "A is wrong because"), "not an option": ("Z", "not one of the options")}),
    (checks.valid_choice(["A", "B"]), "A", {"not an option": ("Z", "not one of the options"), "not a string": (1, "as a string")}),
    (checks.all_of([checks.number_close(1.0), checks.equals("b")], labels=["one", "bee"]), [1.0, "b"],
     {"one case wrong": ([1.0, "c"], "1 of 2 cases fails: [bee]"), "not one answer per case": ([1.0], "one answer per case")}),
    (checks.trainable(["classifier"]), checks.trainable_summary(frozen_model()), {
        "forgot to freeze": (checks.trainable_summary(frozen_model(freeze_body=False)), "still require gradients"),
        "froze everything": (checks.trainable_summary(frozen_model().requires_grad_(False)), "head are frozen")}),
    (checks.batchnorm_mode(False, prefixes=["body"]), checks.batchnorm_summary(frozen_model()), {
        "BN left training": (checks.batchnorm_summary(frozen_model(body_eval=False)), "Call `.eval()` on the frozen part")}),
    (checks.running_stats(False), bn_step(frozen_model()), {"stats moved": (bn_step(frozen_model(body_eval=False)), "does not freeze BatchNorm")}),
    (checks.normalised(checks.channel_stats(NORMALISED), MEAN, STD), checks.channel_stats(NORMALISED), {
        "not normalised": (checks.channel_stats(PIXELS), "your batch mean is ≈".capitalize()), "0-255": (checks.channel_stats((PIXELS * 255 - .5) / .5), "not scaled to [0, 1]"),
        "BGR": (checks.channel_stats(NORMALISED.flip(1)), "BGR"), "wrong stats": (checks.channel_stats((PIXELS - 0.45) / 0.22), "This model expects inputs normalised")}),
    (checks.param_groups([1e-4, 1e-3], [["body"], ["classifier"]]), groups([1e-4, 1e-3]), {
        "one group": (groups([1e-3]), "1 parameter group(s)"), "swapped lrs": (groups([1e-3, 1e-4]), "Group 0 has learning rate 0.001")}),
    (checks.no_leakage(), {"train": ["a", "b"], "valid": ["c"]}, {"leak": ({"train": ["a", "b"], "valid": ["b"]}, "both train and valid"),
                                                                 "empty valid": ({"train": ["a"], "valid": []}, "needs at least 1")}),
    (checks.loss_decreases(), [2.0, 1.8, 1.7, 1.0, 0.9, 0.8], {"rising": ([1.0] * 3 + [2.0] * 3, "rose"), "nan": ([1.0, float("nan")] + [1.0] * 4, "learning rate is probably too high"),
                                                               "flat": ([1.0] * 6, "only fell")}),
    (checks.accuracy_above(0.2), 0.85, {"baseline": (0.2, "no better than the baseline"), "percent": (85, "not between 0 and 1")}),
]


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=[c[0].name for c in CASES])
def test_check_mutations(check, right, wrongs):
    assert check(right).status == "passed", check(right)
    for name, (answer, phrase) in wrongs.items():
        result = check(answer)
        assert result.status == "failed", (name, result)
        assert phrase in result.message, (name, result.message)


def test_every_registered_check_has_mutation_tests():
    assert {c[0].name for c in CASES} == {name for name, module in checks.JUDGE_MODULES.items() if module == "transfer_course.checks"}


def test_dtype_aware_tolerances():
    reference = torch.rand(16)
    assert checks.tensor_close(reference)(reference.half()).passed  # float16 answers get float16 tolerances
    assert not checks.tensor_close(reference.double())(reference.double() + 1e-5).passed
    assert not checks.tensor_close(torch.arange(3))(torch.arange(3) + 1).passed  # integers are exact


def test_checks_never_raise():
    for name in checks.JUDGES:
        if checks.JUDGE_MODULES.get(name) != "transfer_course.checks": continue
        for answer in (None, "text", object(), {"a": object()}, [float("nan")], torch.zeros(0)):
            assert checks.Check(name, {})(answer).status in ("failed", "error")


class AlwaysEqual:
    def __eq__(self, other): return True


def test_cheating_objects_never_reach_a_check():
    outcome = read_probe(probe_json({"answer": AlwaysEqual()}, "", "answer"))
    assert outcome.status == "unreadable" and "AlwaysEqual" in outcome.detail
    with pytest.raises(TypeError): encode_answer(torch.zeros(2).numpy().astype(object))
    assert decode_answer(json.loads(json.dumps(encode_answer(torch.ones(2, dtype=torch.bfloat16))))).dtype == torch.bfloat16


def test_exercise_check_hint_solution_never_raise():
    exercise = Exercise("t_never_raise", points=1, answer="f", hints=["one"])
    exercise.add_test("f(1)", checks.equals(2))
    assert exercise.check({}).status == "not_attempted"
    def f(x): raise NotImplementedError
    assert exercise.check({"f": f}).status == "not_attempted"
    assert exercise.check({"f": lambda x: 1 / 0}).status == "failed"
    assert "ZeroDivisionError" in str(exercise.check({"f": lambda x: 1 / 0}))
    assert exercise.check({"f": lambda x: x + 1}).status == "passed"
    assert exercise.hint() == "**Hint 1 of 1:** one" and exercise.hint()._repr_markdown_() == "**Hint 1 of 1:** one"
    assert "not in this notebook" in exercise.solution()
