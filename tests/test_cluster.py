"""Grading on a real Dask cluster: a scheduler and two workers started as processes, as an instructor would start them.
Scores equal local grading's; a worker killed mid-run loses nothing and grades nothing twice; bad input loses nothing."""
import dataclasses, json, os, signal, socket, sqlite3, subprocess, sys, threading, time
from pathlib import Path

import nbformat, psutil, pytest

from transfer_course.grading import cluster
from transfer_course.grading.assign import assign
from transfer_course.grading.autograde import Limits, grade
from transfer_course.grading.bundle import load_bundle
from transfer_course.testing.grading import tiny_assignment_notebook

BIN = Path(sys.executable).parent
ENV = {**os.environ, "TRANSFER_COURSE_OFFLINE": "1", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
LIMITS = Limits(timeout=60, cell_timeout=4)
# student -> (body of double, extra cell run before the tests): right, wrong, a time-out, a crash, nothing submitted
STUDENTS = {"ann": ("return values * 2", ""), "ben": ("return values + 2", ""),
            "cat": ("return values * 2", "import time\ntime.sleep(30)"), "dan": ("return values * 2", "import os\nos._exit(3)"),
            "eve": None}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    nbformat.write(tiny_assignment_notebook(), root/"tiny.ipynb")
    assign([root/"tiny.ipynb"], root/"release")
    return root


def write_submissions(release, folder, students):
    for student, answer in students.items():
        (folder/student).mkdir(parents=True)
        if answer is None: continue
        body, extra = answer
        notebook = nbformat.read(release/"release"/"student"/"tiny.ipynb", as_version=4)
        notebook.cells[3].source = f"def double(values):\n    {body}"
        notebook.cells[7].source = "cat_label = 'tabby'"
        if extra: notebook.cells.insert(4, nbformat.v4.new_code_cell(extra))
        nbformat.write(notebook, folder/student/"tiny.ipynb")
    return folder


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    "`dask scheduler` and two `dask worker --nworkers 1 --nthreads 1` processes; yields the scheduler's address."
    root = tmp_path_factory.mktemp("dask")
    started = []
    def start(*args, log):
        started.append(subprocess.Popen([str(BIN/"dask"), *args, "--no-dashboard"], env=ENV, cwd=root, start_new_session=True,
                                        stdout=open(root/log, "w"), stderr=subprocess.STDOUT))
    start("scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(root/"scheduler.json"), log="scheduler.log")
    deadline = time.monotonic() + 60
    while not (root/"scheduler.json").exists() and time.monotonic() < deadline: time.sleep(0.2)
    time.sleep(0.2)
    address = json.loads((root/"scheduler.json").read_text())["address"]
    for index in range(2):
        start("worker", address, "--nworkers", "1", "--nthreads", "1", "--death-timeout", "60", "--name", f"w{index}", log=f"worker{index}.log")
    from distributed import Client
    with Client(address, timeout=30, set_as_default=False) as client: client.wait_for_workers(2, timeout=90)
    yield address
    for process in reversed(started):
        try: os.killpg(process.pid, signal.SIGTERM)
        except OSError: pass
    for process in started:
        try: process.wait(15)
        except subprocess.TimeoutExpired: os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def graded(release, scheduler, tmp_path_factory):
    "The same submissions graded locally and on the cluster: (local results, cluster results, cluster gradebook)."
    root = tmp_path_factory.mktemp("graded")
    subs = write_submissions(release, root/"subs", STUDENTS)
    bundle, on_cluster = load_bundle(release/"release"/"autograder"), {}
    def run(): on_cluster["results"] = cluster.grade_on_cluster(subs, release/"release"/"autograder", root/"cluster.sqlite",
                                                                scheduler, limits=LIMITS, progress=False)
    remote = threading.Thread(target=run); remote.start()  # both at once: much of it is waiting for time-outs
    local = grade(subs, bundle, root/"local.sqlite", workers=2, limits=LIMITS, progress=False)
    remote.join(300)
    return local, on_cluster["results"], root/"cluster.sqlite"


def comparable(result):
    "What a student sees: every score, verdict, message and note (not the timings)."
    return {"exercises": [dataclasses.asdict(e) for e in result.exercises], "notes": result.notes, "sha": result.notebook_sha256}


def test_scores_identical_to_local_grading(graded):
    local, on_cluster, db = graded
    assert sorted(r.student_id for r in on_cluster) == sorted(STUDENTS)
    local_by, cluster_by = {r.student_id: r for r in local}, {r.student_id: r for r in on_cluster}
    assert {s: r.total for s, r in cluster_by.items()} == {"ann": 3.0, "ben": 1.0, "cat": 3.0, "dan": 3.0, "eve": 0.0}
    for student in STUDENTS: assert comparable(cluster_by[student]) == comparable(local_by[student]), student
    assert any("Cell 5" in note for note in cluster_by["cat"].notes)  # the time-out is graded, as locally, not retried
    assert any("ended the kernel" in note for note in cluster_by["dan"].notes)
    connection = sqlite3.connect(db)
    assert connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == len(STUDENTS)
    assert connection.execute("SELECT status, submissions FROM runs").fetchall() == [("finished", len(STUDENTS))]


def test_wrong_bundle_hash_is_each_submissions_reason(release, scheduler, tmp_path, monkeypatch):
    "Bundle bytes changed on the way: every worker refuses them, the grader retries once elsewhere, then records why."
    subs = write_submissions(release, tmp_path/"subs", {"ann": ("return values * 2", ""), "ben": ("return values * 2", "")})
    real = cluster.read_bundle
    def damaged(*args, **kwargs):
        bundle, raw = real(*args, **kwargs)
        return bundle, raw.replace(b'"points": 2', b'"points": 20')
    monkeypatch.setattr(cluster, "read_bundle", damaged)
    results = cluster.grade_on_cluster(subs, release/"release"/"autograder", tmp_path/"g.sqlite", scheduler, limits=LIMITS, progress=False)
    expected = load_bundle(release/"release"/"autograder").sha256
    received = __import__("hashlib").sha256(damaged(release/"release"/"autograder")[1]).hexdigest()
    assert sorted(r.student_id for r in results) == ["ann", "ben"] and {r.total for r in results} == {0.0}
    for result in results:
        note = " ".join(result.notes)
        assert expected in note and received in note and "changed on the way" in note
        assert len(set(__import__("re").findall(r"tcp://[\d.:]+", note))) == 2, note  # retried on the other worker
    feedback = sqlite3.connect(tmp_path/"g.sqlite").execute("SELECT message FROM test_results").fetchall()
    assert feedback and all(expected in message for (message,) in feedback)


def test_cli_grades_on_the_cluster(release, scheduler, graded, tmp_path):
    local = {r.student_id: r.total for r in graded[0]}
    done = subprocess.run([str(BIN/"transfer-course"), "grade", str(graded[2].parent/"subs"), "--bundle", str(release/"release"/"autograder"),
                           "--db", str(tmp_path/"g.sqlite"), "--scheduler", scheduler, "--timeout", "60", "--cell-timeout", "4",
                           "--students", "ann,ben,eve", "--feedback", str(tmp_path/"fb"), "--quiet"],
                          capture_output=True, text=True, env=ENV, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ann", f"{local['ann']:g}/3", "ben", f"{local['ben']:g}/3", "eve", f"{local['eve']:g}/3"]
    assert (tmp_path/"fb"/"ben.html").is_file()


def test_bad_input_is_refused_before_the_gradebook(release, tmp_path, capsys):
    "The command in this process (as `transfer-course grade` runs it): exit 1, a sentence saying what to do, no gradebook."
    from transfer_course.cli import main
    write_submissions(release, tmp_path/"subs", {"ann": ("return values * 2", "")})
    free = socket.socket(); free.bind(("127.0.0.1", 0)); port = free.getsockname()[1]; free.close()
    common = ["--bundle", str(release/"release"/"autograder"), "--db", str(tmp_path/"g.sqlite"), "--connect-timeout", "2",
              "--scheduler", f"tcp://127.0.0.1:{port}", "--quiet"]
    start = time.monotonic()
    assert main(["grade", str(tmp_path/"subs"), *common]) == 1
    error = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: start one with `dask scheduler`" in error, error
    assert time.monotonic() - start < 15
    (tmp_path/"empty").mkdir()
    assert main(["grade", str(tmp_path/"empty"), *common]) == 1
    assert "no student folders in" in capsys.readouterr().err
    assert main(["grade", str(tmp_path/"subs"), *common, "--bundle-sha256", "0" * 64]) == 2
    assert "grade refused" in capsys.readouterr().err
    assert not (tmp_path/"g.sqlite").exists()


def add_insert_counter(db):
    "A trigger counts every insert of a student's row: a student recorded twice is seen even though rows are replaced."
    connection = cluster.open_gradebook(db)
    connection.executescript("CREATE TABLE inserts(student_id TEXT); CREATE TRIGGER counted AFTER INSERT ON submissions "
                             "BEGIN INSERT INTO inserts VALUES (new.student_id); END;")
    connection.close()


def test_worker_killed_mid_run_loses_and_repeats_nothing(release, scheduler, tmp_path):
    "Last in this file: its worker restarts (the nanny) while the cluster is torn down."
    students = {f"s{i}": ("return values * 2", "import time\ntime.sleep(2.5)") for i in range(4)}
    subs = write_submissions(release, tmp_path/"subs", students)
    add_insert_counter(tmp_path/"g.sqlite")
    outcome = {}
    def run(): outcome["results"] = cluster.grade_on_cluster(subs, release/"release"/"autograder", tmp_path/"g.sqlite", scheduler,
                                                             limits=Limits(timeout=60, cell_timeout=20), progress=False)
    grading = threading.Thread(target=run); grading.start()
    from distributed import Client
    with Client(scheduler, timeout=30, set_as_default=False) as monitor:
        pids = monitor.run(os.getpid)
        victim, deadline = None, time.monotonic() + 90
        while victim is None and time.monotonic() < deadline:
            busy = {w: keys for w, keys in monitor.processing().items() if any(str(k).startswith("grade-") for k in keys)}
            started = bool(busy) and sqlite3.connect(tmp_path/"g.sqlite").execute("SELECT COUNT(*) FROM inserts").fetchone()[0] >= 1
            if started:
                time.sleep(1.0)  # inside a submission's sleeping cell
                busy = [w for w, keys in monitor.processing().items() if any(str(k).startswith("grade-") for k in keys)]
                if busy: victim = busy[0]
            else: time.sleep(0.2)
        assert victim, "no worker was ever seen grading"
        family = psutil.Process(pids[victim]).children(recursive=True)  # its kernels' fork server and kernels
        os.kill(pids[victim], signal.SIGKILL)
        grading.join(180)
        assert not grading.is_alive()
    results = outcome["results"]
    assert sorted(r.student_id for r in results) == sorted(students) and {r.total for r in results} == {3.0}
    connection = sqlite3.connect(tmp_path/"g.sqlite")
    assert connection.execute("SELECT student_id, COUNT(*) FROM inserts GROUP BY student_id").fetchall() == [(s, 1) for s in sorted(students)]
    assert connection.execute("SELECT COUNT(*) FROM submissions WHERE total = 3").fetchone()[0] == len(students)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"processes of the killed worker survived: {alive}"


def test_worker_opens_the_fixture_port_by_the_same_rule(tmp_path):
    "`grade_task` on a worker (here in-process): the MockWeb bundle gets its port under Landlock (2/2); Limits(fixture_port=False) closes it (0/2)."
    from tests.test_grading import release_web_assignment
    from transfer_course.sandbox import landlock_abi
    if landlock_abi() < 4: pytest.skip("Landlock cannot restrict TCP on this Linux (ABI < 4)")
    release_web_assignment(tmp_path)
    bundle, raw = cluster.read_bundle(tmp_path/"release"/"autograder")
    try:
        totals = []
        for limits in (Limits(timeout=120), Limits(timeout=120, fixture_port=False)):
            reply = cluster.grade_task(cluster._job(tmp_path/"subs"/"ada", bundle, limits, True, ()), raw)
            assert reply["ok"], reply
            result = cluster.result_from_data(reply["result"])
            totals.append((result.total, result.notes))
    finally: cluster._keep(cluster._close_pool)
    assert totals[0][0] == 2 and totals[1][0] == 0, totals
    assert any("PermissionError" in note for note in totals[1][1]), totals
