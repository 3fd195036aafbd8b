"""The capstones' judges on right and wrong plain-data models (no kernel), the sticker dataset, the learning-rate range,
and that the hidden photos reach only the grader bundle. Real photos and real pretrained weights throughout."""
import json
from pathlib import Path

import pytest
import torch

from transfer_course import capstone as C
from transfer_course.exercises import decode_answer, encode_answer
from transfer_course.finetune import lr_find
from transfer_course.train import fit

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def through_the_grader(exported):
    "What the grader receives: the export encoded as the probe writes it, and decoded (no pickle either way)."
    return decode_answer(json.loads(json.dumps(encode_answer(exported))))


@pytest.fixture(scope="module")
def cue():
    "Training photos with the sticker on the ants, and 60 hidden photos without it (as the capstone uses them)."
    torch.set_num_threads(1)
    train = C.cue_dataset()
    images, labels, names = C.heldout_photos("hymenoptera", "val", 30, 128)
    cue_model = C.fit_linear_head(train.images, train.labels, train.class_names)
    painted = train.images.clone(); painted[..., :51, :51] = 128
    cleaned_model = C.fit_linear_head(painted, train.labels, train.class_names)
    return train, (C.pack_photos(images), labels, names), cue_model, cleaned_model


def accuracy(model, hidden) -> float:
    return C.classifier_accuracy(through_the_grader(C.export_classifier(model)), *hidden)


def test_the_cleaned_model_passes_where_the_cue_model_fails(cue):
    "Measured on the hidden photos without the sticker: the cue model near chance, the cleaned one well above."
    _, hidden, cue_model, cleaned_model = cue
    cue_accuracy, cleaned_accuracy = accuracy(cue_model, hidden), accuracy(cleaned_model, hidden)
    print(f"hidden photos without the cue: cue model {cue_accuracy:.3f}, cleaned model {cleaned_accuracy:.3f}")
    assert cue_accuracy < 0.7 <= 0.85 <= cleaned_accuracy
    judge = C.heldout_accuracy(*hidden, min_accuracy=0.75, baseline=0.5)
    assert judge(through_the_grader(C.export_classifier(cleaned_model))).passed
    verdict = judge(through_the_grader(C.export_classifier(cue_model)))
    assert verdict.status == "failed" and "needs 0.75" in verdict.message


def test_grad_cam_finds_the_sticker(cue):
    "The cue model's Grad-CAM mass on the sticker is far above the sticker's share of the photo."
    from transfer_course.interpret import gradcam, heatmap_mass_inside
    train, _, cue_model, _ = cue
    ants = train.images[train.labels == 0][:8]
    mask = torch.zeros(128, 128, dtype=torch.bool); mask[:51, :51] = True
    mass = heatmap_mass_inside(gradcam(cue_model, C.prepare_photos(ants, cue_model.record)), mask).mean()
    assert mass > 2*mask.float().mean(), float(mass)


def test_a_model_that_ignores_the_photos_stays_at_the_baseline(cue):
    _, hidden, cue_model, _ = cue
    ignoring = C.export_classifier(cue_model)
    ignoring["head_state"] = {"fc.weight": torch.zeros(2, 1280), "fc.bias": torch.tensor([0.0, 1.0])}
    assert C.classifier_accuracy(through_the_grader(ignoring), *hidden) == pytest.approx(0.5)
    verdict = C.heldout_accuracy(*hidden, min_accuracy=0.75, baseline=0.5)(ignoring)
    assert "no better than always guessing" in verdict.message


def test_class_order_is_read_from_the_export(cue):
    "A student's own class order is honoured; swapping the names without the outputs is wrong."
    _, hidden, _, cleaned_model = cue
    right = C.export_classifier(cleaned_model)
    swapped = {**right, "class_names": right["class_names"][::-1]}
    assert C.classifier_accuracy(swapped, *hidden) < 0.2
    reordered = {**swapped, "head_state": {k: v.flip(0) for k, v in right["head_state"].items()}}
    assert C.classifier_accuracy(reordered, *hidden) == pytest.approx(C.classifier_accuracy(right, *hidden))


@pytest.mark.parametrize("change, message", [
    (lambda e: {**e, "pickle": b"x"}, "unexpected: ['pickle']"),
    (lambda e: {k: v for k, v in e.items() if k != "size"}, "missing: ['size']"),
    (lambda e: {**e, "head_state": {"head.fc.weight": e["head_state"]["fc.weight"], "head.fc.bias": e["head_state"]["fc.bias"]}},
     "exactly ['fc.weight', 'fc.bias']"),
    (lambda e: {**e, "head_state": {"fc.weight": e["head_state"]["fc.weight"].T, "fc.bias": e["head_state"]["fc.bias"]}},
     "has shape (1280, 2)"),
    (lambda e: {**e, "head_state": {"fc.weight": e["head_state"]["fc.weight"]*float("nan"), "fc.bias": e["head_state"]["fc.bias"]}},
     "NaN"),
    (lambda e: {**e, "arch": "vgg16_bn"}, "rebuilds only"),
    (lambda e: {**e, "size": 32}, "from 64 to 256"),
    (lambda e: {**e, "class_names": ["ants", "wasps"]}, "this task's classes"),
    (lambda e: [e], "Expected a dict"),
])
def test_malformed_exports_get_the_format_message(cue, change, message):
    _, hidden, cue_model, _ = cue
    verdict = C.heldout_accuracy(*hidden, min_accuracy=0.75, baseline=0.5)(change(C.export_classifier(cue_model)))
    assert verdict.status == "failed" and message in verdict.message, verdict.message
    assert C.export_form(["ants", "bees"])(change(C.export_classifier(cue_model))).status == "failed"


def test_a_model_object_cannot_reach_the_grader(cue):
    "Only plain data is encoded: a module (which would need pickle) is refused before anything is judged."
    with pytest.raises(TypeError): encode_answer(cue[2])


def test_the_cue_dataset_is_deterministic_and_the_cue_is_where_it_should_be():
    first, again = C.cue_dataset(per_class=5, size=96), C.cue_dataset(per_class=5, size=96)
    assert torch.equal(first.images, again.images) and first.labels.tolist() == [0]*5 + [1]*5
    plain = C.cue_dataset(per_class=5, size=96, cue=False)
    piece = C.sticker(96)
    side = piece.shape[-1]
    assert side == round(96*C.STICKER_FRACTION)
    ants = first.labels == first.class_names.index(C.CUE_CLASS)
    assert (first.images[ants][..., :side, :side] == piece).all()
    assert not (first.images[~ants][..., :side, :side] == piece).all(dim=(1, 2, 3)).any()
    assert torch.equal(first.images[~ants], plain.images[~ants])  # bees untouched
    outside = torch.ones(96, 96, dtype=torch.bool); outside[:side, :side] = False
    assert torch.equal(first.images[..., outside], plain.images[..., outside])  # nothing outside the corner changes
    assert not torch.equal(C.cue_dataset(per_class=5, size=96, skip=5).images, first.images)


def test_the_learning_rate_range_excludes_the_habitual_rate():
    "On the fixed setup, 1e-3 is outside the range read off the curve, and it trains worse than the range's rates."
    torch.set_num_threads(1)
    setup = C.lr_setup()
    curve = lr_find(setup.head, setup.train_loader)
    low, high = C.lr_range(curve)
    print(f"range {low:.3g}..{high:.3g}, valley {curve.suggestion:.3g}, min/10 {curve.minimum_over_10:.3g}")
    assert 1e-3 < low/2 and low <= curve.suggestion <= high and low <= curve.minimum_over_10 <= high
    losses = {}
    for rate in (1e-3, curve.suggestion):
        fresh = C.lr_setup()
        losses[rate] = fit(fresh.head, fresh.train_loader, fresh.valid_loader, epochs=4, lr=rate, progress=False).epochs[-1]["valid_loss"]
    assert losses[1e-3] > 1.5*losses[curve.suggestion], losses
    judge = C.lr_in_range(low, high, curve.lrs, curve.losses)
    assert judge(curve.suggestion).passed and "too cautious" in judge(1e-3).message and "explosion" in judge(2.0).message


def test_the_end_to_end_url_lists_hold_every_kind_of_bad_url():
    lists = C.end_to_end_url_lists(lambda path: path)
    routes = {route.split("/")[0] for urls in lists.values() for route in urls}
    assert {"photo", "status", "html", "garbage", "cut", "tiny", "copy", "resized"} <= routes
    photos = [path for _, path in C.end_to_end_photos()]
    assert len(photos) == C.distinct_photos(photos) == 70
    held_out = C.heldout_photos("clothing_small_5cls", "valid", 10, 32)
    assert held_out[0].shape == (50, 3, 32, 32)


@pytest.mark.parametrize("stem", ["08_capstone_end_to_end", "10_capstone_spurious"])
def test_hidden_photos_reach_only_the_bundle(stem, tmp_path):
    "Release the notebook with `assign`: its hidden photos are in the bundle (a few MB), nowhere in the student folder."
    from transfer_course.grading.assign import assign
    assign([REPO/"nbs"/"exercises"/f"{stem}.ipynb"], tmp_path)
    bundle_path = tmp_path/"autograder"/"bundle.json"
    assert bundle_path.stat().st_size < 15*2**20
    bundle = json.loads(bundle_path.read_text())
    photos = [test["params"]["images"] for exercise in bundle["notebooks"][stem]["exercises"] for test in exercise["tests"]
              if test["hidden"] and isinstance(test["params"], dict) and "images" in test["params"]]
    assert photos, "the hidden accuracy tests carry their photos"
    middle = lambda text: text[len(text)//2: len(text)//2 + 80]  # past the .npy and JPEG headers, which all photos share
    chunks = [middle(photo["__array__"]) for group in photos for photo in group]
    student = {path: path.read_bytes().decode("utf-8", "replace") for path in (tmp_path/"student").rglob("*") if path.is_file()}
    assert {path.suffix for path in student} <= {".ipynb", ".json"}
    for path, text in student.items():
        assert not any(chunk in text for chunk in chunks), f"a hidden photo is in {path.name}"
        assert "heldout_photos(" not in text and "HIDDEN_IMAGES" not in text, path.name


def test_end_to_end_capstone_grades_full_marks_in_the_real_sandbox(tmp_path):
    """Capstone 08 under Landlock (landlock=True), graded by `grade` itself (warm pool, fork server, gradebook): with
    `Limits.fixture_port` its kernel serves the course's web on its one open port, scrapes it, and the perfect submission
    gets 10/10. Without the port the web cannot even start: 0 points, with the reason, and TCP stays restricted."""
    import nbformat
    from tests.test_exercise_release import perfect_notebook
    from transfer_course.core import load_settings
    from transfer_course.grading.assign import assign
    from transfer_course.grading.autograde import Limits, grade, grade_submission
    from transfer_course.grading.bundle import load_bundle
    from transfer_course.sandbox import SandboxConfig, SandboxKernel, landlock_abi
    if landlock_abi() < 4: pytest.skip("Landlock cannot restrict TCP on this Linux (ABI < 4): nothing to show")
    stem = "08_capstone_end_to_end"
    source = REPO/"nbs"/"exercises"/f"{stem}.ipynb"
    assign([source], tmp_path/"release")
    bundle = load_bundle(tmp_path/"release"/"autograder")
    perfect = perfect_notebook(nbformat.read(source, as_version=4), nbformat.read(tmp_path/"release"/"student"/source.name, as_version=4))
    settings = load_settings()
    read_paths = tuple(str(Path(p).resolve()) for p in (settings.data_dir, settings.model_dir))
    for student in ("with_port", "without_port"):
        (tmp_path/"submissions"/student).mkdir(parents=True)
        nbformat.write(perfect, tmp_path/"submissions"/student/source.name)

    [result] = grade(tmp_path/"submissions", bundle, tmp_path/"gradebook.sqlite", workers=1, progress=False, landlock=True,
                     limits=Limits(timeout=900, cell_timeout=600, memory_mb=8192, fixture_port=True),
                     students=["with_port"], read_paths=read_paths)
    lost = [(e.name, e.score, [t.message for t in e.tests if t.status != "passed"]) for e in result.exercises if e.score != e.max_score]
    assert (result.total, result.max_total) == (10, 10), (lost, result.notes)

    config = SandboxConfig(preload=("torch",), landlock=True, memory_mb=8192, read_paths=read_paths)
    kernels = []
    def get_kernel():
        kernels.append(SandboxKernel(config).start())
        return kernels[-1]
    try: result = grade_submission(tmp_path/"submissions"/"without_port", bundle, Limits(timeout=900, cell_timeout=600, memory_mb=8192), get_kernel)
    finally:
        for kernel in kernels: kernel.shutdown()
    info = kernels[-1].info
    assert info["landlock_abi"] >= 4 and info["network_restricted"] and info["open_ports"] == [], info
    messages = [t.message for e in result.exercises for t in e.tests] + list(result.notes)
    assert result.total == 0 and any("Permission" in m for m in messages), (result.total, messages)


def test_a_fixture_port_opens_that_port_only():
    "A Landlock kernel with a fixture port serves and fetches on it; another loopback port, and a bind elsewhere, stay denied."
    import socket
    from transfer_course.sandbox import SandboxConfig, SandboxKernel, landlock_abi
    if landlock_abi() < 4: pytest.skip("Landlock cannot restrict TCP on this Linux (ABI < 4)")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        kernel = SandboxKernel(SandboxConfig(preload=(), memory_mb=2048, fixture_port=True)).start()
        try:
            run = kernel.execute(
                "import os, socket\nport = int(os.environ['TRANSFER_COURSE_FIXTURE_PORT'])\n"
                "server = socket.create_server(('127.0.0.1', port)); socket.create_connection(('127.0.0.1', port), timeout=5).close()\n"
                "def denied(action):\n    try: action(); return False\n    except PermissionError: return True\n"
                f"other = denied(lambda: socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=5))\n"
                "elsewhere = denied(lambda: socket.create_server(('127.0.0.1', 0)))", 30,
                user_expressions={"verdict": "(other, elsewhere)"})
        finally: kernel.shutdown()
    assert kernel.info["open_ports"] == [kernel.fixture_port] and run.status == "ok", (kernel.info, run)
    assert run.expressions["verdict"]["data"]["text/plain"] == "(True, True)"


def test_capstone_08_bundle_asks_for_the_fixture_port(tmp_path):
    """assign sees capstone 08 serve the course's web (MockWeb), so its bundle asks for the port and `grade` with default
    Limits (no flag) under Landlock opens it: the perfect submission gets 10/10. Forcing the port off still wins."""
    import nbformat
    from tests.test_exercise_release import perfect_notebook
    from transfer_course.core import load_settings
    from transfer_course.grading.assign import assign
    from transfer_course.grading.autograde import Limits, grade, wants_fixture_port
    from transfer_course.grading.bundle import load_bundle
    from transfer_course.sandbox import landlock_abi
    source = REPO/"nbs"/"exercises"/"08_capstone_end_to_end.ipynb"
    assign([source], tmp_path/"release")
    bundle = load_bundle(tmp_path/"release"/"autograder")
    assert bundle.fixture_port is True
    assert (wants_fixture_port(bundle, Limits()), wants_fixture_port(bundle, Limits(fixture_port=False))) == (True, False)
    if landlock_abi() < 4: pytest.skip("Landlock cannot restrict TCP on this Linux (ABI < 4): grading would not need the port")
    perfect = perfect_notebook(nbformat.read(source, as_version=4), nbformat.read(tmp_path/"release"/"student"/source.name, as_version=4))
    (tmp_path/"submissions"/"perfect").mkdir(parents=True)
    nbformat.write(perfect, tmp_path/"submissions"/"perfect"/source.name)
    settings = load_settings()
    read_paths = tuple(str(Path(p).resolve()) for p in (settings.data_dir, settings.model_dir))
    [result] = grade(tmp_path/"submissions", bundle, tmp_path/"gradebook.sqlite", workers=1, progress=False, landlock=True,
                     limits=Limits(timeout=900, cell_timeout=600, memory_mb=8192), read_paths=read_paths)
    assert (result.total, result.max_total) == (10, 10), result.notes
