"tools/lesson_stats.py on small synthetic notebooks: one that meets every lesson target, one that misses each."
import importlib.util, json, subprocess, sys

import pytest

from conftest import ROOT

TOOL = ROOT/"tools"/"lesson_stats.py"
spec = importlib.util.spec_from_file_location("lesson_stats", TOOL)
lesson_stats = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lesson_stats)

PROSE = " ".join(["why this step matters and what the number means"] * 12)


def notebook(path, *cells):
    "Write a notebook of ('md' | 'code', source) cells to `path`."
    def cell(kind, text):
        if kind == "md": return {"cell_type": "markdown", "metadata": {}, "source": text}
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": text.splitlines(keepends=True)}
    path.write_text(json.dumps({"cells": [cell(*c) for c in cells], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def good_notebook(path):
    return notebook(path,
        ("md", "# A lesson\n\nWhat you will build. " + PROSE),
        ("code", "#| default_exp lesson"),
        ("code", "#| export\nimport math\nfrom pathlib import Path"),
        ("code", "radius = 2.0\nmath.pi * radius**2"),  # visible result: code cell 1 after imports
        ("md", PROSE),
        ("code", "#| export\ndef area(\n    radius: float, # circle radius\n) -> float:\n"
                 "    \"Area of a circle.\"\n    return math.pi * radius**2"),
        ("code", "assert area(1) == math.pi"),
        ("md", "A constant next. " + PROSE),
        ("code", "#| export\nUNIT = 'cm'"),
        ("code", "print(f'{area(2):.1f} {UNIT}^2')"))


def bad_notebook(path):
    long_cell = "\n".join(f"value_{i} = {i}" for i in range(20))
    return notebook(path,
        ("md", "# Too much code"),
        ("code", "#| export\nimport math"),
        *[("code", "#| export\n" + f"def helper_{i}(x):\n" + "    y = x + 1\n" * 8 + "    return y") for i in range(5)],
        ("code", long_cell),
        ("code", "x = 1  # " + "a very long comment " * 6),
        ("code", "helper_0(1)"))


def test_passing_notebook_meets_every_target(tmp_path):
    stats = lesson_stats.notebook_stats(good_notebook(tmp_path/"01_good.ipynb"))
    assert stats["code_cells"] == 6  # the directive-only cell does not count
    assert stats["median"] == 1.5 and stats["p90"] == 5
    assert stats["first_result"] == 2 and (stats["exports"], stats["exports_tested"]) == (2, 2)  # imports count as cells
    assert stats["prose_words"] > stats["code_words"] > 0
    assert lesson_stats.violations(stats) == []


def test_violating_notebook_misses_each_target(tmp_path):
    stats = lesson_stats.notebook_stats(bad_notebook(tmp_path/"02_bad.ipynb"))
    missed = "\n".join(lesson_stats.violations(stats))
    assert stats["median"] == 10 and stats["p90"] == 20
    assert "median code cell 10 lines > 6" in missed and "p90 code cell 20 lines > 15" in missed
    assert "prose" in missed and stats["prose_words"] < stats["code_words"]
    assert stats["first_result"] == 9 and "first visible result at code cell 9" in missed
    assert "4 of 5 exported cells not followed by a demo or test: helper_0, helper_1, helper_2, helper_3" in missed
    assert "1 code lines > 100 characters" in missed
    assert len(lesson_stats.violations(stats)) == 6


def test_first_result_heuristic():
    shows = lambda text: lesson_stats._shows_result(lesson_stats._parse(text.splitlines()))
    assert shows("model") and shows("show_batch(data)") and shows("for x in xs: print(x)")
    assert shows("figure, axes = plt.subplots(1, 2)\naxes[0].imshow(image)")
    assert not shows("model = load()") and not shows("def f(): return 1") and not shows("test_eq(1, 1)")
    assert not shows("'a string'") and not shows("import torch")
    assert not shows("settings = load()\nseed_everything(settings.seed)") and not shows("MockWeb(x).start()")


@pytest.mark.parametrize("report_only, status", [(False, 1), (True, 0)])
def test_command_line_exit_status(tmp_path, report_only, status):
    good, bad = good_notebook(tmp_path/"01_good.ipynb"), bad_notebook(tmp_path/"02_bad.ipynb")
    result = subprocess.run([sys.executable, str(TOOL), str(good), str(bad)] + ["--report-only"] * report_only,
                            capture_output=True, text=True)
    assert result.returncode == status, result.stderr
    assert "fastcore" in result.stdout and "01_good.ipynb" in result.stdout
    missed = result.stdout.split("Missed targets:")[1]
    assert "02_bad.ipynb: median" in missed and "01_good" not in missed
    assert subprocess.run([sys.executable, str(TOOL), str(good)], capture_output=True).returncode == 0
