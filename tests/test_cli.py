"The `transfer-course` parser: `--help` imports nothing heavy, and every command's runner string resolves."
import importlib, os, subprocess, sys

import pytest

from conftest import CLI
from transfer_course.cli import MODEL_NAMES, RUNNERS, TRAIN_RECIPES, build_parser, main, resolve_runner

HEAVY = {"torch", "torchvision", "timm", "fastai", "PIL", "numpy", "pandas", "matplotlib", "sklearn", "scipy", "skimage"}


def imported_modules(*args):
    "Run `transfer-course ARGS` under `python -X importtime`; return (CompletedProcess, top-level packages imported)."
    env = {**os.environ, "TRANSFER_COURSE_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-X", "importtime", str(CLI), *args], capture_output=True, text=True,
                            env=env, timeout=120)
    names = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "transfer_course" in names, result.stderr[-2000:]  # the parse of -X importtime's report works
    return result, names


@pytest.mark.parametrize("command", [[], *[[name] for name in RUNNERS]], ids=lambda c: " ".join(c) or "top")
def test_help_imports_nothing_heavy(command):
    result, names = imported_modules(*command, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: transfer-course"), result.stdout
    assert not names & HEAVY, f"`transfer-course {' '.join(command)} --help` imported {sorted(names & HEAVY)}"


def test_usage_errors_are_fast_too():
    "A missing argument is reported by the parser alone (exit 2), before any runner is imported."
    result, names = imported_modules("train")
    assert result.returncode == 2 and "DATA_DIR" in result.stderr
    assert not names & HEAVY


def test_every_listed_command_is_in_the_parser():
    parser = build_parser()  # raises if a command has no runner or a runner no command
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(commands) == set(RUNNERS) == {"predict", "demo", "scrape", "split", "train", "assign", "grade", "export",
                                              "late", "release-solutions", "similarity", "report"}


@pytest.mark.parametrize("command", list(RUNNERS))
def test_runner_string_resolves_to_a_function(command):
    "A runner renamed or moved without updating `RUNNERS` fails here, not in a user's shell."
    assert callable(resolve_runner(RUNNERS[command]))


def test_stale_runner_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(RUNNERS, "demo", "transfer_course.cli:_no_such_runner")
    with pytest.raises(ImportError, match="update RUNNERS"): main(["demo"])


def test_model_names_and_recipes_match_their_modules():
    "The parser's copies of the model names and training recipes equal the lists in the (torch-importing) modules."
    try: from transfer_course.records import MODELS
    except ImportError: from transfer_course.pretrained import MODELS
    assert MODEL_NAMES == tuple(MODELS)
    train_module = importlib.import_module(RUNNERS["train"].split(":")[0])
    assert TRAIN_RECIPES == tuple(train_module.RECIPES)


def test_parsed_options_keep_their_types_and_defaults():
    parser = build_parser()
    grade = parser.parse_args(["grade", "subs", "--bundle", "b", "--db", "g.db", "--read", "x", "--read", "y"])
    assert grade.runner == RUNNERS["grade"] and grade.submissions.name == "subs" and grade.read == ["x", "y"]
    train = parser.parse_args(["train", "photos", "--valid-pct", "0.25", "--members", "a@224", "b@260"])
    assert (train.valid_pct, train.members, train.recipe, train.out, train.no_tta) == (0.25, ["a@224", "b@260"], None,
                                                                                        "model.pt", False)
    with pytest.raises(SystemExit): parser.parse_args(["train", "photos", "--valid-dir", "v", "--valid-pct", "0.2"])
    with pytest.raises(SystemExit): parser.parse_args(["demo", "--model", "resnet19"])
    scrape = parser.parse_args(["scrape", "urls.txt", "--dest", "out"])
    assert (scrape.max_bytes, scrape.deadline, scrape.retries) == (20 * 2**20, 30.0, 2)
