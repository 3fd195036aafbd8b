"""Every exercise notebook is released with `assign` (leak guards included), its perfect submission grades to full marks
in real sandboxed kernels, and every wrong answer in tests/mutations/<stem>.py scores at most its `max_score` with its
message, then the solution restores full marks (one kernel per notebook)."""
import os, re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat, pytest

from tests.mutations import Mutation, load_mutations
from transfer_course.exercises import (SOLUTION_BEGIN, SOLUTION_LINE, hidden_regions, is_exercise_definition,
    is_instructor_only, strip_hidden)
from transfer_course.grading.assign import assign
from transfer_course.grading.autograde import Limits, _outcomes, grade_submission, probe_kernel
from transfer_course.grading.bundle import load_bundle
from transfer_course.sandbox import SandboxConfig, SandboxKernel
from transfer_course.testing.grading import framework_assignment_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT/"nbs"/"exercises").glob("*.ipynb"))
STEMS = [p.stem for p in NOTEBOOKS]
LESSON = re.compile(r"0[1-7]_")
CONFIG = SandboxConfig(preload=("torch",), landlock=False, memory_mb=8192)
LIMITS = Limits(timeout=1800, cell_timeout=600, memory_mb=8192)


def is_solution_cell(source: str) -> bool:
    return (SOLUTION_BEGIN in source or SOLUTION_LINE in source) and not (is_exercise_definition(source) or is_instructor_only(source))


def perfect_notebook(instructor: nbformat.NotebookNode, student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    "The student release with the instructor's solution cells put back (their hidden-test regions left out)."
    solutions = {c.get("id"): c.source for c in instructor.cells if c.cell_type == "code" and is_solution_cell(c.source)}
    perfect = nbformat.from_dict(student)
    for cell in perfect.cells:
        if cell.cell_type == "code" and cell.get("id") in solutions:
            source = solutions[cell.get("id")]
            cell.source = strip_hidden(source) if hidden_regions(source) else source
    return perfect


SNAPSHOT = "__tc_saved = {}\n__tc_saved.update(get_ipython().user_ns)"
RESTORE = ("(lambda ns, saved: ([ns.pop(k) for k in [k for k in ns if k not in saved]], ns.update(saved)))"
           "(get_ipython().user_ns, __tc_saved)")


class KeptKernel:
    "A kernel the grader may 'shut down' without stopping it, so the mutations run in it afterwards."
    def __init__(self, kernel): self.kernel = kernel
    def __getattr__(self, name): return getattr(self.kernel, name)
    def shutdown(self): return 0


class Release:
    "One assigned notebook: its release folder, bundle, perfect submission, and (once graded) the kernel that ran it."
    def __init__(self, source: Path, out: Path, mutations: dict):
        self.source, self.out, self.stem, self.mutations = source, out, source.stem, mutations
        self.error, self.kernel, self.result = None, None, None
        try: assign([source], out, cell_timeout=600)
        except Exception as error: self.error = f"{type(error).__name__}: {error}"; return
        self.bundle = load_bundle(out/"autograder")
        self.perfect = perfect_notebook(nbformat.read(source, as_version=4), nbformat.read(out/"student"/source.name, as_version=4))

    def grade_perfect(self):
        "Grade the perfect submission with the grader's own `grade_submission` (no sidecar next to it); keep the kernel."
        if self.result is not None or self.error: return self.result
        folder = self.out/"submissions"/"perfect"
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.perfect, folder/self.source.name)
        kernels = []
        def get_kernel():
            kernels.append(SandboxKernel(CONFIG, workdir=folder).start())
            return KeptKernel(kernels[-1])
        self.result = grade_submission(folder, self.bundle, LIMITS, get_kernel)
        for stale in kernels[:-1]: stale.shutdown()
        self.kernel = kernels[-1] if kernels else None
        if self.kernel is not None: self.kernel.execute(SNAPSHOT, 60)
        return self.result

    def score(self, spec, timeout: float = 300):
        "The grader's verdict on `spec` for what the kernel holds now."
        probes = {i: probe_kernel(self.kernel, test, timeout, spec.forbidden, spec.answer)[0] for i, test in enumerate(spec.tests)}
        return _outcomes(spec, probes, "")

    def restore_solutions(self):
        "Put back the namespace the perfect submission left (names rebound or added by a mutation)."
        self.kernel.execute(RESTORE, 60)

    def rerun_solutions(self):
        "Re-run the solution cells (for mutations that changed objects in place)."
        for cell in self.perfect.cells:
            if cell.cell_type == "code" and is_solution_cell(cell.source): self.kernel.execute(cell.source, 600)

    def close(self):
        if self.kernel is not None: self.kernel.shutdown(); self.kernel = None


def _report(stem: str, exercise: str, mutation: Mutation, score: float, points: float) -> None:
    "With TC_MUTATION_REPORT=<file>, append each mutation's score as a JSON line (for the table of what each exercise checks)."
    path = os.environ.get("TC_MUTATION_REPORT")
    if not path: return
    import json
    with open(path, "a") as file:
        file.write(json.dumps({"stem": stem, "exercise": exercise, "why": mutation.why, "score": round(score, 4),
                               "points": points, "max_score": mutation.max_score}) + "\n")


def mutation_failures(release: Release) -> list[str]:
    "Run every mutation of `release` in its kernel; the problems found, in words."
    problems, specs = [], {s.name: s for s in release.bundle.exercises}
    release.grade_perfect()
    for name, mutations in release.mutations.items():
        if name not in specs: problems.append(f"{name}: no such exercise in {release.stem}"); continue
        spec = specs[name]
        for mutation in mutations:
            execution = release.kernel.execute(mutation.code, 300)
            if execution.status != "ok":
                problems.append(f"{name} / {mutation.why}: the mutation's code did not run ({execution.status} {execution.error})")
            else:
                outcome = release.score(spec)
                feedback = "\n".join(t.message for t in outcome.tests)
                _report(release.stem, name, mutation, outcome.score, spec.points)
                if outcome.score > mutation.max_score + 1e-9:
                    problems.append(f"{name} / {mutation.why}: scored {outcome.score:g} > {mutation.max_score:g}")
                if mutation.message not in feedback:
                    problems.append(f"{name} / {mutation.why}: {mutation.message!r} not in the feedback: {feedback[:400]!r}")
            release.restore_solutions()
            restored = release.score(spec)
            if restored.score != spec.points:
                release.rerun_solutions()
                restored = release.score(spec)
            if restored.score != spec.points:
                problems.append(f"{name} / {mutation.why}: the solution scored {restored.score:g}/{spec.points:g} after it: "
                                + "; ".join(t.message for t in restored.tests if t.status != "passed")[:300])
    return problems


class Releases(dict):
    "Exercise notebooks, each assigned once, when a test first asks for it (so `-k` runs assign only what it needs)."
    def __init__(self, root: Path): super().__init__(); self.root = root
    def __missing__(self, stem: str) -> Release:
        source = ROOT/"nbs"/"exercises"/f"{stem}.ipynb"
        self[stem] = Release(source, self.root/stem, load_mutations(stem))
        return self[stem]
    def all(self) -> list:
        "Every notebook's release (the ones not assigned yet are assigned two at a time)."
        with ThreadPoolExecutor(max_workers=2) as pool: list(pool.map(self.__getitem__, [s for s in STEMS if s not in self]))
        return [self[s] for s in STEMS]


@pytest.fixture(scope="session")
def releases(tmp_path_factory):
    "Every exercise notebook assigned once per session, in a session-wide temporary folder."
    made = Releases(tmp_path_factory.mktemp("exercise_releases"))
    yield made
    for release in made.values(): release.close()


@pytest.fixture(scope="module")
def framework_release(tmp_path_factory):
    "The framework's own fixture notebook, with mutations written here, to test the harness itself."
    root = tmp_path_factory.mktemp("framework_release")
    nbformat.write(framework_assignment_notebook(), root/"framework.ipynb")
    release = Release(root/"framework.ipynb", root/"release", FRAMEWORK_MUTATIONS)
    yield release
    release.close()


FRAMEWORK_MUTATIONS = {
    "hypotenuse": [Mutation("import math\ndef hypotenuse(a, b): return math.hypot(a, b)", "delegates to the forbidden call",
                            "which this exercise asks you not to use"),
                   Mutation("def hypotenuse(a, b): return a + b", "adds the sides", "off by"),
                   Mutation("def hypotenuse(a, b): return 5.0", "hard-codes the public answer", "off by", max_score=1.0)],
    "why_root": [Mutation('why_root = "A"', "the wrong option", "Halving does not undo squaring", max_score=0.0)],
}


def test_harness_on_the_framework_notebook(framework_release):
    assert framework_release.error is None, framework_release.error
    result = framework_release.grade_perfect()
    assert (result.total, result.max_total) == (3.0, 3.0), [(e.name, e.score, [t.message for t in e.tests]) for e in result.exercises]
    assert mutation_failures(framework_release) == []
    broken = Release.__new__(Release)  # the harness itself can fail: a mutation that is in fact right, a wrong message
    broken.__dict__.update(framework_release.__dict__)
    broken.mutations = {"hypotenuse": [Mutation("def hypotenuse(a, b): return (a * a + b * b) ** 0.5", "right after all", "off by")]}
    problems = mutation_failures(broken)
    assert len(problems) == 2 and "scored 2 > 0" in problems[0] and "'off by' not in the feedback" in problems[1], problems


@pytest.mark.parametrize("stem", STEMS)
def test_assign_releases_without_leaks(releases, stem):
    assert releases[stem].error is None, releases[stem].error


@pytest.mark.parametrize("stem", STEMS)
def test_perfect_submission_gets_full_marks(releases, stem):
    release = releases[stem]
    if release.error: pytest.fail(f"not released: {release.error}")
    result = release.grade_perfect()
    lost = [(e.name, e.score, e.max_score, [t.message for t in e.tests if t.status != "passed"]) for e in result.exercises if e.score != e.max_score]
    assert result.total == result.max_total and not lost, (lost, result.notes)


@pytest.mark.parametrize("stem", STEMS)
def test_mutations_fail_with_their_message(releases, stem):
    release = releases[stem]
    if release.error: pytest.fail(f"not released: {release.error}")
    problems = mutation_failures(release)
    assert not problems, "\n".join(problems)


def test_every_exercise_has_mutations_and_every_lesson_three_exercises(releases):
    missing_files = [s for s in STEMS if not (ROOT/"tests"/"mutations"/f"{s}.py").is_file()]
    made = releases.all()
    without = [f"{r.stem}:{e.name}" for r in made if not r.error for e in r.bundle.exercises if not r.mutations.get(e.name)]
    few = {r.stem: len(r.bundle.exercises) for r in made if not r.error and LESSON.match(r.stem) and len(r.bundle.exercises) < 3}
    assert (missing_files, without, few) == ([], [], {}), "mutation files missing / exercises without mutations / lessons with < 3 exercises"
