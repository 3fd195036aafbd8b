"""pitfalls: preprocessing_table on real labelled photos, the variants, freeze_bn policies, and the BN lab's training
loop and measurements (engine.train_step / engine.infer, no device assumptions)."""
import copy, inspect, shutil
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

import transfer_course.pitfalls as pitfalls
from transfer_course.checks import running_stats
from transfer_course.core import find_dataset, seed_everything
from transfer_course.data import image_files, load_image
from transfer_course.pitfalls import (PREPROCESSING_VARIANTS, accuracy_in_bn_mode, batchnorm_layers,
                                      batchnorm_statistics, bn_freeze_report, freeze_bn, labelled_images,
                                      moved_batchnorm_layers, preprocessing_table, synset_view,
                                      train_head_with_bn_policy)
from transfer_course.pretrained import preprocess
from transfer_course.records import denormalize, normalize

SOME = {name: PREPROCESSING_VARIANTS[name] for name in ["correct", "BGR", "pixels 0-255", "reshape"]}


@pytest.fixture(scope="module")
def ants_and_bees(tmp_path_factory):
    hymenoptera = find_dataset("hymenoptera")
    return synset_view({"ant": hymenoptera/"val"/"ants", "n02206856": hymenoptera/"val"/"bees"},
                       tmp_path_factory.mktemp("synsets"))


def test_synset_view_links_real_photos(ants_and_bees):
    paths, targets, source = labelled_images(ants_and_bees)
    assert source == "synset folders" and set(targets) == {309, 310} and len(paths) == 153
    assert all(path.is_symlink() for path in paths)
    with pytest.raises(KeyError, match="not an ImageNet class name"): synset_view({"person": ants_and_bees}, ants_and_bees)


def test_labelled_images_limit_is_an_even_deterministic_spread(ants_and_bees):
    every, _, _ = labelled_images(ants_and_bees)
    some, targets, _ = labelled_images(ants_and_bees, limit=5)
    assert some == [every[i] for i in (0, 38, 76, 114, 152)] and len(targets) == 5
    assert labelled_images(ants_and_bees, limit=1000)[0] == every
    assert pitfalls._spread([], 3) == [] and pitfalls._spread(list(range(10)), 4) == [0, 3, 6, 9]


def test_preprocessing_table_on_labelled_photos(ants_and_bees, lite0):
    table = preprocessing_table("efficientnet_lite0", ants_and_bees, variants=SOME, limit=24, model=lite0)
    rows = table.set_index("variant")
    print(table[["variant", "top1", "top5", "delta_top1"]])
    assert list(table.columns) == ["variant", "description", "top1", "top5", "delta_top1"]
    assert rows.loc["correct", "top1"] >= 70 and rows.loc["correct", "delta_top1"] == 0
    assert rows.loc["reshape", "top1"] <= 10 and rows.loc["pixels 0-255", "top1"] <= 10
    assert rows.loc["BGR", "delta_top1"] == pytest.approx(rows.loc["BGR", "top1"] - rows.loc["correct", "top1"])
    assert (table.top5 >= table.top1).all() and table.attrs["images"] == 24
    without_correct = preprocessing_table("efficientnet_lite0", ants_and_bees, variants={"BGR": SOME["BGR"]},
                                          limit=4, model=lite0)
    assert without_correct.delta_top1.isna().all()


def test_unlabelled_folder_is_labelled_by_the_correct_pipeline(tmp_path, lite0, photos):
    for name in ["chelsea", "coffee", "rocket"]: shutil.copy(photos[name], tmp_path/photos[name].name)
    table = preprocessing_table("efficientnet_lite0", tmp_path, variants=SOME, model=lite0)
    assert "predictions" in table.attrs["label_source"]
    assert table.set_index("variant").loc["correct", "top1"] == 100
    with pytest.raises(ValueError, match="pass a model"): labelled_images(tmp_path)
    with pytest.raises(FileNotFoundError): labelled_images(tmp_path/"empty_missing")
    (tmp_path/"empty").mkdir()
    with pytest.raises(FileNotFoundError): labelled_images(tmp_path/"empty")


def test_correct_variant_is_the_course_preprocessing(lite0, photos):
    image = load_image(photos["astronaut"])
    correct = PREPROCESSING_VARIANTS["correct"][1](image, lite0.record)
    torch.testing.assert_close(correct, preprocess(image, lite0.record, draft=False), atol=1e-5, rtol=0)
    pixels = pitfalls._pixels(image, lite0.record)
    torch.testing.assert_close(denormalize(correct, lite0.record), pixels, atol=1e-6, rtol=0)


def test_each_variant_differs_from_correct_in_one_place(lite0, photos):
    image, record = load_image(photos["coffee"]), lite0.record
    pixels, correct = pitfalls._pixels(image, record), PREPROCESSING_VARIANTS["correct"][1](image, record)
    size = (3, record.input_size, record.input_size)
    for name, (_, variant) in PREPROCESSING_VARIANTS.items():
        tensor = variant(image, record)
        assert tensor.shape == size and tensor.dtype == torch.float32, name
        if name != "correct": assert not torch.allclose(tensor, correct), name
    torch.testing.assert_close(PREPROCESSING_VARIANTS["BGR"][1](image, record), normalize(pixels.flip(0), record))
    torch.testing.assert_close(PREPROCESSING_VARIANTS["no normalisation"][1](image, record), pixels)
    caffe = PREPROCESSING_VARIANTS["caffe-style"][1](image, record)
    torch.testing.assert_close(caffe[0], pixels[2]*255 - 103.939)  # blue first, Caffe mean, no std
    reshaped = PREPROCESSING_VARIANTS["reshape"][1](image, record)
    torch.testing.assert_close(reshaped.flatten().sort().values, correct.flatten().sort().values)  # same values, moved


def small_bn_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3), torch.nn.BatchNorm2d(4))


@pytest.mark.parametrize("policy, expect_moved, expect_trainable", [("frozen", 0, False), ("naive", 2, False), ("train", 2, True)])
def test_freeze_bn_policies(policy, expect_moved, expect_trainable):
    net = small_bn_net().train()
    changed = freeze_bn(net, policy)
    assert changed == ["1", "4"]
    before = batchnorm_statistics(net)
    with torch.no_grad(): net(torch.randn(8, 3, 12, 12)*3 + 1)
    assert len(moved_batchnorm_layers(net, before)) == expect_moved
    assert all(p.requires_grad == expect_trainable for bn in batchnorm_layers(net).values() for p in bn.parameters())


def test_parent_train_undoes_frozen_bn():
    "The lesson's claim (b): model.train() after freeze_bn puts every BN layer back in training mode."
    net = small_bn_net()
    freeze_bn(net.train(), "frozen")
    assert not any(bn.training for bn in batchnorm_layers(net).values())
    net.train()
    assert all(bn.training for bn in batchnorm_layers(net).values())


def test_moved_checker_tolerance_and_bad_policy():
    net = small_bn_net()
    before = batchnorm_statistics(net)
    net[1].running_mean += 1e-4
    assert list(moved_batchnorm_layers(net, before)) == ["1"]
    assert moved_batchnorm_layers(net, before, tolerance=1e-3) == {}
    with pytest.raises(ValueError, match="Unknown BN policy"): freeze_bn(net, "keras")


def test_bn_freeze_report_feeds_the_exercise_checks():
    report = bn_freeze_report(lambda model: model.body.requires_grad_(False))
    assert [name for name, bn in report["after"].items() if bn["training"]] == ["body.1", "body.4"]
    assert sum(not trainable for trainable in report["trainable"].values()) == 8
    assert running_stats(should_move=False)(report).passed is False
    assert running_stats(should_move=False)(bn_freeze_report(lambda model: freeze_bn(model.body, "frozen"))).passed


# The BN lab's loop: a small body + head on real photos (24 px), so that it runs in a second.

def tiny_transfer_model(seed=0):
    torch.manual_seed(seed)
    body = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    return torch.nn.Sequential(OrderedDict(body=body, head=torch.nn.Linear(8, 2)))


@pytest.fixture(scope="module")
def photo_batches():
    "Three batches of four real ant/bee photos each, as (images, labels) on the CPU."
    train = find_dataset("hymenoptera")/"train"
    paths = [(path, label) for label, name in enumerate(["ants", "bees"]) for path in image_files(train/name)[:6]]
    paths = [paths[i] for i in np.random.default_rng(0).permutation(len(paths))]
    images = torch.stack([TF.to_tensor(TF.resize(load_image(path), [24, 24])) for path, _ in paths])
    labels = torch.tensor([label for _, label in paths])
    return [(images[i:i + 4], labels[i:i + 4]) for i in range(0, len(paths), 4)]


def hand_written_head_training(model, batches, policy, epochs, lr, seed):
    "The loop the lab ran before engine.train_step, written out: what train_head_with_bn_policy must still compute."
    seed_everything(seed, deterministic=False)
    model.body.requires_grad_(False)
    optimizer = None
    for epoch in range(epochs):
        model.train(); freeze_bn(model.body, policy)
        optimizer = optimizer or torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
        correct = seen = 0
        for images, labels in batches:
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            correct += (logits.argmax(1) == labels).sum().item(); seen += len(labels)
    return correct/seen


@pytest.mark.parametrize("policy", ["frozen", "train"])
def test_bn_lab_steps_through_engine_train_step(photo_batches, policy, monkeypatch):
    steps = []
    def counted_train_step(model, inputs, targets, *args, **kwargs):
        steps.append(inputs.device)
        return engine_train_step(model, inputs, targets, *args, **kwargs)
    engine_train_step = pitfalls.train_step
    monkeypatch.setattr(pitfalls, "train_step", counted_train_step)
    lab, by_hand = tiny_transfer_model(), tiny_transfer_model()
    result = train_head_with_bn_policy(lab, photo_batches, policy, epochs=2, lr=0.05, seed=3)
    expected_accuracy = hand_written_head_training(by_hand, photo_batches, policy, epochs=2, lr=0.05, seed=3)
    assert len(steps) == 2*len(photo_batches)
    assert result["policy"] == policy and result["train accuracy (as reported while training)"] == expected_accuracy
    for (name, trained), (_, expected) in zip(lab.state_dict().items(), by_hand.state_dict().items()):
        torch.testing.assert_close(trained, expected, atol=1e-5, rtol=1e-5, msg=name)
    assert not torch.equal(lab.head.weight, tiny_transfer_model().head.weight)  # it did train
    trainable_in_body = {name for name, p in lab.body.named_parameters() if p.requires_grad}
    assert not lab.training and trainable_in_body == (set() if policy == "frozen" else {"1.weight", "1.bias"})


def test_bn_lab_has_no_device_assumptions():
    "Batches reach the model's device through engine.train_step/infer/to_device; nothing in pitfalls picks a device."
    source = inspect.getsource(pitfalls)
    for assumption in [".cuda(", "channels_last", ".contiguous(", '"cuda"', "memory_format"]:
        assert assumption not in source, assumption
    assert "train_step(model, images, labels" in inspect.getsource(train_head_with_bn_policy)
    assert "infer(model, loader)" in inspect.getsource(accuracy_in_bn_mode)


devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if torch.backends.mps.is_available() else [])


@pytest.mark.parametrize("device", devices)
def test_bn_lab_runs_on_the_models_device_with_cpu_batches(photo_batches, device):
    from transfer_course.engine import model_device, prepare_model
    model = prepare_model(tiny_transfer_model(), device)
    before = model.head.weight.detach().cpu().clone()
    train_head_with_bn_policy(model, photo_batches, "frozen", epochs=1, lr=0.05)
    assert model_device(model).type == device and not torch.equal(model.head.weight.detach().cpu(), before)
    for statistics in (False, True): assert 0 <= accuracy_in_bn_mode(model, photo_batches, statistics) <= 1


def test_accuracy_in_bn_mode_measures_both_modes_without_touching_the_model(photo_batches):
    model = tiny_transfer_model().eval()
    model.body[1].running_mean.fill_(0.3)  # stored statistics unlike any batch's, so the two modes differ
    state, modes = copy.deepcopy(model.state_dict()), [m.training for m in model.modules()]
    images, labels = torch.cat([b[0] for b in photo_batches]), torch.cat([b[1] for b in photo_batches])
    with torch.no_grad():
        eval_scores = model(images)
        batch_scores = torch.cat([copy.deepcopy(model).train()(b[0]) for b in photo_batches])
    eval_accuracy = (eval_scores.argmax(1) == labels).float().mean().item()
    batch_accuracy = (batch_scores.argmax(1) == labels).float().mean().item()
    assert accuracy_in_bn_mode(model, photo_batches, batch_statistics=False) == pytest.approx(eval_accuracy)
    assert accuracy_in_bn_mode(model, photo_batches, batch_statistics=True) == pytest.approx(batch_accuracy)
    assert not torch.allclose(eval_scores, batch_scores)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(value, state[key]) for key, value in model.state_dict().items())
