"""Tests of transfer_course.interpret: the report against scikit-learn, Grad-CAM against pytorch-grad-cam on real photos,
no hidden mutation, legible figures, the viewer driven with the bytes of real photo files."""
import copy

import numpy as np
import pytest
import sklearn.metrics
import torch
import torch.nn.functional as F
import torchvision
from matplotlib.transforms import Bbox
from torch import nn

from transfer_course import interpret
from transfer_course.engine import infer, preserved_modes
from transfer_course.widgets import GradCAMViewer
from transfer_course.interpret import (captured_activation, classification_report, find_layer, gradcam,
    heatmap_mass_inside, most_confused, overlay_heatmap, plot_accuracy_vs_count, plot_confusion_matrix, plot_top_losses,
    randomized_copy, rank_correlation, show_gradcam, top_losses)
from transfer_course.pretrained import preprocess

PHOTOS = ["chelsea", "coffee", "rocket", "astronaut", "motorcycle", "grace_hopper", "china", "flower"]


def correlation(first, second) -> float:
    "Pearson correlation of two maps' pixels; 0 when either map is constant (e.g. all zero: it shows nothing)."
    first, second = np.asarray(first, dtype=float).ravel(), np.asarray(second, dtype=float).ravel()
    if first.std() == 0 or second.std() == 0: return 0.0
    return float(np.corrcoef(first, second)[0, 1])


def oracle(model, layer_name, images, classes):
    "pytorch-grad-cam's GradCAM on a trainable copy (it needs requires_grad and calls model.eval())."
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    reference_model = copy.deepcopy(model).requires_grad_(True)
    with GradCAM(model=reference_model, target_layers=[reference_model.get_submodule(layer_name)]) as cam:
        return cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in classes])


@pytest.fixture(scope="module")
def batch(lite0, photos):
    return torch.stack([preprocess(photos[name], lite0.record) for name in PHOTOS])


@pytest.fixture(scope="module")
def ranked_classes(lite0, batch):
    with torch.no_grad(): return lite0(batch.contiguous(memory_format=torch.channels_last)).topk(2, dim=1).indices


@pytest.fixture(scope="module")
def cat_and_coffee(lite0, photos):
    "chelsea (left) beside coffee (right), 224x448, and the chosen cat and espresso classes."
    record = lite0.record
    pair = torch.cat([preprocess(photos["chelsea"], record), preprocess(photos["coffee"], record)], dim=2)
    with torch.no_grad(): probabilities = lite0(pair[None].contiguous(memory_format=torch.channels_last)).softmax(1)[0]
    cat_class = max(range(281, 286), key=lambda i: probabilities[i])
    return pair, cat_class, record.labels.index("espresso")


# ---------------------------------------------------------------- Grad-CAM against the oracle

def test_gradcam_matches_pytorch_grad_cam_on_real_photos(lite0, batch, ranked_classes):
    labels = lite0.record.labels
    for rank in (0, 1): # the predicted class, and the runner-up
        classes = ranked_classes[:, rank]
        ours = gradcam(lite0, batch, classes)
        theirs = oracle(lite0, "conv_head", batch, classes)
        correlations = [correlation(a, b) for a, b in zip(ours.numpy(), theirs)]
        for name, index, value in zip(PHOTOS, classes.tolist(), correlations):
            print(f"efficientnet_lite0 conv_head {name:13s} rank {rank + 1} {labels[index]:24s} r={value:.8f}")
        assert min(correlations) >= 0.99, correlations
        assert np.abs(ours.numpy() - theirs).max() < 1e-3


def test_gradcam_matches_oracle_on_resnet18_layer4(photos):
    "A second architecture (random weights: torchvision weights cannot be downloaded here), the ResNet record's layer."
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    from transfer_course.records import get_record
    model.record = get_record("resnet18")
    images = torch.stack([preprocess(photos[name], model.record) for name in PHOTOS[:4]])
    classes = [1, 500, 999, 250]
    ours, theirs = gradcam(model, images, classes), oracle(model, "layer4", images, classes)
    correlations = [correlation(a, b) for a, b in zip(ours.numpy(), theirs)]
    print("resnet18 (random init) layer4:", [f"{value:.8f}" for value in correlations])
    assert min(correlations) >= 0.99


def test_oracle_comparison_fails_for_wrong_layer_or_class(lite0, cat_and_coffee):
    pair, cat_class, cup_class = cat_and_coffee
    reference = oracle(lite0, "conv_head", pair[None], [cat_class])[0]
    right = correlation(gradcam(lite0, pair, cat_class)[0], reference)
    wrong_class = correlation(gradcam(lite0, pair, cup_class)[0], reference)
    wrong_layer = correlation(gradcam(lite0, pair, cat_class, layer="blocks.4")[0], reference)
    print(f"cat/coffee pair: same layer+class r={right:.4f}, wrong class r={wrong_class:.4f}, layer blocks.4 r={wrong_layer:.4f}")
    assert right >= 0.99
    assert wrong_class < 0.5 and wrong_layer < 0.9


def _mutant_gradcam(model, images, classes, relu=True, weighting="mean_gradient"):
    "Known-wrong Grad-CAMs, built from the same parts, to show the oracle comparison catches them."
    layer = find_layer(model)
    with torch.enable_grad(), preserved_modes(model), captured_activation(layer) as capture:
        model.eval()
        logits = model(images.contiguous(memory_format=torch.channels_last))
        (gradients,) = torch.autograd.grad(logits.gather(1, torch.as_tensor(classes)[:, None]).sum(), capture.activation)
    activations = capture.activation.detach()
    weights = {"mean_gradient": gradients.mean(dim=(2, 3), keepdim=True), "none": torch.ones_like(gradients[:, :, :1, :1]),
               "max_gradient": gradients.amax(dim=(2, 3), keepdim=True)}[weighting]
    heatmaps = (weights*activations).sum(dim=1, keepdim=True)
    if relu: heatmaps = F.relu(heatmaps)
    heatmaps = F.interpolate(heatmaps, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    low, high = heatmaps.amin(dim=(1, 2), keepdim=True), heatmaps.amax(dim=(1, 2), keepdim=True)
    return (heatmaps - low)/(high - low).clamp_min(1e-12)


@pytest.fixture(scope="module")
def mutation_setup(lite0, batch, ranked_classes, cat_and_coffee):
    "Photos (the eight, plus each half of the pair with the class of the other half), runner-up classes, the oracle's maps."
    pair, cat_class, cup_class = cat_and_coffee
    images = torch.cat([batch, pair[None, :, :, :224], pair[None, :, :, 224:]])
    classes = torch.cat([ranked_classes[:, 1], torch.tensor([cup_class, cat_class])]) # more negative evidence than top-1
    theirs = oracle(lite0, "conv_head", images, classes)
    correct = [correlation(a, b) for a, b in zip(gradcam(lite0, images, classes).numpy(), theirs)]
    return images, classes, theirs, correct


@pytest.mark.parametrize("mutation", [dict(relu=False), dict(weighting="none"), dict(weighting="max_gradient")])
def test_mutant_gradcams_fail_the_oracle(lite0, mutation_setup, mutation):
    images, classes, theirs, correct = mutation_setup
    mutant = [correlation(a, b) for a, b in zip(_mutant_gradcam(lite0, images, classes, **mutation).numpy(), theirs)]
    print(f"{mutation}: correct min r={min(correct):.4f}; mutant min r={min(mutant):.4f}, mean r={np.mean(mutant):.4f}")
    assert min(correct) >= 0.99
    assert min(mutant) < 0.99


# ---------------------------------------------------------------- Grad-CAM contract

def test_gradcam_shape_range_single_image_and_non_square(lite0, batch, cat_and_coffee):
    heatmaps = gradcam(lite0, batch[:3])
    assert heatmaps.shape == (3, 224, 224) and heatmaps.dtype == torch.float32 and heatmaps.device.type == "cpu"
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1
    torch.testing.assert_close(heatmaps.amax(dim=(1, 2)), torch.ones(3))
    torch.testing.assert_close(gradcam(lite0, batch[0]), heatmaps[:1], atol=1e-5, rtol=0)
    pair, cat_class, _ = cat_and_coffee
    assert gradcam(lite0, pair, cat_class).shape == (1, 224, 448)


def test_gradcam_target_classes(lite0, batch, ranked_classes):
    predicted = ranked_classes[:2, 0]
    default = gradcam(lite0, batch[:2])
    torch.testing.assert_close(default, gradcam(lite0, batch[:2], predicted), atol=1e-5, rtol=0)
    torch.testing.assert_close(default, gradcam(lite0, batch[:2], predicted.tolist()), atol=1e-5, rtol=0)
    torch.testing.assert_close(gradcam(lite0, batch[:2], 282), gradcam(lite0, batch[:2], np.array([282, 282])), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="2 target classes for 3 images"): gradcam(lite0, batch[:3], [1, 2])
    with pytest.raises(ValueError, match="0..999"): gradcam(lite0, batch[:1], 1000)


def test_gradcam_frozen_model_under_no_grad_and_inference_mode(lite0, batch):
    frozen = copy.deepcopy(lite0).requires_grad_(False)
    expected = gradcam(lite0, batch[:2])
    with torch.no_grad(): under_no_grad = gradcam(frozen, batch[:2])
    with torch.inference_mode():
        inference_batch = batch[:2].clone() # an inference tensor
        under_inference = gradcam(frozen, inference_batch)
    torch.testing.assert_close(under_no_grad, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(under_inference, expected, atol=1e-5, rtol=0)
    assert not any(parameter.requires_grad for parameter in frozen.parameters())
    assert all(parameter.grad is None for parameter in frozen.parameters())


def _hook_count(model):
    return sum(len(module._forward_hooks) + len(module._forward_pre_hooks) + len(module._backward_hooks) for module in model.modules())


def test_gradcam_restores_modes_and_removes_hooks_even_on_error(lite0, batch):
    model = copy.deepcopy(lite0).train()
    model.blocks.eval() # mixed: body blocks in eval, the rest training
    modes = [module.training for module in model.modules()]
    hooks = _hook_count(model)
    running_mean = model.bn2.running_mean.clone()
    heatmaps = gradcam(model, batch[:2])
    assert [module.training for module in model.modules()] == modes
    assert _hook_count(model) == hooks
    torch.testing.assert_close(model.bn2.running_mean, running_mean) # ran in eval: BatchNorm statistics did not move
    assert all(parameter.grad is None for parameter in model.parameters())
    torch.testing.assert_close(heatmaps, gradcam(lite0, batch[:2]), atol=1e-5, rtol=0) # eval-mode maps
    with pytest.raises(ValueError): gradcam(model, batch[:2], 5000)
    assert [module.training for module in model.modules()] == modes and _hook_count(model) == hooks


def test_find_layer_defaults_and_errors(lite0):
    assert find_layer(lite0) is lite0.conv_head
    assert find_layer(lite0, lite0.blocks[6]) is lite0.blocks[6]

    class WithBody(nn.Module): # like lesson 4's TransferModel: the record's layer lives under `body.`
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential()
            self.body.add_module("conv_head", nn.Conv2d(3, 4, 3))
            self.record = lite0.record
    with_body = WithBody()
    assert find_layer(with_body) is with_body.body.conv_head
    with pytest.raises(KeyError, match="conv_head"): find_layer(lite0, "layer4")
    with pytest.raises(ValueError, match="layer="): find_layer(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="N, C, h, w"): gradcam(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)), torch.randn(1, 3, 2, 2), layer="1")


def test_captured_activation_survives_in_place_operations():
    layer = nn.Conv2d(3, 2, 1)
    model = nn.Sequential(layer, nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(2*4*4, 1))
    with torch.no_grad(), torch.enable_grad(), captured_activation(layer) as capture:
        output = model(torch.randn(1, 3, 4, 4)) # the in-place ReLU must not break our leaf
        (gradient,) = torch.autograd.grad(output.sum(), capture.activation)
    assert capture.activation.shape == gradient.shape == (1, 2, 4, 4)
    assert len(layer._forward_hooks) == 0


def test_gradcam_on_a_half_trained_transfer_model_changes_nothing():
    "Lesson 4's model, body frozen, head in training mode (as during fine-tuning): modes, flags and .grad are kept."
    from transfer_course.train import create_transfer_model, freeze
    model = create_transfer_model("efficientnet_lite0", ["a", "b", "c"], head="linear", size=160, device="cpu")
    freeze(model)
    model.head.train()
    modes = [module.training for module in model.modules()]
    flags = [parameter.requires_grad for parameter in model.parameters()]
    heatmaps = gradcam(model, torch.randn(2, 3, 160, 160))
    assert heatmaps.shape == (2, 160, 160)
    assert [module.training for module in model.modules()] == modes and model.head.training and not model.body.training
    assert [parameter.requires_grad for parameter in model.parameters()] == flags
    assert all(parameter.grad is None for parameter in model.parameters())
    assert find_layer(model) is model.body.get_submodule(model.record.gradcam_layer)


# ---------------------------------------------------------------- sanity checks

def test_sanity_checks_localisation_class_and_model_randomisation(lite0, cat_and_coffee):
    pair, cat_class, cup_class = cat_and_coffee
    cat_half = torch.zeros(224, 448, dtype=torch.bool); cat_half[:, :224] = True
    trained = gradcam(lite0, torch.stack([pair, pair]), [cat_class, cup_class])
    random_model = randomized_copy(lite0, seed=0)
    randomised = gradcam(random_model, pair, cat_class)[0]
    on_cat = heatmap_mass_inside(trained, cat_half)
    numbers = {"cat class on cat": float(on_cat[0]), "espresso on cat": float(on_cat[1]),
               "randomised cat class on cat": float(heatmap_mass_inside(randomised, cat_half)),
               "rank r trained vs randomised": rank_correlation(trained[0], randomised),
               "rank r cat vs espresso": rank_correlation(trained[0], trained[1])}
    print({name: round(value, 3) for name, value in numbers.items()})
    assert numbers["cat class on cat"] > 0.75 and numbers["espresso on cat"] < 0.25
    assert numbers["rank r trained vs randomised"] < 0.5 and numbers["rank r cat vs espresso"] < 0.5


def test_randomized_copy_leaves_original_and_global_rng_alone(lite0):
    before = lite0.conv_head.weight.clone()
    state = torch.random.get_rng_state()
    first, second = randomized_copy(lite0, seed=3), randomized_copy(lite0, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(lite0.conv_head.weight, before)
    assert torch.equal(first.conv_head.weight, second.conv_head.weight) and not torch.equal(first.conv_head.weight, before)
    assert not torch.equal(randomized_copy(lite0, seed=4).conv_head.weight, first.conv_head.weight)


def test_rank_correlation_and_mass_inside():
    ramp = torch.linspace(0, 1, 16).reshape(4, 4)
    assert rank_correlation(ramp, ramp.exp()) == pytest.approx(1.0)
    assert rank_correlation(ramp, -ramp) == pytest.approx(-1.0)
    with pytest.raises(ValueError): rank_correlation(ramp, ramp[:2])
    mask = torch.zeros(4, 4, dtype=torch.bool); mask[0] = True
    assert float(heatmap_mass_inside(ramp, mask)) == pytest.approx(float(ramp[0].sum()/ramp.sum()))


# ---------------------------------------------------------------- overlays and display

def test_overlay_show_gradcam_and_the_picture_of_a_preprocessed_photo(lite0, photos):
    import matplotlib
    import matplotlib.pyplot as plt
    record = lite0.record
    image = preprocess(photos["coffee"], record)
    shown = interpret._picture(image, record)
    assert shown.shape == (224, 224, 3) and 0 <= shown.min() and shown.max() <= 1
    torch.testing.assert_close(torch.from_numpy(shown).permute(2, 0, 1)*2 - 1, image, atol=1e-6, rtol=0) # mean=std=0.5
    heat = torch.rand(224, 224)
    np.testing.assert_allclose(overlay_heatmap(shown, heat, alpha=0), shown)
    np.testing.assert_allclose(overlay_heatmap(shown, heat, alpha=1), matplotlib.colormaps["viridis"](heat.numpy())[..., :3])
    half = overlay_heatmap(shown, heat, alpha=0.5)
    assert half.min() >= 0 and half.max() <= 1
    with pytest.raises(ValueError, match="alpha"): overlay_heatmap(shown, heat, alpha=1.5)
    with pytest.raises(ValueError, match="heatmap"): overlay_heatmap(shown, heat[:10])
    axis = show_gradcam(image, heat, record, title="t")
    assert axis.get_title() == "t" and len(axis.figure.axes) == 2 # the photo and its colour bar
    plt.close("all")


# ---------------------------------------------------------------- the report, most confused, top losses

@pytest.fixture(scope="module")
def random_predictions():
    generator = np.random.default_rng(0)
    targets = generator.integers(0, 4, 200)
    logits = generator.normal(size=(200, 4)) + 2*np.eye(4)[targets]
    return torch.tensor(logits, dtype=torch.float32), torch.tensor(targets)


def test_most_confused():
    matrix = torch.tensor([[5, 0, 2], [4, 1, 0], [0, 2, 0]])
    assert most_confused(matrix, ["a", "b", "c"]) == [("b", "a", 4), ("a", "c", 2), ("c", "b", 2)]
    assert most_confused(matrix, ["a", "b", "c"], min_count=3) == [("b", "a", 4)]
    assert most_confused(torch.eye(3, dtype=torch.long)*7, ["a", "b", "c"]) == []
    assert matrix.tolist() == [[5, 0, 2], [4, 1, 0], [0, 2, 0]] # the caller's matrix is not modified


@pytest.mark.parametrize("as_scores", [True, False])
def test_classification_report_against_sklearn(random_predictions, as_scores):
    logits, targets = random_predictions
    predictions = logits.argmax(1)
    predictions[predictions == 3] = 0 # class 3 is never predicted: precision 0 (sklearn's zero_division=0)
    labels = ["w", "x", "y", "z"]
    scores = torch.nn.functional.one_hot(predictions, 4).float() if as_scores else predictions.tolist()
    ours = classification_report(scores, targets, labels)
    theirs = sklearn.metrics.classification_report(targets, predictions, target_names=labels, output_dict=True, zero_division=0)
    assert list(ours.index) == [*labels, "macro avg", "weighted avg"]
    for row in ours.index:
        np.testing.assert_allclose(ours.loc[row, ["precision", "recall", "f1"]].to_numpy(dtype=float),
                                   [theirs[row][key] for key in ("precision", "recall", "f1-score")], atol=1e-12)
        assert ours.loc[row, "support"] == theirs[row]["support"]
    assert ours["support"].dtype.kind == "i"


def test_top_losses(random_predictions):
    logits, targets = random_predictions
    losses, indices = top_losses(logits, targets, k=5)
    expected = F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(losses, expected[indices])
    assert losses.tolist() == sorted(losses.tolist(), reverse=True)
    assert float(losses[0]) == pytest.approx(float(expected.max()))
    smallest, _ = top_losses(logits, targets, k=3, largest=False)
    assert float(smallest[0]) == pytest.approx(float(expected.min()))
    assert len(top_losses(logits, targets)[0]) == 200 and len(top_losses(logits[:3], targets[:3], k=10)[0]) == 3
    assert top_losses(logits.numpy(), targets.tolist(), k=1)[1].item() == int(expected.argmax())
    assert top_losses(logits.requires_grad_(True), targets, k=1)[0].grad_fn is None # detached


# ---------------------------------------------------------------- plots, and that they are legible

def _boxes(figure, artists):
    "Window extents (pixels) of `artists` once `figure` is drawn."
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [artist.get_window_extent(renderer) for artist in artists]


def test_plot_confusion_matrix_counts_and_normalised():
    import matplotlib.pyplot as plt
    matrix = torch.tensor([[3, 1], [0, 4]])
    figure = plot_confusion_matrix(matrix, ["a", "b"])
    axis = figure.axes[0]
    assert sorted(text.get_text() for text in axis.texts) == ["0", "1", "3", "4"]
    assert "counts" in axis.get_title() and axis.get_xlabel() == "predicted" and axis.get_ylabel() == "actual"
    assert [label.get_text() for label in axis.get_yticklabels()] == ["a", "b"]
    figure = plot_confusion_matrix(matrix, ["a", "b"], normalize=True)
    assert sorted(text.get_text() for text in figure.axes[0].texts) == ["0.00", "0.25", "0.75", "1.00"]
    assert "sums to 1" in figure.axes[0].get_title()
    plt.close("all")


def test_plot_accuracy_vs_count_labels_the_counts_without_collisions():
    import matplotlib.pyplot as plt
    counts = [60, 30, 12, 6, 3]
    figure = plot_accuracy_vs_count(torch.tensor([0.9, 0.8, 0.7, 0.3, 0.2]), counts, list("abcde"))
    axis = figure.axes[0]
    assert axis.get_xscale() == "log" and [text.get_text() for text in axis.texts] == list("abcde")
    np.testing.assert_allclose(axis.collections[0].get_offsets(), [[60, 0.9], [30, 0.8], [12, 0.7], [6, 0.3], [3, 0.2]])
    low, high = axis.get_xlim()
    shown = [label for label in axis.get_xticklabels() + axis.get_xticklabels(minor=True)
             if label.get_text() and low <= label.get_position()[0] <= high]
    assert sorted(label.get_text() for label in shown) == sorted(map(str, counts))
    padded = [Bbox.from_extents(box.x0 - 3, box.y0, box.x1 + 3, box.y1) for box in _boxes(figure, shown)]
    assert not any(a.overlaps(b) for i, a in enumerate(padded) for b in padded[i + 1:]), "tick labels collide"
    plt.close("all")


def test_plot_top_losses_titles_show_probability_of_actual_class_and_do_not_overlap(lite0, photos, batch):
    import matplotlib.pyplot as plt
    labels = lite0.record.labels
    logits = infer(lite0, [batch[:4]])
    targets = torch.tensor([labels.index("tabby"), labels.index("espresso"), labels.index("missile"), labels.index("tench")])
    losses, indices = top_losses(logits, targets, k=4)
    figure = plot_top_losses(batch[:4], logits, targets, labels, k=4, record=lite0.record)
    assert "probability of the actual class" in figure._suptitle.get_text()
    probabilities = logits.softmax(1)
    axes = [axis for axis in figure.axes if axis.get_title()]
    for axis, row, loss in zip(axes, indices.tolist(), losses.tolist()):
        prediction_and_actual, loss_and_probability = axis.get_title().split("\n")
        assert prediction_and_actual == f"{labels[logits[row].argmax()]} / {labels[targets[row]]}"
        assert loss_and_probability.split(" / ")[0] == f"{loss:.2f}"
        assert float(loss_and_probability.split(" / ")[1]) == pytest.approx(float(probabilities[row, targets[row]]), abs=0.006)
    assert indices[0] == 3 # the "tench" label on astronaut is the worst
    # legible: the second row's titles stay below the first row's photos, and every title stays inside the figure
    images = _boxes(figure, [axis.images[0] for axis in axes])
    titles = _boxes(figure, [axis.title for axis in axes])
    figure_box = figure.bbox
    assert not any(title.overlaps(image) for title in titles for image in images), "a title covers a photo"
    assert all(title.y1 <= figure_box.y1 and title.x0 >= 0 and title.x1 <= figure_box.x1 for title in titles)
    assert not any(title.overlaps(_boxes(figure, [figure._suptitle])[0]) for title in titles)
    with_overlay = plot_top_losses([photos[name].read_bytes() for name in PHOTOS[:4]], logits, targets, labels, k=4,
                                   model=lite0, overlay=True)
    assert "Grad-CAM" in with_overlay._suptitle.get_text()
    with pytest.raises(ValueError, match="model"): plot_top_losses(batch[:4], logits, targets, labels, record=lite0.record, overlay=True)
    with pytest.raises(ValueError, match="record"): plot_top_losses(batch[:4], logits, targets, labels)
    assert not lite0.training
    plt.close("all")


# ---------------------------------------------------------------- viewer

def test_gradcam_viewer_with_the_bytes_of_real_photo_files(lite0, photos):
    "A viewer of its own (the lesson's is left alone), fed what an upload gives: the bytes of image files."
    viewer = GradCAMViewer(lite0, {name: photos[name].read_bytes() for name in ("chelsea", "coffee")}, k=3)
    labels = lite0.record.labels
    assert viewer.image_picker.value == "chelsea" and viewer.heatmap.shape == (224, 224) and viewer.figure is not None
    assert len(viewer.class_picker.options) == 3 and viewer.class_index == viewer.class_picker.options[0][1]
    viewer.image_picker.value = "coffee" # what a click does
    assert labels[viewer.class_index] == "espresso" and viewer.class_picker.value == viewer.class_index
    espresso_map = viewer.heatmap
    torch.testing.assert_close(espresso_map, gradcam(lite0, preprocess(photos["coffee"], lite0.record))[0], atol=1e-5, rtol=0)
    viewer.class_picker.value = viewer.class_picker.options[2][1]
    assert viewer.class_index == viewer.class_picker.options[2][1] and not torch.equal(viewer.heatmap, espresso_map)
    heatmap = viewer.show("chelsea", labels.index("tench")) # a class outside the top-k is added to the menu
    assert viewer.image_picker.value == "chelsea" and viewer.class_picker.value == labels.index("tench")
    assert heatmap.shape == (224, 224) and len(viewer.class_picker.options) == 4
    figure = viewer.figure
    viewer.alpha_slider.value = 0.2
    assert viewer.figure is not figure
    assert not lite0.training and _hook_count(lite0) == 0
    import matplotlib.pyplot as plt; plt.close("all")


def test_gradcam_viewer_refuses_bytes_that_are_not_an_image(lite0, photos):
    with pytest.raises(Exception, match="(?i)image"):
        GradCAMViewer(lite0, {"good": photos["coffee"].read_bytes(), "broken": b"not an image at all"})
