"""Mutation tests for the exercises of lesson 4: the solutions pass, known-wrong answers fail with the intended message.
(Lesson 5's wrong answers are in tests/mutations/05_unfreeze.py, run by tests/test_exercise_release.py.)"""
import pytest
import torch
from torch import nn

from conftest import ROOT, exercise_namespace, verdict


@pytest.fixture(scope="module")
def head_ns():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"04_head.ipynb")



def test_solutions_pass(head_ns):
    for namespace, names in ((head_ns, ["freeze_body", "count_trainable", "predict_valid"]),):
        for name in names:
            statuses, messages = verdict(namespace, name)
            assert set(statuses) == {"passed"}, (name, messages)


def freeze_keeps_bn(model):
    "fastai's train_bn=True: BatchNorm parameters of the body keep training (caching would be wrong)."
    for module in model.body.modules():
        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
        for parameter in module.parameters(recurse=False): parameter.requires_grad_(is_bn)


def freeze_everything(model):
    for parameter in model.parameters(): parameter.requires_grad_(False)


def freeze_only_convs(model):
    for module in model.body.modules():
        if isinstance(module, nn.Conv2d): module.weight.requires_grad_(False)


@pytest.mark.parametrize("wrong", [freeze_keeps_bn, freeze_everything, freeze_only_convs, lambda model: None,
                                   lambda model: model.body.eval()])
def test_wrong_freezes_fail(head_ns, wrong):
    statuses, messages = verdict(head_ns, "freeze_body", freeze_body=wrong)
    assert "failed" in statuses and "passed" not in statuses[:1], messages


def test_freeze_that_forgets_a_previously_frozen_head_fails_only_the_hidden_test(head_ns):
    def body_only(model):
        for parameter in model.body.parameters(): parameter.requires_grad_(False)
    statuses, messages = verdict(head_ns, "freeze_body", freeze_body=body_only)
    assert statuses == ["passed", "failed"], messages


@pytest.mark.parametrize("wrong", [
    lambda model: sum(p.numel() for p in model.parameters()),                     # counts frozen numbers too
    lambda model: sum(1 for p in model.parameters() if p.requires_grad),          # counts tensors, not numbers
    lambda model: sum(p.numel() for p in model.parameters() if not p.requires_grad),
])
def test_wrong_counts_fail(head_ns, wrong):
    statuses, messages = verdict(head_ns, "count_trainable", count_trainable=wrong)
    assert set(statuses) == {"failed"}, messages


def test_untrained_or_constant_predictions_fail_the_baseline(head_ns):
    def untrained(train_features, train_labels, valid_features):
        torch.manual_seed(0)
        return nn.Linear(train_features.shape[1], 5)(valid_features).argmax(dim=1)
    def majority(train_features, train_labels, valid_features):
        return torch.full((len(valid_features),), int(train_labels.mode().values))
    for wrong in (untrained, majority):
        statuses, messages = verdict(head_ns, "predict_valid", predict_valid=wrong)
        assert set(statuses) == {"failed"} and "no better than the baseline" in messages, messages
