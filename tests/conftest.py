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
