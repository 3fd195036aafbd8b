"tools/outputs.py: full runs in a real kernel, cleaning of what is stored, the stale-output check, failure reports."
import importlib.util, json, os, subprocess, sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

TOOL = ROOT/"tools"/"outputs.py"
spec = importlib.util.spec_from_file_location("outputs_tool", TOOL)
outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(outputs)


def write(path, *cells, tags=None):
    "A notebook of ('md' | 'code', source) cells at `path`; `tags` maps a cell index to its tags."
    make = {"md": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                                           "language": "python", "name": "python3"}})
    nb.cells = [make[kind](source, id=f"c{i}") for i, (kind, source) in enumerate(cells)]
    for index, cell_tags in (tags or {}).items(): nb.cells[index].metadata["tags"] = cell_tags
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


LESSON_CELLS = (
    ("md", "# A tiny lesson"),
    ("code", "import os, sys\nprint(os.getcwd())\nprint('quick', os.environ['TRANSFER_COURSE_QUICK'])"),
    ("code", "class Thing: pass\nThing()"),  # repr with an object id
    ("code", "import matplotlib.pyplot as plt\nfigure, axes = plt.subplots(figsize=(2, 2))\naxes.plot([1, 3, 2]);"),
    ("md", "Some prose."),
    ("code", "raise ValueError('allowed: tagged raises-exception')"),
    ("code", "print(sys.executable)\nprint(os.path.expanduser('~/models'))\n6 * 7"),
)


@pytest.fixture(scope="module")
def run_lesson(tmp_path_factory):
    "One real full-mode run of a synthetic lesson (a fresh kernel), shared by the tests below."
    path = write(tmp_path_factory.mktemp("lessons")/"01_tiny.ipynb", *LESSON_CELLS, tags={5: ["raises-exception"]})
    result = outputs.make_outputs(path, quiet=True)
    return path, result, nbformat.read(path, as_version=4)


def texts(nb):
    "Every text output of `nb`, joined."
    found = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            found.append("".join(output.get("text", "")))
            found += ["".join(value) for mime, value in output.get("data", {}).items() if not mime.startswith("image/")]
            found += output.get("traceback", [])
    return "\n".join(found)


def test_full_run_in_a_real_kernel_stores_clean_outputs(run_lesson):
    path, result, nb = run_lesson
    text = texts(nb)
    assert "quick 0" in text  # full mode
    assert "<tmp>" in text and str(path.parent) not in text  # ran in the notebook's folder; the path is neutral
    assert "<repo>/.venv/bin/python" in text and str(ROOT) not in text
    assert "~/models" in text and str(Path.home()) + "/" not in text
    assert "<__main__.Thing>" in text and " at 0x" not in text
    assert "42" in text
    assert result["images"] == 1 and any("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == [1, 2, 3, 4, 5]  # the run's order, whatever a session did
    assert [o["execution_count"] for cell in code for o in cell["outputs"] if "execution_count" in o] == [2, 5]
    assert all(set(cell["metadata"]) <= {"tags"} for cell in nb["cells"])  # no timings or transient metadata
    assert code[3]["outputs"][0]["ename"] == "ValueError"  # the tagged cell may raise, and its error is kept


def test_run_is_stamped_and_bannered(run_lesson):
    path, result, nb = run_lesson
    record = nb["metadata"]["transfer_course"]["outputs"]
    assert record["code_sha256"] == outputs.code_sha256(nb) and record["mode"] == "full"
    assert record["seconds"] == result["seconds"] > 0 and record["cpu_seconds"] > 0
    assert record["python"] and record["torch"] and len(record["created"]) == 10
    assert nb["cells"][0]["source"] == "# A tiny lesson" and nb["cells"][1]["id"] == outputs.BANNER_ID
    assert outputs.QUICK_LINE in nb["cells"][1]["source"] and "CPU cores" in nb["cells"][1]["source"]
    assert outputs.stale(path) is None
    assert nb["metadata"]["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
    assert "widgets" not in nb["metadata"]


def test_a_rerun_replaces_the_banner(run_lesson, tmp_path):
    path, _, nb = run_lesson
    copy = tmp_path/"01_copy.ipynb"
    copy.write_text(json.dumps(nb), encoding="utf-8")
    notebook = nbformat.read(copy, as_version=4)
    outputs.set_banner(notebook, outputs.banner_text(131, 2))
    assert [cell.get("id") for cell in notebook.cells].count(outputs.BANNER_ID) == 1
    assert "2 min 10 s on 2 CPU cores" in notebook.cells[1].source
    assert "shared with other jobs" not in notebook.cells[1].source


def test_banner_states_a_busy_machine():
    assert "mean load 7.4 on 2 cores" in outputs.banner_text(1433, 2, 602, load=7.4)
    assert "shared with other jobs" not in outputs.banner_text(1433, 2, 602, load=1.5)
    assert "shared with other jobs" not in outputs.banner_text(1433, 2, 602)


def test_stale_check(run_lesson, tmp_path):
    path, _, nb = run_lesson
    def variant(name, change):
        changed = json.loads(json.dumps(nb))
        change(changed["cells"])
        target = tmp_path/name
        target.write_text(json.dumps(changed), encoding="utf-8")
        return target
    def set_source(index, text): return lambda cells: cells[index].__setitem__("source", text)
    edited = variant("edited.ipynb", set_source(3, "class Thing: pass\nThing(), 1"))
    comment = variant("comment.ipynb", set_source(3, "# a new comment\nclass Thing:  pass\n\nThing()"))
    prose = variant("prose.ipynb", set_source(5, "Other prose."))
    added = variant("added.ipynb", lambda cells: cells.append(nbformat.v4.new_code_cell("1 + 1", id="new")))
    bare = write(tmp_path/"bare.ipynb", ("code", "1 + 1"))
    assert "its code changed after its outputs were made" in outputs.stale(edited)
    assert "its code changed" in outputs.stale(added)
    assert outputs.stale(comment) is None and outputs.stale(prose) is None  # comments, layout and prose don't stale
    assert "no stored outputs" in outputs.stale(bare)
    check = subprocess.run([sys.executable, str(TOOL), "--check", str(path), str(edited), str(bare)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert str(edited) in check.stderr and str(bare) in check.stderr and f"{path}:" not in check.stderr
    assert "2 notebook(s) without current outputs: run `make outputs`" in check.stderr
    ok = subprocess.run([sys.executable, str(TOOL), "--check", str(path)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr


def test_cleaning_paths_ids_counts_and_widgets(tmp_path):
    data_dir = tmp_path/"course-data"
    env = {"TRANSFER_COURSE_DATA": str(data_dir), "HOME": str(Path.home())}
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}, "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    stream = nbformat.v4.new_output("stream", name="stdout", text=f"{data_dir}/hymenoptera/val\n{ROOT}/nbs\n"
                                    f"{Path.home()}/.cache/torch\n/tmp/tmpk3j_x9a/photo.jpg\n")
    result = nbformat.v4.new_output("execute_result", {"text/plain": "<Model object at 0x7f3a2b1c0d90>"},
                                    execution_count=7, metadata={"needs_background": "light"})
    widget = nbformat.v4.new_output("display_data", {"application/vnd.jupyter.widget-view+json": {"model_id": "ab12"},
                                                     "text/plain": "  0%|          | 0/3"})
    nb.cells = [nbformat.v4.new_code_cell("", id="e", execution_count=3),
                nbformat.v4.new_code_cell("x", id="a", execution_count=7, outputs=[stream, result, widget],
                                          metadata={"execution": {"iopub.status.busy": "2026"}, "tags": ["t"]})]
    outputs.clean_outputs(nb, outputs.path_replacements(env))
    cell = nb.cells[1]
    assert nb.cells[0].execution_count is None and cell.execution_count == 1 and cell.metadata == {"tags": ["t"]}
    assert len(cell.outputs) == 2  # the widget is gone
    assert cell.outputs[0].text == "<data>/hymenoptera/val\n<repo>/nbs\n~/.cache/torch\n<tmp>/photo.jpg\n"
    assert cell.outputs[1]["data"]["text/plain"] == "<Model object>"
    assert cell.outputs[1].execution_count == 1 and cell.outputs[1].metadata == {}
    assert "widgets" not in nb.metadata


def test_an_erroring_cell_fails_the_run_and_names_the_cell(tmp_path):
    path = write(tmp_path/"02_broken.ipynb", ("md", "# Broken"), ("code", "x = 1"), ("md", "prose"),
                 ("code", "def scale(v):\n    return v / 0\nscale(x)"), ("code", "print('never reached')"))
    before = path.read_bytes()
    run = subprocess.run([sys.executable, str(TOOL), str(path)], capture_output=True, text=True, timeout=180,
                         env={**os.environ, "TRANSFER_COURSE_DATA": str(tmp_path)})
    assert run.returncode == 1
    assert f"{path}: code cell 2 (cell index 3): 'def scale(v):' raised ZeroDivisionError: division by zero" in run.stderr
    assert path.read_bytes() == before  # nothing stored for a failed run


def test_lesson_stats_does_not_count_the_banner(tmp_path):
    stats_spec = importlib.util.spec_from_file_location("lesson_stats", ROOT/"tools"/"lesson_stats.py")
    lesson_stats = importlib.util.module_from_spec(stats_spec)
    stats_spec.loader.exec_module(lesson_stats)
    path = write(tmp_path/"03_short.ipynb", ("md", "# Title"), ("code", "value = 2\nvalue"))
    before = lesson_stats.notebook_stats(path)["prose_words"]
    nb = nbformat.read(path, as_version=4)
    outputs.set_banner(nb, outputs.banner_text(200, 2))
    nbformat.write(nb, path)
    assert lesson_stats.notebook_stats(path)["prose_words"] == before
