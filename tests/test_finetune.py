"transfer_course.finetune (lesson 5): the range test on the engine's training step, fine_tune's phases and safety net."
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import transfer_course.finetune as finetune
from transfer_course.core import find_dataset, seed_everything
from transfer_course.augment import image_data
from transfer_course.data import split_image_folders
from transfer_course.finetune import (FineTuneResult, finder_result, fine_tune, gradual_unfreeze, lr_find,
                                      smooth_losses, valley)
from transfer_course.train import create_transfer_model, layer_groups


def test_smooth_losses_is_a_bias_corrected_moving_average():
    assert smooth_losses([2.0]*4) == pytest.approx([2.0]*4)
    assert smooth_losses([1.0, 3.0], beta=0.5) == pytest.approx([1.0, (0.25*1 + 0.5*3)/0.75])
    assert smooth_losses([]) == []


def test_finder_result_ignores_the_noisy_start_and_the_explosion():
    lrs = [10**(-7 + 8*i/49) for i in range(50)]
    losses = [3.0 - i*0.05 for i in range(45)] + [100.0]*5
    result = finder_result(lrs, losses)
    kept = slice(5, -3)
    assert result.suggestion == valley(lrs[kept], losses[kept])
    assert result.minimum_over_10 == pytest.approx(lrs[44]/10)
    assert result.lrs == lrs and result.losses == losses


@pytest.fixture
def head_problem():
    seed_everything(0)
    centers = torch.randn(3, 16)*3
    labels = torch.randint(0, 3, (128,))
    features = centers[labels] + torch.randn(128, 16)
    return nn.Sequential(nn.Linear(16, 3)), DataLoader(TensorDataset(features, labels), 32, shuffle=True)


def test_lr_find_steps_through_the_engine_with_relative_group_rates(head_problem, monkeypatch):
    head, loader = head_problem
    calls = []
    real_step = finetune.train_step
    def spy(model, inputs, targets, loss_fn, optimizer, scaler=None):
        calls.append([group["lr"] for group in optimizer.param_groups])
        return real_step(model, inputs, targets, loss_fn, optimizer, scaler)
    monkeypatch.setattr(finetune, "train_step", spy)
    result = lr_find(head, loader, start_lr=1e-6, end_lr=1e-2, steps=9, stop_factor=1e9)
    assert len(calls) == 9 == len(result.lrs)  # loader of 4 batches, cycled
    assert [rates[0] for rates in calls] == pytest.approx(result.lrs)
    assert result.lrs == pytest.approx([1e-6*10**(i/2) for i in range(9)])


def test_lr_find_stops_at_the_explosion_and_restores_modes(head_problem):
    head, loader = head_problem
    head.eval()
    result = lr_find(head, loader, start_lr=1e-3, end_lr=1e6, steps=100)
    assert len(result.lrs) < 100 and not head.training
    assert all(math.isfinite(loss) for loss in result.losses[:-1])


def test_lr_find_refuses_an_empty_loader(head_problem):
    head, _ = head_problem
    with pytest.raises(ValueError, match="no batches"): lr_find(head, [], steps=3)


@pytest.fixture(scope="module")
def small_data():
    split = split_image_folders(find_dataset("hymenoptera"), max_per_class=6, max_valid_per_class=3, seed=0)
    model = create_transfer_model("efficientnet_lite0", split.classes, size=64, device="cpu")
    return split, image_data(split, model.record, batch_size=8, seed=0)


def test_fine_tune_keeps_the_frozen_weights_when_unfreezing_does_worse(small_data):
    split, data = small_data
    seed_everything(0)
    model = create_transfer_model("efficientnet_lite0", split.classes, size=64, device="cpu")
    body_before = {k: v.clone() for k, v in model.body.state_dict().items()}
    # a destructive unfrozen phase (lr_mult < 1: the earliest body layers get 100 times the head's rate, 0.1)
    result = fine_tune(model, data, epochs=1, freeze_epochs=3, lr_mult=0.01, progress=False)
    assert isinstance(result, FineTuneResult) and set(result.seconds) == {"features", "frozen", "unfrozen"}
    assert result.unfrozen.best["valid_loss"] > result.frozen.best["valid_loss"] and result.kept == "frozen"
    assert all(torch.equal(v, body_before[k]) for k, v in model.body.state_dict().items())
    assert result.final == result.frozen.best and not any(p.requires_grad for p in model.body.parameters())


def test_fine_tune_without_keep_best_reports_the_unfrozen_phase(small_data):
    split, data = small_data
    seed_everything(0)
    model = create_transfer_model("efficientnet_lite0", split.classes, size=64, device="cpu")
    result = fine_tune(model, data, epochs=1, freeze_epochs=2, keep_best=False, progress=False)
    assert result.kept == "unfrozen" and result.final == result.unfrozen.best
    assert all(p.requires_grad for p in model.parameters())
    head_only = fine_tune(model, data, epochs=0, freeze_epochs=2, progress=False)
    assert head_only.unfrozen is None and head_only.kept == "frozen" and "unfrozen" not in head_only.seconds


def test_gradual_unfreeze_trains_one_more_group_per_stage(small_data, monkeypatch):
    split, data = small_data
    model = create_transfer_model("efficientnet_lite0", split.classes, size=64, device="cpu")
    trainable = []
    real_fit = finetune.fit
    def spy(model, *args, **kwargs):
        trainable.append([any(p.requires_grad for _, p in group) for group in layer_groups(model)])
        return real_fit(model, *args, **kwargs)
    monkeypatch.setattr(finetune, "fit", spy)
    stages = gradual_unfreeze(model, data, progress=False)
    assert len(stages) == 3 and trainable == [[False, False, True], [False, True, True], [True, True, True]]
