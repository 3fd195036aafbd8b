"""Mutation tests for the exercise notebooks: `tests/mutations/<notebook stem>.py` defines
`MUTATIONS: dict[str, list[Mutation]]` (exercise name -> wrong answers). tests/test_exercise_release.py runs each one in a
real kernel, after the notebook's solutions, against the grader bundle's tests (public and hidden)."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mutation:
    "A wrong answer to one exercise and the feedback it must get."
    code: str  # Python run in the kernel after the solution: redefines the answer (or what it depends on)
    why: str  # The mistake it stands for, for people reading the test
    message: str  # A fragment the exercise's feedback must contain
    max_score: float = 0.0  # The most points the exercise may still get with this answer


def load_mutations(stem: str) -> dict[str, list[Mutation]]:
    "MUTATIONS of tests/mutations/<stem>.py (an empty dict when the file does not exist)."
    path = HERE/f"{stem}.py"
    if not path.is_file(): return {}
    spec = importlib.util.spec_from_file_location(f"tests.mutations._{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(getattr(module, "MUTATIONS", {}))
