"""Hostile and broken submissions, each graded by real sandboxed kernels (issue 3, item 8).

One grading run holds every case plus an honest student, so the cases also show that other students are unaffected.
For every case we assert the exact score the real answers deserve and a clear note in the feedback."""
import sqlite3, time
from pathlib import Path

import nbformat, psutil, pytest

from transfer_course.sandbox import landlock_abi
from transfer_course.grading.assign import assign
from transfer_course.grading.autograde import Limits, grade
from transfer_course.grading.bundle import BundleError, load_bundle
from transfer_course.grading.export import feedback_html
from transfer_course.grading.gradebook import open_gradebook
from transfer_course.testing.grading import tiny_assignment_notebook

LIMITS = Limits(timeout=45, cell_timeout=5, memory_mb=2048)
CORRECT = {"double": "def double(values):\n    return values * 2", "label": "cat_label = 'tabby'"}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    nbformat.write(tiny_assignment_notebook(), root/"tiny.ipynb")
    assign([root/"tiny.ipynb"], root/"release")
    return root


def student_notebook(root: Path, double=CORRECT["double"], label=CORRECT["label"], extra=(), at=4):
    "The released student notebook with answers filled in and `extra` code cells inserted before cell `at`."
    notebook = nbformat.read(root/"release"/"student"/"tiny.ipynb", as_version=4)
    notebook.cells[3].source, notebook.cells[7].source = double, label
    for offset, source in enumerate(extra): notebook.cells.insert(at + offset, nbformat.v4.new_code_cell(source))
    return notebook


def hostile_cases(root: Path) -> dict:
    "student id -> (notebook or raw text, the total its real answers deserve, a phrase its notes must contain)."
    bundle_file = root/"release"/"autograder"/"bundle.json"
    cheat_patch = "\n".join([
        "import torch, transfer_course.checks as c, transfer_course.exercises as e",
        "torch.allclose = lambda *a, **k: True",
        "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)",
        "for name in list(c.JUDGES): c.JUDGES[name] = lambda *a, **k: c.passed()",
        "e.judge = lambda *a, **k: c.passed()",
        "e.Exercise.check = lambda self, *a, **k: 'all passed'",
        "e.encode_answer = lambda value, budget=None: value",
    ])
    return {
        "loops_forever": (student_notebook(root, extra=["while True:\n    pass"]), 3.0, "interrupted"),
        "ignores_interrupt": (student_notebook(root, extra=["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"]), 3.0, "ignored the interrupt"),
        "allocates_too_much": (student_notebook(root, extra=["hog = bytearray(64 * 2**30)"]), 3.0, "MemoryError"),
        "raises_in_third_cell": (student_notebook(root, extra=["1 / 0"], at=2), 3.0, "Cell 3 raised ZeroDivisionError"),
        "answer_cell_raises": (student_notebook(root, double="1 / 0\ndef double(values):\n    return values * 2"), 1.0, "raised ZeroDivisionError"),
        "calls_sys_exit": (student_notebook(root, extra=["import sys\nsys.exit(1)"]), 3.0, "SystemExit"),
        "calls_os_exit": (student_notebook(root, extra=["import os\nos._exit(0)"]), 3.0, "ended the kernel"),
        "prints_50mb": (student_notebook(root, extra=["print('x' * 50_000_000)"]), 3.0, None),
        "warns_and_stderr": (student_notebook(root, extra=["import warnings, sys\nwarnings.warn('careful')\nprint('noise', file=sys.stderr)"]), 3.0, None),
        "invalid_json": ("{ this is not a notebook", 0.0, "not a valid notebook"),
        "monkeypatches_to_pass": (student_notebook(root, double="def double(values):\n    return values + 1", label="cat_label = 'goldfish'", extra=[cheat_patch]), 0.0, None),
        "always_equal_objects": (student_notebook(root, double="class Yes:\n    def __eq__(self, other): return True\ndef double(values):\n    return Yes()",
                                                  label="class S(str):\n    def __eq__(self, other): return True\n    __hash__ = str.__hash__\ncat_label = S('goldfish')"), 0.0, None),
        **({"writes_bundle": (student_notebook(root, extra=[f"open({str(bundle_file)!r}, 'w').write('{{}}')"]), 3.0, "PermissionError")}
           if landlock_abi() else {}),  # without Landlock the write succeeds: see test_bundle_write_without_landlock_cannot_change_grades
        "leaves_children": (student_notebook(root, extra=[
            "import subprocess, os\nsubprocess.Popen(['sleep', '313'], start_new_session=True)",
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execve('/bin/sleep', ['sleep', '317'], {})\n    os._exit(0)"]), 3.0, "still running after grading"),
        "zz_honest": (student_notebook(root), 3.0, None),
    }


def sleepers(*durations):
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if (process.info["cmdline"] or [])[:1] == ["sleep"] and process.info["cmdline"][1:] and process.info["cmdline"][1] in durations: found.append(process)
    return found


@pytest.fixture(scope="module")
def graded(release):
    root, cases = release, hostile_cases(release)
    for student, (notebook, _, _) in cases.items():
        (root/"submissions"/student).mkdir(parents=True)
        path = root/"submissions"/student/"tiny.ipynb"
        path.write_text(notebook) if isinstance(notebook, str) else nbformat.write(notebook, path)
    bundle = load_bundle(root/"release"/"autograder")
    started = time.monotonic()
    results = grade(root/"submissions", bundle, root/"gradebook.sqlite", workers=2, limits=LIMITS, progress=False)
    print(f"graded {len(results)} hostile submissions in {time.monotonic() - started:.1f} s")
    return root, cases, {r.student_id: r for r in results}


STUDENTS = ["loops_forever", "ignores_interrupt", "allocates_too_much", "raises_in_third_cell", "answer_cell_raises", "calls_sys_exit", "calls_os_exit",
    "prints_50mb", "warns_and_stderr", "invalid_json", "monkeypatches_to_pass", "always_equal_objects", "writes_bundle", "leaves_children", "zz_honest"]


@pytest.mark.parametrize("student", [s for s in STUDENTS if s != "writes_bundle" or landlock_abi()])
def test_each_case_gets_what_its_answers_deserve(graded, student):
    root, cases, results = graded
    _, deserved, phrase = cases[student]
    result = results[student]
    assert result.total == pytest.approx(deserved), (student, result.total, result.notes, [(e.name, [t.message for t in e.tests]) for e in result.exercises])
    notes = " ".join(result.notes)
    if phrase: assert phrase in notes or any(phrase in t.message for e in result.exercises for t in e.tests), (student, result.notes)
    if phrase is None and deserved == 3.0: assert result.notes == [], result.notes  # warnings, stderr and big outputs cost nothing
    page = feedback_html(open_gradebook(root/"gradebook.sqlite"), "tiny", student)
    assert "ones(2, 2) * 7" not in page and "tensor_close" not in page  # no hidden test source in feedback


def test_cheats_fail_with_teaching_messages(graded):
    _, _, results = graded
    messages = [t.message for e in results["always_equal_objects"].exercises for t in e.tests]
    assert any("object of type Yes" in m for m in messages), messages
    assert any("'goldfish'" in m or "goldfish" in m for m in messages), messages


def test_no_process_outlives_grading(graded):
    assert sleepers("313", "317") == []


def test_bundle_untouched_and_gradebook_intact(graded):
    root, cases, _ = graded
    load_bundle(root/"release"/"autograder")  # the hash still matches: the write was refused
    connection = sqlite3.connect(root/"gradebook.sqlite")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == len(cases)
    assert connection.execute("SELECT COUNT(*) FROM exercise_scores").fetchone()[0] == 2 * len(cases)


def test_bundle_write_without_landlock_cannot_change_grades(release, tmp_path):
    "Without Landlock the write succeeds, but the bundle was loaded before student code ran; the next run refuses the modified bundle."
    root = release
    copy = tmp_path/"release"
    import shutil; shutil.copytree(root/"release", copy)
    bundle = load_bundle(copy/"autograder")
    attack = student_notebook(root, double="def double(values):\n    return values + 1",
                              extra=[f"open({str(copy/'autograder'/'bundle.json')!r}, 'w').write('{{\"format\": 1}}')"])
    (tmp_path/"subs"/"mallory").mkdir(parents=True); nbformat.write(attack, tmp_path/"subs"/"mallory"/"tiny.ipynb")
    (tmp_path/"subs"/"zz_honest").mkdir(parents=True); nbformat.write(student_notebook(root), tmp_path/"subs"/"zz_honest"/"tiny.ipynb")
    results = {r.student_id: r.total for r in grade(tmp_path/"subs", bundle, tmp_path/"gb.sqlite", workers=1, limits=LIMITS, landlock=False, progress=False)}
    assert results == {"mallory": 1.0, "zz_honest": 3.0}
    with pytest.raises(BundleError, match="modified"): load_bundle(copy/"autograder")
