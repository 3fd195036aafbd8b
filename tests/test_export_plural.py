"""Feedback and Gradescope output say "1 point", never "1 points" (issue 14: correct plurals in feedback)."""
from datetime import datetime, timezone

from transfer_course.grading.export import _gradescope_result, feedback_html
from transfer_course.grading.gradebook import (ExerciseOutcome, LatePolicy, SubmissionResult, TestOutcome, open_gradebook,
    record_result, update_late_work)


def _gradebook(tmp_path, points: float, percent: float):
    "One student, one exercise worth `points` (all earned), handed in a day late under a `percent` late policy."
    connection = open_gradebook(tmp_path/"gradebook.sqlite")
    exercise = ExerciseOutcome("only", "tiny", points, points, "passed", [TestOutcome(0, "only()", False, 1.0, "passed", "Correct.")])
    record_result(connection, SubmissionResult("ada", "tiny", [exercise], [], 1.0))
    update_late_work(connection, "tiny", LatePolicy(datetime(2026, 3, 1, tzinfo=timezone.utc), percent=percent),
                     times={"ada": datetime(2026, 3, 2, tzinfo=timezone.utc)})
    return connection


def _outputs(connection) -> tuple[str, str]:
    total, max_total, notes, penalty, percent = connection.execute(
        "SELECT total, max_total, notes, penalty, penalty_percent FROM submissions WHERE student_id='ada'").fetchone()
    gradescope = _gradescope_result(connection, "tiny", "ada", total, max_total, notes, penalty, percent)["output"]
    return gradescope, " ".join(feedback_html(connection, "tiny", "ada").split())


def test_one_point_is_singular(tmp_path):
    connection = _gradebook(tmp_path, points=1.0, percent=100)  # 1 point earned, the whole point taken
    gradescope, page = _outputs(connection)
    assert "1 points" not in gradescope and "1 points" not in page, (gradescope, page)
    assert "= 1 point." in gradescope, gradescope
    assert "of your 1 point, 1 point." in page and "/ 1 point</b>" in page, page


def test_other_counts_are_plural(tmp_path):
    connection = _gradebook(tmp_path, points=2.0, percent=25)
    gradescope, page = _outputs(connection)
    assert "Late penalty: 25% of 2 = 0.5 points." in gradescope, gradescope
    assert "of your 2 points, 0.5 points." in page and "/ 2 points</b>" in page, page
