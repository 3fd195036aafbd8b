"""The exercise framework's guards, each with a real kernel where it matters: forbidden calls however they are reached,
multiple choice that trial cannot crack, the sidecar file (public part only), and the structural leak guard."""
import json, shutil

import nbformat, pytest
from nbclient import NotebookClient

from transfer_course.exercises import load_exercise
from transfer_course.grading.assign import AssignError, assign, structural_leaks, student_notebook
from transfer_course.grading.autograde import _outcomes, probe_kernel
from transfer_course.grading.bundle import load_bundle
from transfer_course.sandbox import SandboxConfig, SandboxKernel
from transfer_course.testing.grading import framework_assignment_notebook

RIGHT = "def hypotenuse(a, b): return (a * a + b * b) ** 0.5"
BANNED = "which this exercise asks you not to use"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("guards")
    nbformat.write(framework_assignment_notebook(), root/"framework.ipynb")
    assign([root/"framework.ipynb"], root/"release")
    return root


@pytest.fixture(scope="module")
def specs(release):
    return {s.name: s for s in load_bundle(release/"release"/"autograder").exercises}


@pytest.fixture(scope="module")
def kernel():
    kernel = SandboxKernel(SandboxConfig(preload=(), landlock=False)).start()
    assert kernel.execute("import math", 30).status == "ok"
    yield kernel
    kernel.shutdown()


def grade(kernel, spec, code):
    assert kernel.execute(code, 60).status == "ok", code
    probes = {i: probe_kernel(kernel, t, 60, spec.forbidden, spec.answer)[0] for i, t in enumerate(spec.tests)}
    return _outcomes(spec, probes, "")


EVASIONS = {  # how a student might reach math.hypot (or numpy) anyway
    "module attribute": "def hypotenuse(a, b): return math.hypot(a, b)",
    "import as": "import math as m\ndef hypotenuse(a, b): return m.hypot(a, b)",
    "from import as": "from math import hypot as h\ndef hypotenuse(a, b): return h(a, b)",
    "plain alias": "h = math.hypot\ndef hypotenuse(a, b): return h(a, b)",
    "alias inside": "def hypotenuse(a, b):\n    h = math.hypot\n    return h(a, b)",
    "getattr": "def hypotenuse(a, b): return getattr(math, 'hypot')(a, b)",
    "importlib": "import importlib\ndef hypotenuse(a, b): return importlib.import_module('math').hypot(a, b)",
    "__import__": "def hypotenuse(a, b): return __import__('math').hypot(a, b)",
    "helper function": "def side_helper(x, y): return math.hypot(x, y)\ndef hypotenuse(a, b): return side_helper(a, b)",
    "vars": "def hypotenuse(a, b): return vars(math)['hypot'](a, b)",
    "__dict__": "def hypotenuse(a, b): return math.__dict__['hypot'](a, b)",
    "eval of a constant": "def hypotenuse(a, b): return eval('math.hypot')(a, b)",
    "partial": "import functools\nhyp = functools.partial(math.hypot)\ndef hypotenuse(a, b): return hyp(a, b)",
    "lambda": "hypotenuse = lambda a, b: math.hypot(a, b)",
    "forbidden module": "import numpy as np\ndef hypotenuse(a, b): return float(np.sqrt(a * a + b * b))",
    # names built at run time: only the profiler sees these
    "string-built getattr": "def hypotenuse(a, b): return getattr(math, 'hy' + 'pot')(a, b)",
    "globals lookup": "stash = math.hypot\ndef hypotenuse(a, b): return globals()['st' + 'ash'](a, b)",
    "callable object": "class Side:\n    def __call__(self, a, b): return getattr(math, 'hy' + 'pot')(a, b)\nhypotenuse = Side()",
    "thread": ("import threading\ndef hypotenuse(a, b):\n    out = []\n    worker = threading.Thread(target=lambda: "
               "out.append(getattr(math, 'hy' + 'pot')(a, b)))\n    worker.start(); worker.join()\n    return out[0]"),
}


@pytest.mark.parametrize("how", list(EVASIONS))
def test_forbidden_call_scores_zero_with_the_reason(kernel, specs, how):
    spec = specs["hypotenuse"]
    outcome = grade(kernel, spec, EVASIONS[how])
    messages = {t.message for t in outcome.tests}
    assert outcome.score == 0 and len(messages) == 1 and BANNED in messages.pop(), (how, outcome)
    assert grade(kernel, spec, RIGHT).score == spec.points  # the right answer gets full marks again


def test_switching_the_profiler_off_is_a_violation(kernel, specs):
    code = "import sys\ndef hypotenuse(a, b):\n    sys.setprofile(None)\n    return getattr(math, 'hy' + 'pot')(a, b)"
    outcome = grade(kernel, specs["hypotenuse"], code)
    assert outcome.score == 0 and "switches off the check for forbidden calls" in outcome.tests[0].message, outcome
    assert grade(kernel, specs["hypotenuse"], RIGHT).score == 2


def test_message_names_what_and_where(kernel, specs):
    message = grade(kernel, specs["hypotenuse"], EVASIONS["helper function"]).tests[0].message
    assert message.startswith("`side_helper` calls `math.hypot` (line 1), " + BANNED), message


def test_multiple_choice_public_check_reveals_nothing(release, specs, kernel, tmp_path):
    shutil.copy(release/"release"/"student"/"framework.exercises.json", tmp_path)
    exercise = load_exercise("why_root", tmp_path)
    right, wrong = str(exercise.check({"why_root": "B"})), str(exercise.check({"why_root": "A"}))
    assert right == wrong and "Your choice is recorded; it is marked when your work is graded." in right
    assert "1 hidden check will run when your work is graded" in right and "(1 point)" in right
    assert exercise.check({"why_root": "Z"}).status == "failed"
    spec = specs["why_root"]
    assert grade(kernel, spec, "why_root = 'B'").score == 1
    wrong_outcome = grade(kernel, spec, "why_root = 'A'")
    assert wrong_outcome.score == 0 and "Halving does not undo squaring." in [t.message for t in wrong_outcome.tests]


def test_sidecar_holds_only_the_public_part(release):
    student_dir = release/"release"/"student"
    sidecar_text = (student_dir/"framework.exercises.json").read_text()
    sidecar = json.loads(sidecar_text)["exercises"]
    assert {n: (len(e["tests"]), e["hidden"]["count"]) for n, e in sidecar.items()} == {"hypotenuse": (1, 1), "why_root": (1, 1)}
    assert all(not t["hidden"] for e in sidecar.values() for t in e["tests"])
    assert "12.0" not in sidecar_text and "the verdict" not in sidecar_text and '"choice"' not in sidecar_text
    assert "a * a + b * b" not in sidecar_text and "expected_hypotenuse" not in sidecar_text
    student_text = (student_dir/"framework.ipynb").read_text()
    assert 'ex_hypotenuse = load_exercise(\\"hypotenuse\\")' in student_text, student_text
    assert "expected_hypotenuse" not in student_text and "math.hypot(a, b)" not in student_text and "a * a + b * b" not in student_text


def test_student_notebook_runs_with_and_without_its_sidecar(release, tmp_path):
    student_dir = release/"release"/"student"
    notebook = nbformat.read(student_dir/"framework.ipynb", as_version=4)
    NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(student_dir)}}).execute()
    text = "\n".join(o.get("data", {}).get("text/plain", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "Exercise hypotenuse (2 points): not attempted yet." in text and "1 hidden check will run" in text, text
    alone = nbformat.read(student_dir/"framework.ipynb", as_version=4)
    NotebookClient(alone, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on any error
    text = "\n".join(o.get("data", {}).get("text/plain", "") for c in alone.cells if c.cell_type == "code" for o in c.outputs)
    assert "its exercise file is missing" in text and "was not found in" in text, text


def leaky_instructor(changes):
    "The framework notebook with cells changed or added, as {cell index: source} (a new index appends a code cell)."
    notebook = framework_assignment_notebook()
    for index, source in changes.items():
        if index < len(notebook.cells): notebook.cells[index].source = source
        else: notebook.cells.append(nbformat.v4.new_code_cell(source, id=f"x{index}"))
    return notebook


def released(notebook):
    "A student version of `notebook` without running it (no registry states needed for the leak guard)."
    states = [{"hidden": {}, "checks": [], "bound": {}}] * len(notebook.cells)
    return student_notebook(notebook, states)[0]


def test_assign_refuses_a_renamed_answer_key_in_a_released_cell(release):
    notebook = framework_assignment_notebook()
    notebook.cells.insert(4, nbformat.v4.new_code_cell("def side_key(x, y):\n    return (x * x + y * y) ** 0.5", id="leak"))
    nbformat.write(notebook, release/"leaky.ipynb")
    with pytest.raises(AssignError) as refused: assign([release/"leaky.ipynb"], release/"leaky_release")
    message = str(refused.value)
    assert "exercise 'hypotenuse'" in message and "code cell 4 (leak)" in message and "(x * x + y * y) ** 0.5" in message, message
    assert not (release/"leaky_release"/"student").exists()


@pytest.mark.parametrize("where, leak", [
    ("a hint", {4: framework_assignment_notebook().cells[4].source.replace("take the square root.", "`return (a * a + b * b) ** 0.5`")}),
    ("a Markdown code block", {2: "Write `hypotenuse`:\n```python\nreturn (p * p + q * q) ** 0.5\n```"}),
    ("the answer key's helper, renamed", {11: 'def key(x, y):\n    "The answer key: the library\'s own hypotenuse."\n    return math.hypot(x, y)'}),
])
def test_leak_guard_finds_quoted_solutions(where, leak):
    notebook = leaky_instructor(leak)
    student = released(notebook)
    if where == "a hint":  # hints reach students through the sidecar, which `assign` builds from the kernel
        public = {"exercises": {"hypotenuse": {"hints": ["`return (a * a + b * b) ** 0.5`"], "tests": []}}}
        assert "hint 1 of exercise 'hypotenuse'" in structural_leaks(notebook, student, public)[0]
    else:
        assert structural_leaks(notebook, student), where


def test_leak_guard_ignores_small_and_unrelated_code():
    notebook = framework_assignment_notebook()
    student = released(notebook)
    student.cells.append(nbformat.v4.new_markdown_cell("Use `a * a` and `x.float()`; `math.sqrt(value)` takes a root."))
    student.cells.append(nbformat.v4.new_code_cell("print(hypotenuse(3.0, 4.0))\nsides = [a * 2 for a in range(3)]"))
    public = {"exercises": {"hypotenuse": {"hints": ["Square each side: `a ** 2`."], "tests": [{"expression": "hypotenuse(3.0, 4.0)", "setup": ""}]}}}
    assert structural_leaks(notebook, student, public) == []


def test_a_value_answer_is_read_through_the_values_computed_in_its_cell():
    "A value answer (not a function) is read with the values its cell computed on the way, but not values of other (given) cells."
    import math
    from transfer_course.exercises import _forbidden_static
    given = "import math\nsides = (3, 4)\nreference = math.hypot(*sides)"  # the notebook's own code may use anything
    namespace = {"math": math, "sides": (3, 4), "reference": 5.0, "hypot_of": math.hypot}
    cheat = "from math import hypot as hypot_of\nstep = hypot_of(*sides)\nanswer = [step]"
    found = _forbidden_static({**namespace, "In": ["", given, cheat], "step": 5.0, "answer": [5.0]}, ("answer",), ("math.hypot",))
    assert found and "`step` calls `math.hypot`" in found, found
    honest = "step = (sides[0] ** 2 + sides[1] ** 2) ** 0.5\nanswer = [step, reference]"
    assert _forbidden_static({**namespace, "In": ["", given, honest], "step": 5.0, "answer": [5.0, 5.0]}, ("answer",), ("math.hypot",)) is None
