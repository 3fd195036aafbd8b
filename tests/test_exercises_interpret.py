"""Mutation tests for the lesson-6 exercises (nbs/exercises/06_interpret.ipynb): the solutions pass every check, hidden ones included;
known-wrong answers fail with the intended message; the student version (solutions stripped) reads as not attempted."""
import json, textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from transfer_course.exercises import EXERCISES, INSTRUCTOR_ONLY, strip_hidden, strip_solutions

NOTEBOOK = Path(__file__).resolve().parent.parent/"nbs"/"exercises"/"06_interpret.ipynb"
NAMES = ["confusion_counts", "top_loss_indices", "gradcam_from", "espresso_share_right", "why_espresso"]


def code_cells(student: bool = False) -> list[str]:
    cells = [("".join(cell["source"])) for cell in json.loads(NOTEBOOK.read_text())["cells"] if cell["cell_type"] == "code"]
    cells = [source for source in cells if not source.lstrip().startswith(INSTRUCTOR_ONLY)]
    return [strip_hidden(strip_solutions(source)) for source in cells] if student else cells


def run_cells(cells: list[str]) -> dict:
    namespace = {"__name__": "__exercises__"}
    for source in cells:
        try: exec(compile(source, "<exercise cell>", "exec"), namespace)
        except NotImplementedError: pass # a student placeholder at the top level of a cell
    return namespace


@pytest.fixture(scope="module")
def instructor():
    namespace = run_cells(code_cells())
    return namespace, {name: EXERCISES[name] for name in NAMES}


def report(exercise, namespace, **answers):
    return exercise.check({**namespace, **answers})


def test_solutions_pass_every_check_including_hidden(instructor):
    namespace, exercises = instructor
    for name, exercise in exercises.items():
        result = report(exercise, namespace)
        assert result.status == "passed", str(result)
    assert sum(exercise.points for exercise in exercises.values()) == 12
    assert all(any(test.hidden for test in exercises[name].tests) for name in NAMES[:3])


def source_function(code: str, name: str, namespace: dict):
    scope = dict(namespace)
    exec(textwrap.dedent(code), scope)
    return scope[name]


CONFUSION_MUTANTS = {
    "transposed (rows = predicted)": ("""
        def confusion_counts(targets, predictions, n_classes):
            matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)
            for actual, predicted in zip(targets.tolist(), predictions.tolist()): matrix[predicted, actual] += 1
            return matrix""", "different values"),
    "one class too many": ("""
        def confusion_counts(targets, predictions, n_classes):
            matrix = torch.zeros(n_classes + 1, n_classes + 1, dtype=torch.int64)
            for actual, predicted in zip(targets.tolist(), predictions.tolist()): matrix[actual, predicted] += 1
            return matrix""", "shape"),
    "classes from the data (off by one when the last class is absent)": ("""
        def confusion_counts(targets, predictions, n_classes):
            size = int(max(targets.max(), predictions.max()))
            matrix = torch.zeros(size, size, dtype=torch.int64)
            for actual, predicted in zip(targets.tolist(), predictions.tolist()): matrix[actual, predicted] += 1
            return matrix""", "raised"),
    "float counts": ("""
        def confusion_counts(targets, predictions, n_classes):
            matrix = torch.zeros(n_classes, n_classes)
            for actual, predicted in zip(targets.tolist(), predictions.tolist()): matrix[actual, predicted] += 1
            return matrix""", "floating point"),
    "fraction of each row instead of counts": ("""
        def confusion_counts(targets, predictions, n_classes):
            matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)
            for actual, predicted in zip(targets.tolist(), predictions.tolist()): matrix[actual, predicted] += 1
            return matrix/matrix.sum(dim=1, keepdim=True)""", "floating point"),
}

LOSS_MUTANTS = {
    "smallest losses": ("""
        def top_loss_indices(logits, targets, k):
            return F.cross_entropy(logits, targets, reduction="none").topk(k, largest=False).indices.tolist()""", "ACTUAL class"),
    "least confident prediction (ignores the actual class)": ("""
        def top_loss_indices(logits, targets, k):
            return logits.softmax(dim=1).amax(dim=1).topk(k, largest=False).indices.tolist()""", "ACTUAL class"),
    "probability of the predicted class, highest first": ("""
        def top_loss_indices(logits, targets, k):
            return logits.softmax(dim=1).amax(dim=1).topk(k).indices.tolist()""", "ACTUAL class"),
    "a tensor instead of a list": ("""
        def top_loss_indices(logits, targets, k):
            return F.cross_entropy(logits, targets, reduction="none").topk(k).indices""", "list"),
}

CAM_MUTANTS = {
    "forgot the ReLU": ("""
        def gradcam_from(activations, gradients):
            return (gradients.mean(dim=(2, 3), keepdim=True)*activations).sum(dim=1)""", "different values"),
    "max gradient instead of the average": ("""
        def gradcam_from(activations, gradients):
            return F.relu((gradients.amax(dim=(2, 3), keepdim=True)*activations).sum(dim=1))""", "different values"),
    "gradient times activation, not averaged per channel": ("""
        def gradcam_from(activations, gradients):
            return F.relu((gradients*activations).sum(dim=1))""", "different values"),
    "averaged over channels instead of summed": ("""
        def gradcam_from(activations, gradients):
            return F.relu((gradients.mean(dim=(2, 3), keepdim=True)*activations).mean(dim=1))""", "different values"),
    "kept the channel dimension": ("""
        def gradcam_from(activations, gradients):
            return F.relu((gradients.mean(dim=(2, 3), keepdim=True)*activations).sum(dim=1, keepdim=True))""", "shape"),
}


@pytest.mark.parametrize("exercise_name, mutants", [("confusion_counts", CONFUSION_MUTANTS), ("top_loss_indices", LOSS_MUTANTS), ("gradcam_from", CAM_MUTANTS)])
def test_function_mutants_fail_with_the_intended_message(instructor, exercise_name, mutants):
    namespace, exercises = instructor
    for description, (code, expected_message) in mutants.items():
        wrong = source_function(code, exercise_name, namespace)
        result = report(exercises[exercise_name], namespace, **{exercise_name: wrong})
        messages = " ".join(message for _, _, message in result.lines)
        assert result.status in ("failed", "partial"), f"mutant '{description}' passed: {result}"
        assert expected_message in messages, f"mutant '{description}': {messages}"


def test_espresso_share_mutants(instructor):
    namespace, exercises = instructor
    exercise, right = exercises["espresso_share_right"], namespace["espresso_share_right"]
    assert right > 0.8
    for wrong in (1 - right, 0.5, float(right*100)):
        result = report(exercise, namespace, espresso_share_right=wrong)
        assert result.status == "failed" and "off by" in str(result)
    assert report(exercise, namespace, espresso_share_right="0.9").status == "failed"
    assert report(exercise, namespace, espresso_share_right=...).status == "not_attempted"


def test_why_espresso_wrong_choices_explain(instructor):
    namespace, exercises = instructor
    assert "lies on the cup" in str(report(exercises["why_espresso"], namespace, why_espresso="A"))
    assert "no trainable parameter" in str(report(exercises["why_espresso"], namespace, why_espresso="C"))
    assert "not one of the options" in str(report(exercises["why_espresso"], namespace, why_espresso="D"))


def test_student_version_has_no_solutions_and_reads_not_attempted():
    cells = code_cells(student=True)
    text = "\n".join(cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "    return matrix" not in text and "hidden=True" not in text
    assert "F.relu((weights*activations)" not in text and 'why_espresso = "B"' not in text
    namespace = run_cells(cells)
    for name in NAMES:
        result = EXERCISES[name].check(namespace)
        assert result.status == "not_attempted", str(result)
        assert all(not test.hidden for test in EXERCISES[name].tests)
