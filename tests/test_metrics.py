"Metrics: one contract each ((N, C) scores, (N,) targets), hand-computed values, sklearn agreement, clear errors."
import math

import numpy as np
import pytest
import torch

from transfer_course.metrics import accuracy, confusion_matrix, per_class_accuracy, top_k_accuracy

# 6 examples, 4 classes; predictions (argmax) = [0, 1, 3, 2, 0, 1]; class 3 never occurs as a target
SCORES = torch.tensor([[5., 1., 0., 2.],    # actual 0, predicted 0
                       [0., 4., 3., 1.],    # actual 1, predicted 1
                       [1., 0., 2., 3.],    # actual 2, predicted 3 (2 is second)
                       [0., 1., 4., 0.5],   # actual 2, predicted 2
                       [3., 0., 1., 2.],    # actual 1, predicted 0 (1 is fourth)
                       [0., 2., 1., 1.5]])  # actual 0, predicted 1 (0 is fourth)
TARGETS = torch.tensor([0, 1, 2, 2, 1, 0])


def test_hand_computed_values():
    assert accuracy(SCORES, TARGETS) == pytest.approx(3/6)
    assert [top_k_accuracy(SCORES, TARGETS, k) for k in (1, 2, 3, 4)] == pytest.approx([3/6, 4/6, 4/6, 1.0])
    assert confusion_matrix(SCORES, TARGETS, 4).tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]]
    per_class = per_class_accuracy(SCORES, TARGETS)
    assert per_class.dtype == torch.float64 and per_class[:3].tolist() == [0.5, 0.5, 0.5] and math.isnan(per_class[3])


def test_inputs_may_be_arrays_lists_probabilities_or_low_precision():
    expected = accuracy(SCORES, TARGETS)
    assert accuracy(SCORES.numpy(), TARGETS.numpy()) == expected
    assert accuracy(SCORES.tolist(), TARGETS.tolist()) == expected
    assert accuracy(SCORES.softmax(dim=1), TARGETS) == expected  # probabilities: same order
    assert accuracy(SCORES.to(torch.bfloat16), TARGETS.int()) == expected
    assert confusion_matrix(SCORES.argmax(1).numpy(), TARGETS, 4).tolist() == confusion_matrix(SCORES, TARGETS, 4).tolist()


def test_confusion_matrix_rows_are_actual_classes():
    matrix = confusion_matrix(torch.tensor([1, 1, 1]), torch.tensor([0, 0, 2]), 3)
    assert matrix.dtype == torch.int64 and matrix.tolist() == [[0, 2, 0], [0, 0, 0], [0, 1, 0]]
    assert matrix.sum(dim=1).tolist() == [2, 0, 1]  # row sums = examples of each actual class


def test_agreement_with_sklearn_on_random_predictions():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    generator = torch.Generator().manual_seed(0)
    scores, targets = torch.randn(500, 7, generator=generator), torch.randint(0, 7, (500,), generator=generator)
    predictions = scores.argmax(1).numpy()
    assert accuracy(scores, targets) == pytest.approx(sklearn_metrics.accuracy_score(targets, predictions))
    for k in (1, 3, 6):
        assert top_k_accuracy(scores, targets, k) == pytest.approx(
            sklearn_metrics.top_k_accuracy_score(targets, scores.numpy(), k=k, labels=range(7)))
    np.testing.assert_array_equal(confusion_matrix(scores, targets, 7).numpy(),
                                  sklearn_metrics.confusion_matrix(targets, predictions, labels=range(7)))
    np.testing.assert_allclose(per_class_accuracy(scores, targets).numpy(),
                               sklearn_metrics.recall_score(targets, predictions, average=None, labels=range(7)))


@pytest.mark.parametrize("call, message", [
    (lambda: accuracy(SCORES, TARGETS[:5]), "6 rows of scores but 5 targets"),
    (lambda: accuracy(SCORES[0], TARGETS[:1]), r"expected \(N, C\) scores"),
    (lambda: accuracy(SCORES, TARGETS[:, None]), "targets must be N class indices"),
    (lambda: accuracy(SCORES, TARGETS.float()), "targets must be N class indices"),
    (lambda: accuracy(SCORES, torch.tensor([0, 1, 2, 2, 1, 4])), r"targets must lie in 0..3"),
    (lambda: accuracy(SCORES, torch.tensor([0, 1, 2, 2, 1, -1])), r"targets must lie in 0..3"),
    (lambda: accuracy(SCORES[:0], TARGETS[:0]), "no examples"),
    (lambda: top_k_accuracy(SCORES, TARGETS, 0), r"between 1 and the number of classes \(4\), got 0"),
    (lambda: top_k_accuracy(SCORES, TARGETS, 5), r"between 1 and the number of classes \(4\), got 5"),
    (lambda: confusion_matrix(SCORES, TARGETS, 3), "4 columns but n_classes is 3"),
    (lambda: confusion_matrix(torch.tensor([0, 5]), torch.tensor([0, 1]), 3), r"must lie in 0..2"),
    (lambda: confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 3]), 3), r"must lie in 0..2"),
    (lambda: confusion_matrix(torch.zeros(2, 3, 4), torch.tensor([0, 1]), 3), r"\(N,\) predictions"),
    (lambda: per_class_accuracy(SCORES, TARGETS, n_classes=5), "4 columns but n_classes is 5"),
])
def test_wrong_inputs_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message): call()


def test_metrics_do_not_change_their_inputs():
    scores, targets = SCORES.clone(), TARGETS.clone()
    accuracy(scores, targets); top_k_accuracy(scores, targets, 2); per_class_accuracy(scores, targets)
    confusion_matrix(scores, targets, 4)
    assert torch.equal(scores, SCORES) and torch.equal(targets, TARGETS)


def test_gradients_are_not_needed():
    scores = SCORES.clone().requires_grad_()
    assert accuracy(scores, TARGETS) == 0.5 and per_class_accuracy(scores, TARGETS)[0] == 0.5
