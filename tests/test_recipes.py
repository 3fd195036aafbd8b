"transfer_course.recipes: logistic regression, the probe ensemble, and the export format (old files included)."
import argparse, dataclasses

import pytest
import torch

from transfer_course.recipes import (EXPORT_FORMAT, ProbeEnsemble, convert_preprocessing, create_probe_ensemble,
                                     default_members, export, fit_linear_classifier, load_exported, member_features,
                                     parse_member)
from transfer_course.records import denormalize, get_record, normalize, record_to_dict
from transfer_course.train import create_transfer_model


def test_export_roundtrip_is_exact_and_loads_safely(tmp_path):
    model = create_transfer_model("efficientnet_lite0", ["x", "y", "z"], head="mlp", size=64, device="cpu", hidden=32)
    path = export(model, tmp_path/"m.pt", metadata={"accuracy": 0.5})
    loaded = load_exported(path, device="cpu")
    assert loaded.class_names == ("x", "y", "z") and loaded.record == model.record and not loaded.training
    assert loaded.head_config == {"kind": "mlp", "hidden": 32} and loaded.metadata == {"accuracy": 0.5}
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad(): torch.testing.assert_close(loaded(images), model(images))
    payload = torch.load(path, weights_only=True)  # plain data only: loads without unpickling code
    assert isinstance(payload["record"], dict) and payload["format"] == EXPORT_FORMAT == "transfer_course.export/1"
    assert loaded.flip_tta is False
    model.flip_tta = True
    mirrored = load_exported(export(model, tmp_path/"tta.pt"), device="cpu")
    assert mirrored.flip_tta is True
    with torch.no_grad():
        expected = (model.eval().head(model.body(images)) + model.head(model.body(images.flip(-1))))/2
        torch.testing.assert_close(mirrored(images), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "tta.pt"]  # no partial files left behind


def test_a_file_written_by_the_old_export_still_loads(tmp_path):
    "Before the restructuring, `finetune.export` wrote this dict with a plain torch.save: same format tag, same keys."
    model = create_transfer_model("efficientnet_lite0", ["cat", "dog"], head="fastai", size=64, device="cpu")
    torch.nn.init.normal_(model.head[-1].weight)
    old = {"format": "transfer_course.export/1", "record": record_to_dict(model.record), "head": {"kind": "fastai"},
           "class_names": ["cat", "dog"], "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
           "metadata": {"recipe": "fine-tune"}, "flip_tta": True}
    torch.save(old, tmp_path/"old.pt")
    loaded = load_exported(tmp_path/"old.pt", device="cpu")
    assert loaded.class_names == ("cat", "dog") and loaded.metadata == {"recipe": "fine-tune"} and loaded.flip_tta
    images = torch.randn(2, 3, 64, 64)
    model.flip_tta = True
    with torch.no_grad(): torch.testing.assert_close(loaded(images), model.eval()(images))


def test_wrong_files_are_refused_with_what_to_do(tmp_path):
    torch.save({"something": "else"}, tmp_path/"other.pt")
    with pytest.raises(ValueError, match="other.pt.*export the model again"): load_exported(tmp_path/"other.pt")
    torch.save(argparse.Namespace(evil=True), tmp_path/"pickle.pt")  # an arbitrary object: weights_only refuses it
    with pytest.raises(ValueError, match="pickle.pt.*export the model again"): load_exported(tmp_path/"pickle.pt")
    (tmp_path/"text.pt").write_text("hello")
    with pytest.raises(ValueError, match="text.pt"): load_exported(tmp_path/"text.pt")
    with pytest.raises(FileNotFoundError): load_exported(tmp_path/"missing.pt")


def test_probe_ensemble_export_roundtrip_and_averaging(tmp_path):
    "Two sizes of one body, with mirror images, average as promised; the export reloads the same function."
    torch.manual_seed(0)
    ensemble = create_probe_ensemble(["efficientnet_lite0@64", "efficientnet_lite0@80"], ["x", "y", "z"],
                                     pretrained=False, device="cpu")
    for head in ensemble.heads.values(): torch.nn.init.normal_(head.fc.weight)
    images = torch.randn(2, 3, 80, 80)
    with torch.no_grad():
        small = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", antialias=True,
                                                align_corners=False)
        body, heads = ensemble.bodies["efficientnet_lite0"], ensemble.heads
        by_hand = sum(heads[f"efficientnet_lite0@{s}"](body(v)).softmax(1)
                      for s, x in ((64, small), (80, images)) for v in (x, x.flip(-1)))/4
        torch.testing.assert_close(ensemble(images).exp(), by_hand, rtol=1e-5, atol=1e-6)
        loaded = load_exported(export(ensemble, tmp_path/"e.pt", metadata={"a": 1}), device="cpu")
        torch.testing.assert_close(loaded(images), ensemble(images))
    assert isinstance(loaded, ProbeEnsemble) and loaded.members == ensemble.members
    assert loaded.class_names == ("x", "y", "z") and loaded.metadata == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pt"]
    with pytest.raises(ValueError, match="largest member"):
        ProbeEnsemble(ensemble.bodies, {"efficientnet_lite0@64": heads["efficientnet_lite0@64"]}, loaded.record, "xyz")
    with pytest.raises(ValueError, match="No body for resnet18"):
        ProbeEnsemble(ensemble.bodies, {"resnet18@80": heads["efficientnet_lite0@80"]}, loaded.record, ["x"])


def test_member_views_follow_each_members_record_including_value_range():
    "A member with another value range and channel order sees the same pixels, prepared its own way."
    lite0 = get_record("efficientnet_lite0")
    odd = dataclasses.replace(get_record("resnet18"), value_range=(0.0, 255.0), channel_order="BGR")
    pixels = torch.rand(2, 3, 16, 16)
    converted = convert_preprocessing(normalize(pixels, lite0), lite0, odd)
    torch.testing.assert_close(converted, normalize(pixels, odd))
    torch.testing.assert_close(denormalize(converted, odd), pixels, rtol=1e-5, atol=1e-5)
    assert converted[:, 0].mean() != normalize(pixels, get_record("resnet18"))[:, 0].mean()  # the range matters


def test_member_features_match_the_bodies_one_by_one():
    torch.manual_seed(0)
    ensemble = create_probe_ensemble(["efficientnet_lite0@64", "efficientnet_lite2@72"], ["a", "b"],
                                     pretrained=False, device="cpu")
    images, labels = torch.randn(5, 3, 72, 72), torch.tensor([0, 1, 0, 1, 1])
    batches = [(images[:3], labels[:3]), (images[3:], labels[3:])]
    features, got_labels = member_features(ensemble, batches)
    assert list(features) == ["efficientnet_lite0@64", "efficientnet_lite2@72"] and torch.equal(got_labels, labels)
    with torch.no_grad():
        for arch, size in ensemble.members:
            views = ensemble.eval().member_views(images, arch, size)
            assert len(features[f"{arch}@{size}"]) == len(views) == 2
            for got, view in zip(features[f"{arch}@{size}"], views):
                torch.testing.assert_close(got, ensemble.bodies[arch](view).mean((2, 3)), rtol=1e-4, atol=1e-5)


def test_members_parse_and_default_pairs():
    assert parse_member("efficientnet_lite2@260") == ("efficientnet_lite2", 260)
    for bad in ("efficientnet_lite0@16", "lite9@64", "efficientnet_lite0", "efficientnet_lite0@x"):
        with pytest.raises(ValueError, match="ARCH@SIZE"): parse_member(bad)
    assert default_members("efficientnet_lite0") == ["efficientnet_lite0@224", "efficientnet_lite2@260"]
    assert default_members("efficientnet_lite2") == ["efficientnet_lite2@260", "efficientnet_lite0@224"]
    assert default_members("efficientnet_lite0", 64) == ["efficientnet_lite0@64", "efficientnet_lite2@72"]
    with pytest.raises(ValueError, match="repeat"):
        create_probe_ensemble(["efficientnet_lite0@64"]*2, ["a", "b"], pretrained=False, device="cpu")


def test_fit_linear_classifier_is_regularised_logistic_regression():
    "Separable data: perfect training accuracy; a smaller C shrinks the weights; the gradient of the objective vanishes."
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=generator)*4
    labels = torch.arange(3).repeat_interleave(20)
    features = centres[labels] + torch.randn(60, 8, generator=generator)
    strong, weak = fit_linear_classifier(features, labels, 3, c=100.0), fit_linear_classifier(features, labels, 3, c=0.01)
    assert (strong(features).argmax(1) == labels).all()
    assert weak.weight.norm() < strong.weight.norm() / 3
    weight, bias = strong.weight.clone().requires_grad_(), strong.bias.clone().requires_grad_()
    objective = torch.nn.functional.cross_entropy(features @ weight.T + bias, labels) + weight.pow(2).sum()/(2*100.0*60)
    objective.backward()
    assert weight.grad.abs().max() < 1e-4 and bias.grad.abs().max() < 1e-4
    with pytest.raises(ValueError, match="as many labels"): fit_linear_classifier(features, labels[:5], 3)
    with pytest.raises(ValueError, match="must be positive"): fit_linear_classifier(features, labels, 3, c=0)


def test_the_command_line_parser_offers_exactly_these_recipes():
    "cli.py must stay torch-free, so it repeats the recipe names: they must agree."
    from transfer_course.cli import RUNNERS, TRAIN_RECIPES, resolve_runner
    from transfer_course.recipes import RECIPES, run_train
    assert TRAIN_RECIPES == RECIPES and resolve_runner(RUNNERS["train"]) is run_train


def test_a_training_checkpoint_is_an_export_that_load_exported_reads(tmp_path):
    "`fit_head_cached(..., checkpoint=path)` writes the best epoch as an exported model: one format for both."
    from torch.utils.data import DataLoader, TensorDataset
    from transfer_course.train import fit_head_cached, freeze
    torch.manual_seed(0)
    model = create_transfer_model("efficientnet_lite0", ["a", "b"], size=32, pretrained=False, device="cpu")
    freeze(model, train_bn=False)
    batches = DataLoader(TensorDataset(torch.randn(8, 3, 32, 32), torch.tensor([0, 1]*4)), batch_size=4)
    history = fit_head_cached(model, batches, batches, epochs=3, checkpoint=tmp_path/"best.pt", progress=False)
    loaded = load_exported(tmp_path/"best.pt", device="cpu")
    assert loaded.class_names == ("a", "b") and loaded.metadata["epoch"] == history.best_epoch
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad(): torch.testing.assert_close(loaded(images), model.eval()(images))
