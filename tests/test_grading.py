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
    notebook = tiny_assignment_notebook()
    # As `make outputs` stamps an instructor notebook: a hash of its code, solutions included (must not reach students).
    notebook.metadata["transfer_course"] = {"outputs": {"code_sha256": "0" * 64, "mode": "full"}}
    nbformat.write(notebook, root/"tiny.ipynb")
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
    assert "transfer_course" not in student.metadata and "code_sha256" not in student_text
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


# --- the web fixture's port (issue 14): assign records it, grade opens it, --no-fixture-port closes it ---
WEB_SETUP = ("import urllib.request\nfrom transfer_course.exercises import Exercise\nfrom transfer_course import checks\n"
             "from transfer_course.testing.web import MockWeb\nweb = MockWeb(photos=[]).start()")
WEB_TESTS = """ex_status = Exercise("page_status", points=2, answer="page_status")
ex_status.add_test("page_status(web.url('status/200'))", checks.equals(200))
### BEGIN HIDDEN TESTS
ex_status.add_test("page_status(web.url('status/201'))", checks.equals(201), hidden=True, description="another page")
### END HIDDEN TESTS"""


def web_assignment_notebook() -> nbformat.NotebookNode:
    "A one-exercise instructor notebook that starts the course's MockWeb and fetches a page from it."
    new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [new_md("# Web assignment"), new_code(WEB_SETUP),
             new_md("**Exercise.** Write `page_status(url)`: fetch the page and return its body as an int."),
             new_code("def page_status(url):\n    ### BEGIN SOLUTION\n    return int(urllib.request.urlopen(url, timeout=10).read())\n"
                      "    ### END SOLUTION"),
             new_code(WEB_TESTS), new_code("ex_status.check()")]
    for index, cell in enumerate(cells): cell.id = f"w{index:02d}"
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec})


def release_web_assignment(root: Path) -> Path:
    "Assign the web notebook into root/release and put its perfect submission (the release with the solution back) in root/subs/ada."
    from tests.test_exercise_release import perfect_notebook
    from transfer_course.grading.assign import assign
    instructor = web_assignment_notebook()
    nbformat.write(instructor, root/"web.ipynb")
    assign([root/"web.ipynb"], root/"release", cell_timeout=60)
    student = nbformat.read(root/"release"/"student"/"web.ipynb", as_version=4)
    (root/"subs"/"ada").mkdir(parents=True)
    nbformat.write(perfect_notebook(instructor, student), root/"subs"/"ada"/"web.ipynb")
    return root


@pytest.fixture(scope="module")
def web_release(tmp_path_factory):
    "The web notebook assigned, and its perfect submission for student 'ada'."
    return release_web_assignment(tmp_path_factory.mktemp("web"))


def test_assign_records_whether_the_notebooks_use_the_web_fixture(web_release, release):
    "A notebook that imported transfer_course.testing.web gets fixture_port True; the tiny one (no web) False, in the JSON too."
    assert load_bundle(web_release/"release"/"autograder").fixture_port is True
    assert json.loads((web_release/"release"/"autograder"/"bundle.json").read_text())["fixture_port"] is True
    assert load_bundle(release/"release"/"autograder").fixture_port is False
    assert "transfer_course.testing.web" not in load_bundle(web_release/"release"/"autograder").preload


def test_bundle_without_the_key_loads_without_a_port_and_a_bad_value_is_refused(tmp_path):
    from transfer_course.grading.bundle import BUNDLE_FORMAT, write_bundle
    data = {"format": BUNDLE_FORMAT, "assignment": "old", "notebooks": {}, "preload": []}
    write_bundle(data, tmp_path/"old")
    assert load_bundle(tmp_path/"old"/"autograder").fixture_port is False
    write_bundle({**data, "fixture_port": "yes"}, tmp_path/"bad")
    with pytest.raises(BundleError, match="fixture_port"): load_bundle(tmp_path/"bad"/"autograder")


def test_grade_opens_the_port_the_bundle_asks_for_under_landlock(web_release, tmp_path):
    "Default Limits under Landlock: the kernel serves MockWeb on its one port and the perfect submission gets 2/2."
    from transfer_course.grading.autograde import Limits, grade
    from transfer_course.sandbox import landlock_abi
    if landlock_abi() < 4: pytest.skip("Landlock cannot restrict TCP on this Linux (ABI < 4)")
    bundle = load_bundle(web_release/"release"/"autograder")
    [result] = grade(web_release/"subs", bundle, tmp_path/"g.sqlite", workers=1, progress=False, landlock=True, limits=Limits(timeout=120))
    assert (result.total, result.max_total) == (2, 2), [(t.status, t.message) for e in result.exercises for t in e.tests] + list(result.notes)


def test_cli_no_fixture_port_denies_it_with_the_permission_error(web_release, tmp_path):
    "`grade --no-fixture-port` overrides the bundle: MockWeb cannot bind, 0/2, and the reason names the PermissionError."
    from transfer_course.sandbox import landlock_abi
    if landlock_abi() < 4: pytest.skip("Landlock cannot restrict TCP on this Linux (ABI < 4)")
    help_text = subprocess.run([str(CLI), "grade", "--help"], capture_output=True, text=True, env=ENV, timeout=60).stdout
    assert "--no-fixture-port" in help_text and "stay denied" in " ".join(help_text.split())
    done = subprocess.run([str(CLI), "grade", str(web_release/"subs"), "--bundle", str(web_release/"release"/"autograder"),
                           "--db", str(tmp_path/"g.sqlite"), "--workers", "1", "--quiet", "--timeout", "120", "--no-fixture-port"],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0 and "ada\t0/2" in done.stdout, (done.stdout, done.stderr)
    with sqlite3.connect(tmp_path/"g.sqlite") as connection:
        text = " ".join(str(v) for row in connection.execute("SELECT notes FROM submissions UNION ALL SELECT message FROM test_results")
                        for v in row)
    assert "PermissionError" in text, text[:2000]

