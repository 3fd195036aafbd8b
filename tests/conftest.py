"Shared fixtures: the repository root, real photos, and a helper to run the CLI as a user would."
import os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent/"transfer-course"


@pytest.fixture(scope="session")
def lite0():
    from transfer_course.pretrained import load_pretrained
    return load_pretrained("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def photos():
    from transfer_course.pretrained import sample_images
    return sample_images()


def run_cli(*args, env_extra=None, timeout=300):
    "Run `transfer-course ARGS` in a subprocess; return the CompletedProcess (text mode)."
    env = {**os.environ, "TRANSFER_COURSE_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def exercise_namespace(notebook_path):
    "Execute an instructor exercise notebook's code cells in a fresh namespace (in this process) and return it."
    import nbformat
    namespace = {"__name__": "__exercises__"}
    for cell in nbformat.read(notebook_path, as_version=4).cells:
        if cell.cell_type == "code": exec(compile(cell.source, str(notebook_path), "exec"), namespace)
    return namespace


def verdict(namespace, exercise_name, **answers):
    "Status and messages of an exercise's tests (hidden ones included) with `answers` substituted in a copy of `namespace`."
    from transfer_course.exercises import EXERCISES, _probe_here, judge
    exercise = EXERCISES[exercise_name]
    trial = {**namespace, **answers}
    results = [judge(test, _probe_here(test, trial), exercise.answer) for test in exercise.tests]
    return [result.status for result in results], " ".join(result.message for result in results)
