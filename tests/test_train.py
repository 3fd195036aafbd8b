"Training modules (lessons 4 and 5) against fastai's own functions, on real weights; freezing and BatchNorm policy; determinism."
import math, random

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_course.core import seed_everything
from transfer_course.finetune import fastai_splitter, lr_find, valley
from transfer_course.pretrained import MODELS, build_architecture
from transfer_course.train import (BATCHNORM_TYPES, create_head, create_transfer_model, cut_body, discriminative_lrs, fit,
                                   freeze, freeze_to, group_parameters, layer_groups, linear_head, parameter_groups,
                                   parameter_report, train_mode, trainable_head, unfreeze)


@pytest.fixture(scope="module")
def model():
    return create_transfer_model("efficientnet_lite0", ["a", "b", "c"], size=64, device="cpu")


def test_create_head_matches_fastai_layer_by_layer():
    from fastai.vision.learner import create_head as fastai_create_head
    ours, theirs = list(create_head(1280, 5)), list(fastai_create_head(1280, 5))
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    for mine, reference in zip(ours, theirs):
        assert [tuple(p.shape) for p in mine.parameters()] == [tuple(p.shape) for p in reference.parameters()]
        if isinstance(mine, nn.Dropout): assert mine.p == reference.p


def test_valley_matches_fastai_on_random_curves():
    from fastai.callback.schedule import valley as fastai_valley
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(5, 60)
        lrs = [10**(-7 + 8*i/n) for i in range(n)]
        losses = torch.tensor([rng.random() + 2*math.exp(-i/8) for i in range(n)])
        assert valley(lrs, losses.tolist()) == fastai_valley(lrs, losses, n)[0]


def test_discriminative_lrs_match_fastai_slice_semantics():
    from fastai.torch_core import even_mults
    assert discriminative_lrs(slice(1e-3), 4) == [1e-4, 1e-4, 1e-4, 1e-3]
    assert discriminative_lrs(slice(1e-6, 1e-2), 5) == pytest.approx(list(even_mults(1e-6, 1e-2, 5)))
    with pytest.raises(ValueError, match="2 learning rates for 3"): discriminative_lrs([1e-3, 1e-2], 3)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_record_splits_every_body_parameter_into_ordered_groups(name):
    record = MODELS[name]
    body = cut_body(build_architecture(record), record)
    groups = group_parameters(body.named_parameters(), record.layer_groups[:-1])
    assert all(groups) and sum(map(len, groups)) == len(list(body.parameters()))
    order = [name for name, _ in body.named_parameters()]
    flattened = [name for group in groups for name, _ in group]
    assert flattened == order  # groups are contiguous, early to late


def test_fastai_splitter_gives_the_same_groups_as_ours(model):
    from fastai.vision.learner import create_head as fastai_create_head
    ours = layer_groups(model)
    for body in (nn.Sequential(*model.body.children()), model.body):  # numbered children, as fastai's cut makes; or named
        theirs = fastai_splitter(model.record)(nn.Sequential(body, fastai_create_head(1280, 3)))
        assert [[id(p) for p in group] for group in theirs[:-1]] == [[id(p) for _, p in group] for group in ours[:-1]]
        assert len(theirs) == 3 and all(theirs)


def test_freeze_and_train_mode_bn_policy(model):
    counts = freeze(model, train_bn=False)
    assert counts["trainable"] == sum(p.numel() for p in model.head.parameters())
    frozen_bns = train_mode(model)
    body_bns = [m for m in model.body.modules() if isinstance(m, BATCHNORM_TYPES)]
    assert len(frozen_bns) == len(body_bns) and not any(m.training for m in body_bns)
    assert model.head.bn1.training  # the head's BatchNorm learns
    freeze(model, train_bn=True)
    assert train_mode(model) == [] and all(m.training for m in body_bns)
    freeze_to(model, 1)
    groups = layer_groups(model)
    assert not any(p.requires_grad for _, p in groups[0]) and all(p.requires_grad for _, p in groups[1])
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())
    model.eval(); freeze(model)


def test_a_frozen_body_and_its_statistics_do_not_move_in_fit(model):
    "The mutation this guards against: requires_grad=False alone still lets BatchNorm running statistics drift."
    seed_everything(0)
    freeze(model, train_bn=False)
    body_before = {k: v.clone() for k, v in model.body.state_dict().items()}
    images, labels = torch.randn(8, 3, 64, 64), torch.randint(0, 3, (8,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=4)
    fit(model, loader, loader, epochs=1, lr=1e-2, progress=False)
    for key, value in model.body.state_dict().items(): assert torch.equal(value, body_before[key]), key
    assert not model.training  # modes restored (the model came in eval mode)


def test_fit_is_deterministic_with_a_seed_and_early_stopping_restores_the_best():
    def run():
        seed_everything(3)
        head = linear_head(16, 3)[2:]
        features = TensorDataset(torch.randn(64, 16), torch.randint(0, 3, (64,)))
        valid = TensorDataset(torch.randn(32, 16), torch.randint(0, 3, (32,)))
        history = fit(head, DataLoader(features, 16, shuffle=True, generator=torch.Generator().manual_seed(3)),
                      DataLoader(valid, 16), epochs=12, lr=0.3, patience=2, progress=False)
        return head, history
    (first, history), (second, _) = run(), run()
    for a, b in zip(first.parameters(), second.parameters()): assert torch.equal(a, b)
    best = min(row["valid_loss"] for row in history.epochs)
    assert history.best["valid_loss"] == best
    if history.stopped_early: assert len(history.epochs) - 1 - history.best_epoch == 2


def test_fit_refuses_a_model_with_nothing_to_train(model):
    for p in model.parameters(): p.requires_grad_(False)
    loader = DataLoader(TensorDataset(torch.randn(2, 3, 64, 64), torch.tensor([0, 1])), batch_size=2)
    with pytest.raises(ValueError, match="Nothing to train"): fit(model, loader, loader, epochs=1, progress=False)
    freeze(model)


def test_lr_find_restores_weights_and_suggests_a_sane_rate():
    seed_everything(0)
    centers = torch.randn(3, 16)*3
    labels = torch.randint(0, 3, (256,))
    features = centers[labels] + torch.randn(256, 16)
    head = nn.Sequential(nn.Linear(16, 3))
    before = [p.clone() for p in head.parameters()]
    result = lr_find(head, DataLoader(TensorDataset(features, labels), 32, shuffle=True), steps=100)
    assert all(torch.equal(a, b) for a, b in zip(before, head.parameters()))
    assert 1e-4 < result.suggestion < 1 and result.lrs[0] == pytest.approx(1e-7) and len(result.lrs) <= 100


def test_parameter_report_counts_and_parameter_groups(model):
    freeze(model)
    report = parameter_report(model)
    assert report.total == sum(p.numel() for p in model.parameters())
    assert report.trainable == sum(p.numel() for p in model.head.parameters())
    assert "total /" in repr(report) and "trainable" in repr(report)
    groups = parameter_groups(model, slice(1e-5, 1e-3))
    assert [g["name"] for g in groups] == ["group0", "group1", "head"]
    assert groups[0]["lr"] == pytest.approx(1e-5) and groups[-1]["lr"] == pytest.approx(1e-3)
    assert trainable_head(model)[0] is model.head.bn1
