"""assign / grade / export end to end through the CLI, leak checks, bundle hashes and gradebook transactions."""
import csv, json, os, signal, sqlite3, subprocess, sys, time
from pathlib import Path

import nbformat, psutil, pytest
from nbclient import NotebookClient

from transfer_course.exercises import HIDDEN_BEGIN
from transfer_course.grading.assign import secret_lines
from transfer_course.grading.bundle import BundleError, load_bundle
from transfer_course.grading.gradebook import ExerciseOutcome, SubmissionResult, TestOutcome as Outcome, open_gradebook, record_result
from transfer_course.testing.grading import tiny_assignment_notebook

CLI = Path(sys.executable).parent/"transfer-course"
ENV = {**os.environ, "TRANSFER_COURSE_OFFLINE": "1"}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    nbformat.write(tiny_assignment_notebook(), root/"tiny.ipynb")
    done = subprocess.run([str(CLI), "assign", str(root/"tiny.ipynb"), "--out", str(root/"release")], capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    return root


def test_no_solution_or_hidden_test_reaches_students(release):
    instructor = nbformat.read(release/"tiny.ipynb", as_version=4)
    student_text = (release/"release"/"student"/"tiny.ipynb").read_text()
    secrets = secret_lines(instructor)
    assert {"return values * 2", "cat_label = 'tabby'  ### SOLUTION"} <= secrets
    assert [line for line in secrets if line in student_text or json.dumps(line)[1:-1] in student_text] == []
    assert "ones(2, 2) * 7" not in student_text and HIDDEN_BEGIN not in student_text and "all_checks_pass" not in student_text
    student = nbformat.read(release/"release"/"student"/"tiny.ipynb", as_version=4)
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in student.cells if c.cell_type == "code")
    assert 'declare_hidden_tests(\'double\', count=1, weight=1)' in student_text


def test_student_notebook_runs_and_reports_not_attempted(release):
    student = nbformat.read(release/"release"/"student"/"tiny.ipynb", as_version=4)
    NotebookClient(student, timeout=60, resources={"metadata": {"path": str(release)}}).execute()  # raises on any error
    reports = [o.get("data", {}).get("text/plain", "") for c in student.cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(reports)
    assert text.count("not attempted yet") == 2, text
    assert "1 hidden check will run when your work is graded" in text and "(1 point)" in text


def test_tampered_bundle_is_refused(release, tmp_path):
    import shutil
    shutil.copytree(release/"release", tmp_path/"release")
    bundle_file = tmp_path/"release"/"autograder"/"bundle.json"
    bundle_file.write_text(bundle_file.read_text().replace('"points": 2', '"points": 200'))
    with pytest.raises(BundleError, match="modified"): load_bundle(tmp_path/"release"/"autograder")
    (tmp_path/"subs"/"a").mkdir(parents=True)
    done = subprocess.run([str(CLI), "grade", str(tmp_path/"subs"), "--bundle", str(tmp_path/"release"/"autograder"), "--db", str(tmp_path/"g.sqlite")],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 2 and "hash" in done.stderr


def result(student, score, message="msg"):
    tests = [Outcome(0, "double(x)", False, 1.0, "passed" if score else "failed", message)]
    return SubmissionResult(student, "tiny", [ExerciseOutcome("double", "tiny", score, 2.0, "passed" if score else "failed", tests)], [], 1.0)


def test_regrade_replaces_rows_atomically(tmp_path):
    connection = open_gradebook(tmp_path/"g.sqlite")
    record_result(connection, result("ann", 0.0))
    record_result(connection, result("ann", 2.0))
    assert connection.execute("SELECT total FROM submissions").fetchall() == [(2.0,)]
    assert connection.execute("SELECT COUNT(*) FROM test_results").fetchone()[0] == 1
    broken = result("ann", 1.0, message=object())  # sqlite cannot store this: the insert fails mid-transaction
    with pytest.raises(sqlite3.Error): record_result(connection, broken)
    assert connection.execute("SELECT total FROM submissions WHERE student_id='ann'").fetchall() == [(2.0,)]
    assert connection.execute("SELECT status, message FROM test_results").fetchall() == [("passed", "msg")]


def write_submissions(release, folder, students):
    for student, body in students.items():
        notebook = nbformat.read(release/"release"/"student"/"tiny.ipynb", as_version=4)
        notebook.cells[3].source = f"def double(values):\n    {body}"
        notebook.cells[7].source = "cat_label = 'tabby'"
        (folder/student).mkdir(parents=True)
        nbformat.write(notebook, folder/student/"tiny.ipynb")


def test_cli_grade_and_export(release, tmp_path):
    write_submissions(release, tmp_path/"subs", {"ann": "return values * 2", "ben": "return values * 3"})
    done = subprocess.run([str(CLI), "grade", str(tmp_path/"subs"), "--bundle", str(release/"release"/"autograder"), "--db", str(tmp_path/"g.sqlite"),
                           "--workers", "2", "--timeout", "60", "--cell-timeout", "20", "--quiet"], capture_output=True, text=True, env=ENV, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ann", "3/3", "ben", "1/3"]
    done = subprocess.run([str(CLI), "export", "--db", str(tmp_path/"g.sqlite"), "--csv", str(tmp_path/"grades.csv"),
                           "--gradescope", str(tmp_path/"gs"), "--feedback", str(tmp_path/"fb")], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(open(tmp_path/"grades.csv")))
    assert [(r["student_id"], float(r["total"]), float(r["max_total"]), float(r["double"]), float(r["cat_label"])) for r in rows] == \
           [("ann", 3.0, 3.0, 2.0, 1.0), ("ben", 1.0, 3.0, 0.0, 1.0)]
    gradescope = json.loads((tmp_path/"gs"/"ben"/"results.json").read_text())
    assert gradescope["score"] == 1.0 and gradescope["max_score"] == 3.0 and {t["name"] for t in gradescope["tests"]} == {"double", "cat_label"}
    for text in [(tmp_path/"fb"/"ben.html").read_text(), json.dumps(gradescope)]:
        assert "ones(2, 2) * 7" not in text and "hidden check 2 (a 2-d tensor)" in text
        assert "different values" in text  # the teaching message is there


def test_crash_mid_run_keeps_earlier_results(release, tmp_path):
    "Kill the grader (SIGKILL) while it grades the 3rd student: the first two stay committed, the database is intact, no kernel survives."
    students = {"a1": "return values * 2", "a2": "return values * 2", "a3": "import time; time.sleep(60)"}
    write_submissions(release, tmp_path/"subs", students)
    nb = nbformat.read(tmp_path/"subs"/"a3"/"tiny.ipynb", as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell("import time\ntime.sleep(60)")); nbformat.write(nb, tmp_path/"subs"/"a3"/"tiny.ipynb")
    grader = subprocess.Popen([str(CLI), "grade", str(tmp_path/"subs"), "--bundle", str(release/"release"/"autograder"), "--db", str(tmp_path/"g.sqlite"),
                               "--workers", "1", "--quiet"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            if sqlite3.connect(tmp_path/"g.sqlite").execute("SELECT COUNT(*) FROM submissions").fetchone()[0] >= 2: break
        except sqlite3.Error: pass
    time.sleep(3)  # a3 is now running its sleeping cell
    kernels = [p for p in psutil.Process(grader.pid).children(recursive=True)]
    grader.send_signal(signal.SIGKILL); grader.wait()
    connection = sqlite3.connect(tmp_path/"g.sqlite")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT student_id, total FROM submissions ORDER BY student_id").fetchall() == [("a1", 3.0), ("a2", 3.0)]
    assert connection.execute("SELECT status FROM runs").fetchall() == [("running",)]  # the run shows it never finished
    gone, alive = psutil.wait_procs(kernels, timeout=10)
    assert alive == [], alive  # kernels die with their grader (PR_SET_PDEATHSIG)
