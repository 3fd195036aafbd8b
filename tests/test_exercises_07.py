"Mutation tests for lesson 7's exercises: the solutions pass, the known bugs fail with the intended messages."
import numpy as np
import pytest
import torch

from conftest import ROOT, exercise_namespace, verdict


@pytest.fixture(scope="module")
def namespace():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"07_pitfalls.ipynb")


def test_solutions_pass(namespace):
    for name in ["to_model_input", "freeze_body", "gap_explanation", "catastrophic"]:
        statuses, messages = verdict(namespace, name)
        assert set(statuses) == {"passed"}, (name, messages)


def buggy_to_model_input(array, record):
    tensor = torch.from_numpy(array).reshape(3, array.shape[0], array.shape[1]).float()
    mean, std = torch.tensor(record.mean)[:, None, None], torch.tensor(record.std)[:, None, None]
    return (tensor - mean)/std


def half_fixed_no_scaling(array, record):
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float()
    return (tensor - torch.tensor(record.mean)[:, None, None])/torch.tensor(record.std)[:, None, None]


def half_fixed_reshape_only(array, record):
    tensor = torch.from_numpy(array).reshape(3, array.shape[0], array.shape[1]).float()/255
    return (tensor - torch.tensor(record.mean)[:, None, None])/torch.tensor(record.std)[:, None, None]


@pytest.mark.parametrize("wrong, message", [
    (buggy_to_model_input, "different values"),
    (half_fixed_no_scaling, "different values"),
    (half_fixed_reshape_only, "different values"),
    (lambda array, record: torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1), "floating-point"),
])
def test_preprocessing_bugs_fail(namespace, wrong, message):
    statuses, messages = verdict(namespace, "to_model_input", to_model_input=wrong)
    assert set(statuses) == {"failed"} and message in messages, messages


def only_requires_grad(model):
    for parameter in model.body.parameters(): parameter.requires_grad_(False)


def eval_before_train(model):
    "Freezes then calls model.train() again: the classic order bug."
    only_requires_grad(model)
    for module in model.body.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm): module.eval()
    model.train()


def freezes_everything(model):
    for parameter in model.parameters(): parameter.requires_grad_(False)
    model.eval()


@pytest.mark.parametrize("wrong, expected_statuses, message", [
    (only_requires_grad, ["failed", "passed", "failed"], "`requires_grad=False` does not freeze BatchNorm statistics"),
    (eval_before_train, ["failed", "passed", "failed"], "Call `.eval()` on the frozen part after every `model.train()`"),
    (freezes_everything, ["passed", "failed", "passed"], "the new head must learn"),
])
def test_freezing_bugs_fail(namespace, wrong, expected_statuses, message):
    statuses, messages = verdict(namespace, "freeze_body", freeze_body=wrong)
    assert statuses == expected_statuses and message in messages, (statuses, messages)


@pytest.mark.parametrize("answer, message", [("A", "overfit head"), ("D", "Leakage"), ("E", "not one of the options")])
def test_wrong_explanations_teach(namespace, answer, message):
    statuses, messages = verdict(namespace, "gap_explanation", gap_explanation=answer)
    assert statuses == ["failed"] and message in messages


def test_catastrophic_off_by_threshold(namespace):
    wrong = lambda top1: sorted(name for name, value in top1.items() if value < 50)  # hard-coded 50% instead of half of correct
    statuses, _ = verdict(namespace, "catastrophic", catastrophic=wrong)
    assert statuses == ["passed", "failed"]
    unsorted = lambda top1: [name for name, value in top1.items() if value < top1["correct"]/2][::-1]
    assert verdict(namespace, "catastrophic", catastrophic=unsorted)[0] == ["failed", "failed"]
