"""Late work, solutions release and the Canvas export (issue 15, items 3-5) with real kernels and a real SQLite gradebook.

One module-scoped grading run of the tiny assignment (three students) feeds every test; bad input must get a clear
error and leave the gradebook byte-for-byte as it was."""
import contextlib, csv, io, json, os, sqlite3, subprocess, sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat, pytest

from transfer_course.grading.assign import assign
from transfer_course.grading.autograde import Limits, grade
from transfer_course.grading.bundle import load_bundle
from transfer_course.grading.export import feedback_html
from transfer_course.grading.gradebook import SCHEMA_VERSION, _NEW_COLUMNS, open_gradebook
from transfer_course.testing.grading import tiny_assignment_notebook

CLI = Path(sys.executable).parent/"transfer-course"
ENV = {**os.environ, "TRANSFER_COURSE_OFFLINE": "1"}
DUE = "2026-03-01T23:59:00-06:00"  # = 2026-03-02T05:59:00Z
LIMITS = Limits(timeout=60, cell_timeout=20, memory_mb=2048)


def run_cli(*args):
    "`transfer-course ARGS` as a user runs it, in a subprocess."
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=ENV, timeout=120)


def cli(*args):
    "The same command through `transfer_course.cli.main` in this process (parser and runner as in the shell): faster."
    from transfer_course.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main(list(map(str, args)))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def hand_in(release: Path, folder: Path, student: str, double_body: str) -> None:
    "A filled-in copy of the released notebook (answer cells found by their content)."
    notebook = nbformat.read(release/"student"/"tiny.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith("def double"):
            cell.source = f"def double(values):\n    {double_body}"
        elif cell.cell_type == "code" and cell.source.startswith("cat_label"):
            cell.source = "cat_label = 'tabby'"
    (folder/student).mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder/student/"tiny.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("term")
    nbformat.write(tiny_assignment_notebook(), root/"tiny.ipynb")
    assign([root/"tiny.ipynb"], root/"release")
    for student, body in {"ann": "return values * 2", "ben": "return values * 3", "cat": "return values * 2"}.items():
        hand_in(root/"release", root/"subs", student, body)
    bundle = load_bundle(root/"release"/"autograder")
    grade(root/"subs", bundle, root/"g.sqlite", workers=2, limits=LIMITS, progress=False)
    (root/"times.csv").write_text("student_id,submitted_at\n"
                                  "ann,2026-03-01T23:50:00-06:00\n"        # on time
                                  "ben,2026-03-03T08:00:00Z\n"             # 1 day 2 h 1 min late: 2 days
                                  "cat,2026-03-02T06:10:00+00:00\n")       # 11 min late: within the grace
    return root, bundle


def penalties(db):
    with sqlite3.connect(db) as connection:
        return dict(((s, (t, p, pen)) for s, t, p, pen in connection.execute(
            "SELECT student_id, total, penalty_percent, penalty FROM submissions")))


def dump(db) -> str:
    with sqlite3.connect(db) as connection: return "\n".join(connection.iterdump())


def test_late_penalties_are_stored_beside_the_raw_score_and_shown_everywhere(course, tmp_path):
    root, _ = course
    done = run_cli("late", "--db", root/"g.sqlite", "--assignment", "tiny", "--due", DUE, "--percent", 10, "--cap", 50,
               "--grace", 15, "--times", root/"times.csv")
    assert done.returncode == 0, done.stderr
    assert "2 late submission(s)" in done.stdout and "1 day 2 h 1 min late\t-20%\t1 -> 0.8" in done.stdout
    assert "11 min late\twithin the grace: no penalty" in done.stdout
    assert penalties(root/"g.sqlite") == {"ann": (3.0, 0.0, 0.0), "ben": (1.0, 20.0, 0.2), "cat": (3.0, 0.0, 0.0)}
    done = cli("export", "--db", root/"g.sqlite", "--csv", tmp_path/"grades.csv", "--gradescope", tmp_path/"gs",
               "--feedback", tmp_path/"fb", "--canvas", tmp_path/"canvas.csv", "--canvas-id", "tiny=4321")
    assert done.returncode == 0, done.stderr
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path/"grades.csv"))}
    assert (rows["ben"]["total"], rows["ben"]["raw_total"], rows["ben"]["late_penalty"]) == ("0.8", "1.0", "0.2")
    assert rows["ben"]["submitted_at"] == "2026-03-03T08:00:00+00:00"
    gradescope = json.loads((tmp_path/"gs"/"ben"/"results.json").read_text())
    assert gradescope["score"] == 0.8 and "Late penalty: 20% of 1 = 0.2 points." in gradescope["output"]
    page = (tmp_path/"fb"/"ben.html").read_text()
    assert "0.8 / 3" in page and "1 day 2 h 1 min after the due date" in page and "takes 20% of your 1 point," in page
    assert "late" not in (tmp_path/"fb"/"ann.html").read_text().split("<body>")[1].split("<h2>")[0]
    canvas = list(csv.reader(open(tmp_path/"canvas.csv")))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "tiny (4321)"]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "3"]
    assert canvas[2:] == [["ann", "", "ann", "", "", "3.0"], ["ben", "", "ben", "", "", "0.8"],
                          ["cat", "", "cat", "", "", "3.0"]]


def test_canvas_roster_fills_ids_and_refuses_unknown_students(course, tmp_path):
    root, _ = course
    (tmp_path/"roster.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Old quiz (12)\n    Points Possible,,,,,5\n"
        '"Ng, Ann",501,ann,ann@u.edu,S1,4\n"Bo, Ben",502,ben,ben@u.edu,S2,5\n')
    done = cli("export", "--db", root/"g.sqlite", "--canvas", tmp_path/"c.csv", "--canvas-roster", tmp_path/"roster.csv")
    assert done.returncode == 1 and "missing from the Canvas roster: cat" in done.stderr
    assert not (tmp_path/"c.csv").exists()  # nothing half-written
    with open(tmp_path/"roster.csv", "a") as handle: handle.write('"Cat, Cat",503,cat,cat@u.edu,S1,3\n')
    done = cli("export", "--db", root/"g.sqlite", "--canvas", tmp_path/"c.csv", "--canvas-roster", tmp_path/"roster.csv")
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(open(tmp_path/"c.csv")))[2][:5] == ["Ng, Ann", "501", "ann", "ann@u.edu", "S1"]


def test_policy_and_extension_changes_give_the_new_penalty_on_regrade(course):
    root, bundle = course
    assert cli("late", "--db", root/"g.sqlite", "--assignment", "tiny", "--due", DUE, "--percent", 1, "--unit", "hour",
               "--times", root/"times.csv").returncode == 0  # 26 h 1 min late: 27 started hours
    assert penalties(root/"g.sqlite")["ben"] == (1.0, 27.0, 0.27)
    (root/"ext.csv").write_text("student_id,due\nben,2026-03-03T07:00:00Z\n")
    assert cli("late", "--db", root/"g.sqlite", "--assignment", "tiny", "--extensions", root/"ext.csv").returncode == 0
    assert penalties(root/"g.sqlite")["ben"] == (1.0, 1.0, 0.01)  # 1 h late after the extension
    hand_in(root/"release", root/"subs", "ben", "return values * 2")  # ben's fixed notebook, regraded
    grade(root/"subs", bundle, root/"g.sqlite", workers=1, limits=LIMITS, progress=False, students=["ben"])
    assert penalties(root/"g.sqlite")["ben"] == (3.0, 1.0, 0.03)  # new raw score, penalty from the current rules


@pytest.mark.parametrize("content, message", [
    ("student_id,submitted_at\nann,2026-03-01T23:50:00-06:00\nben,2026-03-03 08:00\n",
     "times.csv line 3: '2026-03-03 08:00' has no timezone"),
    ("student_id,submitted_at\nann,yesterday\n", "times.csv line 2: 'yesterday' is not an ISO 8601 time"),
    ("name,time\nann,2026-03-01T23:50:00Z\n", "times.csv line 1: the header ['name', 'time'] has no student_id"),
    ("student_id,submitted_at\nann,2026-03-01T23:50:00Z\nann,2026-03-01T23:51:00Z\n",
     "times.csv line 3: 'ann' is listed again (first on line 2)"),
    ("student_id,submitted_at\nann,2026-03-01T23:50:00Z,extra\n", "times.csv line 2: 3 fields where the header has 2"),
])
def test_malformed_times_file_is_refused_and_changes_nothing(course, tmp_path, content, message):
    root, _ = course
    before = dump(root/"g.sqlite")
    (tmp_path/"times.csv").write_text(content)
    done = cli("late", "--db", root/"g.sqlite", "--assignment", "tiny", "--due", "2026-04-01T00:00:00Z",
               "--times", tmp_path/"times.csv")
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert dump(root/"g.sqlite") == before  # the new due date was not stored either


def test_unknown_student_in_extensions_is_refused_and_changes_nothing(course, tmp_path):
    root, _ = course
    before = dump(root/"g.sqlite")
    (tmp_path/"ext.csv").write_text("student_id,days\nann,1\nbenn,2\n")
    done = cli("late", "--db", root/"g.sqlite", "--assignment", "tiny", "--extensions", tmp_path/"ext.csv")
    assert done.returncode == 1 and "ext.csv line 3: unknown student 'benn'" in done.stderr, done.stderr
    assert dump(root/"g.sqlite") == before


def test_release_solutions_refuses_before_the_due_date_and_withholds_hidden_tests(course, tmp_path):
    root, _ = course
    future = "2999-01-01T00:00:00Z"
    done = run_cli("release-solutions", root/"tiny.ipynb", "--release", root/"release", "--due", future,
                   "--out", tmp_path/"s")
    assert done.returncode == 1 and "before the due date" in done.stderr and "--force" in done.stderr
    assert not (tmp_path/"s").exists()
    done = cli("release-solutions", root/"tiny.ipynb", "--release", root/"release", "--db", root/"g.sqlite",
               "--assignment", "tiny", "--out", tmp_path/"s")  # the stored due date (and extension) have passed
    assert done.returncode == 0, done.stderr
    text = (tmp_path/"s"/"tiny.ipynb").read_text()
    assert "return values * 2" in text and "cat_label = 'tabby'  ### SOLUTION" in text
    assert "ones(2, 2) * 7" not in text and "all_checks_pass" not in text and "NotImplementedError" not in text
    assert "Answer: `tabby`" in text and "A goldfish is a fish." in text  # the multiple-choice explanation
    done = cli("release-solutions", root/"tiny.ipynb", "--release", root/"release", "--due", future, "--force",
               "--include-hidden", "--out", tmp_path/"h")
    assert done.returncode == 0, done.stderr
    assert "ones(2, 2) * 7" in (tmp_path/"h"/"tiny.ipynb").read_text()


def test_released_solutions_pass_their_own_checks(course, tmp_path):
    "The solution notebook runs top to bottom in a real kernel and every check passes."
    from nbclient import NotebookClient
    root, _ = course
    assert cli("release-solutions", root/"tiny.ipynb", "--release", root/"release", "--due", DUE,
               "--out", tmp_path/"s").returncode == 0
    notebook = nbformat.read(tmp_path/"s"/"tiny.ipynb", as_version=4)
    NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(tmp_path/"s")}}).execute()
    text = "\n".join(o.get("data", {}).get("text/plain", "") + o.get("text", "")
                     for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "not attempted" not in text and text.count("passed") >= 2, text


OLD_SCHEMA = """CREATE TABLE runs(run_id INTEGER PRIMARY KEY, assignment TEXT, bundle_sha256 TEXT, started REAL,
    finished REAL, submissions INTEGER, status TEXT);
CREATE TABLE submissions(assignment TEXT, student_id TEXT, run_id INTEGER, graded_at REAL,
    notebook_sha256 TEXT, total REAL, max_total REAL, seconds REAL, notes TEXT, PRIMARY KEY(assignment, student_id));
CREATE TABLE exercise_scores(assignment TEXT, student_id TEXT, exercise TEXT, notebook TEXT, score REAL,
    max_score REAL, status TEXT, PRIMARY KEY(assignment, student_id, exercise));
CREATE TABLE test_results(assignment TEXT, student_id TEXT, exercise TEXT, test_index INTEGER, label TEXT,
    hidden INTEGER, weight REAL, status TEXT, message TEXT, PRIMARY KEY(assignment, student_id, exercise, test_index));
INSERT INTO submissions VALUES ('tiny', 'ann', 1, 0, 'abc', 2.0, 3.0, 1.5, '["a note"]');
INSERT INTO exercise_scores VALUES ('tiny', 'ann', 'double', 'tiny', 1.0, 2.0, 'partial');"""


def test_old_gradebook_is_migrated_in_one_transaction(tmp_path, monkeypatch):
    import transfer_course.grading.gradebook as gradebook
    for name in ("ok", "broken"):
        old = sqlite3.connect(tmp_path/f"{name}.sqlite"); old.executescript(OLD_SCHEMA); old.close()
    before = dump(tmp_path/"broken.sqlite")
    # a migration that fails after its first ALTER TABLE leaves the file exactly as it was
    monkeypatch.setattr(gradebook, "_NEW_COLUMNS", {**_NEW_COLUMNS, "zz_broken": "REAL DEFAULT (1/"})
    with pytest.raises(sqlite3.Error): open_gradebook(tmp_path/"broken.sqlite")
    assert dump(tmp_path/"broken.sqlite") == before
    monkeypatch.undo()
    connection = open_gradebook(tmp_path/"ok.sqlite")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("SELECT total, penalty, execution_seconds, submitted_at FROM submissions").fetchall() == \
        [(2.0, 0.0, 0.0, None)]
    assert "a note" in feedback_html(connection, "tiny", "ann")
