"Mutation tests for the exercises of lessons 4 and 5: the solutions pass, known-wrong answers fail with the intended message."
import pytest
import torch
from torch import nn

from conftest import ROOT, exercise_namespace, verdict
from transfer_course.train import layer_groups


@pytest.fixture(scope="module")
def head_ns():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"04_head.ipynb")


@pytest.fixture(scope="module")
def unfreeze_ns():
    return exercise_namespace(ROOT/"nbs"/"exercises"/"05_unfreeze.ipynb")


def test_solutions_pass(head_ns, unfreeze_ns):
    for namespace, names in ((head_ns, ["freeze_body", "count_trainable", "predict_valid"]),
                             (unfreeze_ns, ["spread", "make_optimizer", "unfreeze_last_group"])):
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


@pytest.mark.parametrize("wrong", [
    lambda low, high, n: [low + (high - low)*i/(n - 1) for i in range(n)],       # linear, not geometric
    lambda low, high, n: [high*(low/high)**(i/(n - 1)) for i in range(n)],        # reversed: head gets the lowest
    lambda low, high, n: [high/10]*(n - 1) + [high],                              # slice(high) semantics
])
def test_wrong_spreads_fail(unfreeze_ns, wrong):
    statuses, messages = verdict(unfreeze_ns, "spread", spread=wrong)
    assert set(statuses) == {"failed"}, messages


def one_group(model, low, high):
    return torch.optim.AdamW(model.parameters(), lr=high)


def reversed_rates(model, low, high):
    groups = layer_groups(model)
    rates = [low, (low*high)**0.5, high][::-1]
    return torch.optim.AdamW([{"params": [p for _, p in g], "lr": r} for g, r in zip(groups, rates)])


def body_and_head_only(model, low, high):
    return torch.optim.AdamW([{"params": list(model.body.parameters()), "lr": low}, {"params": list(model.head.parameters()), "lr": high}])


@pytest.mark.parametrize("wrong", [one_group, reversed_rates, body_and_head_only])
def test_wrong_optimizers_fail(unfreeze_ns, wrong):
    statuses, messages = verdict(unfreeze_ns, "make_optimizer", make_optimizer=wrong)
    assert set(statuses) == {"failed"}, messages


@pytest.mark.parametrize("wrong", [
    lambda model: [p.requires_grad_(True) for _, p in layer_groups(model)[0]],   # the early group instead
    lambda model: model.requires_grad_(True),                                     # everything
    lambda model: None,
])
def test_wrong_unfreezing_fails(unfreeze_ns, wrong):
    statuses, messages = verdict(unfreeze_ns, "unfreeze_last_group", unfreeze_last_group=wrong)
    assert set(statuses) == {"failed"}, messages
