#!/usr/bin/env python
"""Build the course website offline (`make docs`): build/docs-src (staged pages) → build/docs/html.

Pages (names as nbdev would publish them, so the modules' `Docs:` links resolve):
- index: README.md (generated from nbs/index.ipynb);
- the lessons nbs/01_*.ipynb … nbs/07_*.ipynb as `pretrained.html` … `pitfalls.html`, rendered from their STORED
  outputs (nothing is executed here), and the instructor walk-through nbs/08_grading.ipynb as `grading.html`; where
  a lesson displays a course widget (stored notebooks keep no widget output), a note says what it does live;
- exercises/<NN_name>.html: the STUDENT version of each nbs/exercises/*.ipynb, made by the real release path
  (`transfer-course assign`), cached in build/release/<NN_name>/ by the SHA-256 of the instructor notebook and of the
  library's code (a release computes its public checks with it); only student/ is published;
- api/<module>.html: one page per public module, from the docments through nbdev's `show_doc`; the nbdev page name
  of a module that has no lesson page (`core.html`, `grade.html`, ...) is a redirect to its API page, and every
  published name also has its Markdown twin `<name>.html.md` (what the modules' docstrings link to).

A notebook that fails to release fails the build with `assign`'s message; `--skip-failing-exercises` (development
only) leaves such notebooks out instead. Sphinx runs with -W: a warning fails the build. tests/test_docs_site.py
checks the built site in headless Chromium."""
from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, CONF = ROOT/"nbs", ROOT/"docs"
BUILD = ROOT/"build"
SOURCE, HTML, RELEASE = BUILD/"docs-src", BUILD/"docs"/"html", BUILD/"release"
PACKAGE = "transfer_course"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# What an exercise notebook's release depends on besides the notebook itself: the library, which strips it and
# computes its public checks' expected values at release time (any change re-releases: a stale cache would publish
# stale checks). _modidx.py is nbdev's index, not code.
LIVE_WIDGETS = {  # what each course widget does in a live kernel: the site shows this note in its place
    "AugmentExplorer": "gives you a slider for each augmentation's strength and redraws the grid of augmented photos "
                       "as you move them",
    "GradCAMViewer": "lets you pick a photo, a class and the heatmap's opacity, and see where the network looked",
    "PredictionExplorer": "lets you pick a bundled photo or upload your own, and see the model's top-5 as bars",
}


def page_name(stem: str) -> str:
    "nbdev's page name for a notebook: its stem without the number prefix (`04_head` → `head`)."
    return re.sub(r"^\d+[a-z]?_", "", stem)


# ---------------------------------------------------------------------------------------------------- notebooks
def _directives(source: str) -> tuple[dict, str]:
    "nbdev's `#| name value` directives of a code cell, and the code without them."
    found, kept = {}, []
    for line in source.splitlines():
        match = re.match(r"\s*#\|\s*([\w-]+):?\s*(.*)$", line)
        if match: found[match.group(1)] = match.group(2).strip()
        else: kept.append(line)
    return found, "\n".join(kept).strip("\n")


def _widget_note(widget_class: str | None, has_preview: bool) -> dict:
    "A display output that says what a widget does live (the site is static: its JavaScript is never loaded)."
    what = LIVE_WIDGETS.get(widget_class or "", "has controls that need a running kernel")
    name = f"<code>{widget_class}</code>" if widget_class else "This widget"
    note = (f'<div class="widget-note"><b>Interactive widget.</b> In JupyterLab, {name} {what}. '
            f'This page is a static copy: {"its first view is below" if has_preview else "run the notebook to use it"}.'
            '</div>')
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": note}}


def _widget_outputs(output: dict, state: dict, widget_class: str | None) -> list[dict]:
    """A widget's static preview: what its Output widgets captured when the notebook ran (images, text), and a
    note on what it does live. The widget's JavaScript is never loaded."""
    model_id = output["data"][WIDGET_MIME].get("model_id")
    previews, seen, todo = [], set(), [model_id]
    while todo:
        current = todo.pop(0)
        if current in seen or current not in state: continue
        seen.add(current)
        model = state[current].get("state", {})
        if state[current].get("model_name") == "OutputModel": previews += model.get("outputs", [])
        for child in model.get("children", []) or []:
            if isinstance(child, str) and child.startswith("IPY_MODEL_"): todo.append(child.removeprefix("IPY_MODEL_"))
    rest = {k: v for k, v in output["data"].items() if k not in (WIDGET_MIME, "text/plain")}
    kept = [_widget_note(widget_class, bool(previews))]
    if rest: kept.append({**output, "data": rest})
    return kept + [o for o in previews if o.get("output_type") != "error"]


def _call_name(node: ast.AST) -> str | None:
    "`f` for a call of `f(...)` or `module.f(...)`."
    if isinstance(node, ast.Call): node = node.func
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _widget_class(source: str, bound: dict) -> str | None:
    """The LIVE_WIDGETS class whose widget this cell displays (its last expression, or an argument of `display`),
    or None. `bound` maps variable names to widget classes, across the notebook's cells (updated here)."""
    try: tree = ast.parse(source)
    except SyntaxError: return None  # IPython syntax (magics): such a cell displays no course widget
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _call_name(node.value) in LIVE_WIDGETS:
            bound.update({target.id: _call_name(node.value) for target in node.targets if isinstance(target, ast.Name)})
    shown = [tree.body[-1].value] if tree.body and isinstance(tree.body[-1], ast.Expr) else []
    shown += [arg for node in ast.walk(tree) if isinstance(node, ast.Call) and _call_name(node) == "display"
              for arg in node.args]
    for node in shown:
        if isinstance(node, ast.Name) and node.id in bound: return bound[node.id]
        if isinstance(node, ast.Call) and _call_name(node) in LIVE_WIDGETS: return _call_name(node)
    return None


def rewrite_links(text: str) -> str:
    "Links to notebooks (`04_head.ipynb`, `exercises/04_head.ipynb`, `nbs/...`) point at their pages."
    def one(match):
        target = match.group(2)
        path = re.sub(r"^(\.\./)*(nbs/)?", "", target)
        anchor = ""
        if "#" in path: path, anchor = path.split("#", 1); anchor = "#" + anchor
        if not path.endswith(".ipynb"): return match.group(0)
        folder, stem = os.path.split(path[:-6])
        if folder == "exercises": new = f"exercises/{stem}.ipynb"
        elif (NBS/f"{stem}.ipynb").exists() and stem[:2] in {f"0{i}" for i in range(1, 9)}: new = f"{page_name(stem)}.ipynb"
        else: return match.group(0)
        return f"{match.group(1)}({new}{anchor})"
    return re.sub(r"(\[[^\]]*\])\(([^)\s]+)\)", one, text)


def prepare_notebook(notebook: dict, lead: str | None = None) -> dict:
    """A copy of `notebook` rendered as nbdev renders it: `#| hide` cells and directive-only cells dropped,
    directive lines removed, stored outputs kept (widgets as static previews), links to notebooks rewritten."""
    state = notebook.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    state = state.get("state", {})
    cells, bound = [], {}
    for cell in notebook["cells"]:
        cell = json.loads(json.dumps(cell))
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            cell["source"] = rewrite_links(source)
        elif cell["cell_type"] == "code":
            found, code = _directives(source)
            if "hide" in found or found.get("include") == "false" or not code: continue
            cell["source"] = code
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if found.get("echo") == "false": tags.append("remove-input")
            if found.get("output") == "false": tags.append("remove-output")
            outputs, widget_class = [], _widget_class(code, bound)
            for output in cell.get("outputs", []):
                if WIDGET_MIME in output.get("data", {}): outputs += _widget_outputs(output, state, widget_class)
                else: outputs.append(output)
            # A stored notebook keeps no widget output (tools/outputs.py drops them): the note stands in for it.
            if widget_class and not any(o.get("data", {}).get("text/html", "").startswith('<div class="widget-note"')
                                        for o in outputs):
                outputs.insert(0, _widget_note(widget_class, False))
            cell["outputs"] = outputs
        cells.append(cell)
    if lead:  # under the page's title: the title stays the page's first line
        lead_cell, at = {"cell_type": "markdown", "metadata": {}, "source": lead, "id": "site-lead"}, 0
        if cells and cells[0]["cell_type"] == "markdown" and cells[0]["source"].startswith("# "):
            title, _, rest = cells[0]["source"].partition("\n")
            cells[:1] = [{**cells[0], "source": title}] + ([{**cells[0], "source": rest, "id": "site-intro"}]
                                                          if rest.strip() else [])
            at = 1
        cells.insert(at, lead_cell)
    metadata = {k: v for k, v in notebook.get("metadata", {}).items() if k in ("kernelspec", "language_info")}
    return {**notebook, "cells": cells, "metadata": metadata}


def notebook_markdown(notebook: dict) -> str:
    "The Markdown twin of a rendered notebook (`<page>.html.md`): prose, code, and text outputs."
    parts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown": parts.append(source); continue
        if cell["cell_type"] != "code": continue
        parts.append(f"```python\n{source}\n```")
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain")
            if output.get("data", {}).keys() & {"image/png", "image/jpeg", "image/svg+xml"}: parts.append("*(figure)*")
            elif text: parts.append("```\n" + ("".join(text) if isinstance(text, list) else text).rstrip() + "\n```")
    return "\n\n".join(parts) + "\n"


def write_notebook(notebook: dict, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------------- releases
def release_key(notebook: Path) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    for path in sorted((ROOT/PACKAGE).rglob("*.py")):
        if path.name != "_modidx.py": digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def release(notebook: Path) -> tuple[Path | None, str, float]:
    """The student folder of `notebook`'s release, re-assigned only when the notebook (or the release code) changed.
    Returns (student folder or None, assign's message on failure, seconds)."""
    target, key = RELEASE/notebook.stem, release_key(notebook)
    stamp = target/"source.sha256"
    if stamp.exists() and stamp.read_text().strip() == key and (target/"student"/notebook.name).exists():
        return target/"student", "", 0.0
    start, scratch = time.time(), RELEASE/f".{notebook.stem}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    environment = {**os.environ, "MPLBACKEND": "Agg", "TRANSFER_COURSE_OFFLINE": "1"}
    command = [str(Path(sys.executable).parent/"transfer-course"), "assign", str(notebook), "--out", str(scratch)]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)
    if result.returncode:
        shutil.rmtree(scratch, ignore_errors=True)
        return None, (result.stderr.strip() or result.stdout.strip())[-4000:], time.time() - start
    (scratch/"source.sha256").write_text(key + "\n")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    return target/"student", "", time.time() - start


# ---------------------------------------------------------------------------------------------------- API pages
def public_modules() -> list[str]:
    "Every public module of the package (the set tests/test_layering.py orders)."
    package = ROOT/PACKAGE
    return sorted(".".join(p.relative_to(package).with_suffix("").parts) for p in package.rglob("*.py")
                  if not p.name.startswith("_"))


def nbdev_page(module) -> str | None:
    "The page the module's docstring links to (`Docs: https://…/transfer_course/<page>.html.md`)."
    match = re.search(r"/transfer_course/([\w.-]+)\.html\.md", module.__doc__ or "")
    return match.group(1) if match else None


# Names that modules import lazily (inside functions) to stay light, but use in annotations: show_doc evaluates
# annotations, so they are lent to the module while its page is rendered.
LAZY_NAMES = {"torch": "torch", "pd": "pandas", "np": "numpy", "nn": "torch.nn", "Figure": "matplotlib.figure:Figure",
              "DataLoaders": "fastai.data.core:DataLoaders", "Learner": "fastai.learner:Learner"}


def _lend(module, name: str) -> bool:
    "Put lazily imported `name` into `module`'s namespace; False when it is not one this build knows."
    if name not in LAZY_NAMES or name in vars(module): return False
    target, _, attribute = LAZY_NAMES[name].partition(":")
    with warnings.catch_warnings():  # fastai's import: "`torch.jit.script` is deprecated" (fastai's, not ours)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
        value = importlib.import_module(target)
    setattr(module, name, getattr(value, attribute) if attribute else value)
    return True


def _show_doc(symbol, title_level: int) -> str:
    from nbdev.showdoc import show_doc
    module, lent = sys.modules[symbol.__module__], []
    try:
        while True:
            try: markdown = show_doc(symbol, title_level=title_level)._repr_markdown_(); break
            except NameError as error:
                if not (error.name and _lend(module, error.name)):
                    raise SystemExit(f"make docs: API page: {symbol.__module__}.{symbol.__qualname__}: an annotation "
                                     f"cannot be evaluated ({error}). Import the name in the module, or add it to "
                                     "LAZY_NAMES in tools/build_docs.py.") from error
                lent.append(error.name)
    finally:
        for name in lent: delattr(module, name)
    # nbdev's header: a rule and a source link (line `None` outside a notebook build): a plain heading is kept.
    markdown = re.sub(r"\A---\s*\n\s*\[source\]\([^)]*\)\{[^}]*\}\s*\n", "", markdown)
    markdown = re.sub(r"\A---\s*\n", "", markdown)
    try: where = f"{Path(inspect.getsourcefile(symbol)).relative_to(ROOT)}, line {inspect.getsourcelines(symbol)[1]}"
    except (TypeError, OSError, ValueError): where = ""
    return markdown.rstrip() + (f"\n\n<small>Defined in `{where}`.</small>" if where else "") + "\n"


def _members(cls) -> list:
    "The public methods and properties a class documents (defined in its body or attached with @patch)."
    found = []
    for name, attribute in vars(cls).items():
        if name.startswith("_"): continue
        function = attribute.fget if isinstance(attribute, property) else attribute
        function = getattr(function, "__func__", function)
        if inspect.isfunction(function) and function.__doc__: found.append((name, attribute, function))
    return found


def api_markdown(name: str) -> tuple[str, str | None]:
    "The API page of `transfer_course.<name>` (Markdown from show_doc) and its nbdev page name."
    module = importlib.import_module(f"{PACKAGE}.{name}")
    doc = re.sub(r"\n*Docs: \S+", "", module.__doc__ or "").strip()
    names = getattr(module, "__all__", None) or [n for n, v in vars(module).items() if not n.startswith("_")
                                               and getattr(v, "__module__", None) == module.__name__]
    parts, constants = [f"# {PACKAGE}.{name}\n", doc + "\n" if doc else ""], []
    for symbol_name in names:
        symbol = getattr(module, symbol_name, None)
        if inspect.isclass(symbol) or inspect.isfunction(symbol):
            parts.append(_show_doc(symbol, 2))
            if inspect.isclass(symbol):
                for member_name, attribute, function in _members(symbol):
                    if isinstance(attribute, property):
                        parts.append(f"### {symbol_name}.{member_name}\n\n*property*: *{function.__doc__.strip()}*\n")
                    else: parts.append(_show_doc(function, 3))
        else: constants.append(symbol_name)
    if constants: parts.append("## Other names\n\n" + ", ".join(f"`{c}`" for c in constants) + "\n")
    return "\n".join(p for p in parts if p), nbdev_page(module)


# ---------------------------------------------------------------------------------------------------- the site
def readme_markdown() -> str:
    text = (ROOT/"README.md").read_text()
    return rewrite_links(re.sub(r"\A<!--.*?-->\s*", "", text, flags=re.S))


def toctree(caption: str, entries: list[str]) -> str:
    return "```{toctree}\n:caption: " + caption + "\n:maxdepth: 1\n:hidden:\n\n" + "\n".join(entries) + "\n```\n"


REDIRECT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{module}</title>
<meta http-equiv="refresh" content="0; url={target}"><link rel="canonical" href="{target}"></head>
<body><p>The documentation of <code>{module}</code> is on <a href="{target}">its API page</a>.</p></body></html>
"""


def stage(skip_failing: bool) -> tuple[list, dict]:
    "Write the Sphinx source tree under build/docs-src; return the files to add after Sphinx, and timings."
    shutil.rmtree(SOURCE, ignore_errors=True)
    SOURCE.mkdir(parents=True)
    twins, timings, downloads = {}, {}, {}
    lessons = sorted(NBS.glob("0[1-7]_*.ipynb"))
    assert len(lessons) == 7, f"expected the seven lessons nbs/01_*.ipynb … nbs/07_*.ipynb, found {len(lessons)}"
    lesson_pages = []
    for path in lessons + [NBS/"08_grading.ipynb"]:
        notebook = prepare_notebook(json.loads(path.read_text()))
        name = page_name(path.stem)
        write_notebook(notebook, SOURCE/f"{name}.ipynb")
        twins[f"{name}.html.md"] = notebook_markdown(notebook)
        lesson_pages.append(name)

    start, exercise_pages, failures = time.time(), [], []
    exercises = sorted((NBS/"exercises").glob("[0-9]*.ipynb"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(release, exercises))
    for path, (student, message, seconds) in zip(exercises, results):
        if student is None:
            failures.append(f"{path.relative_to(ROOT)}: `transfer-course assign` failed:\n{message}"); continue
        released = json.loads((student/path.name).read_text())
        sidecars = sorted(student.glob("*.exercises.json"))
        links = [f'<a href="downloads/{path.name}" download>the notebook</a>']
        for sidecar in sidecars:
            links.append(f'<a href="downloads/{sidecar.name}" download>its exercises file</a>')
            downloads[f"exercises/downloads/{sidecar.name}"] = sidecar
        downloads[f"exercises/downloads/{path.name}"] = student/path.name
        lead = (":::{note}\nThe student version, as `transfer-course assign` releases it: no solutions, no hidden "
                f"checks. Download {' and '.join(links)}, keep them in one folder and open the notebook in JupyterLab; "
                "each `check()` gives instant feedback.\n:::")
        write_notebook(prepare_notebook(released, lead), SOURCE/"exercises"/path.name)
        exercise_pages.append(f"exercises/{path.stem}")
        timings[f"assign {path.stem}"] = round(seconds, 1)
    timings["assign (all)"] = round(time.time() - start, 1)
    if failures:
        message = "\n\n".join(failures)
        if not skip_failing: raise SystemExit(f"make docs: an exercise notebook does not release.\n\n{message}")
        print(f"WARNING (--skip-failing-exercises): left out of the site:\n{message}", file=sys.stderr)

    start, api_pages, redirects = time.time(), [], {}
    (SOURCE/"api").mkdir()
    for name in public_modules():
        markdown, nbdev_name = api_markdown(name)
        (SOURCE/"api"/f"{name}.md").write_text(markdown)
        api_pages.append(f"api/{name}")
        if nbdev_name and nbdev_name not in lesson_pages:
            redirects[f"{nbdev_name}.html"] = REDIRECT.format(module=f"{PACKAGE}.{name}", target=f"api/{name}.html")
            twins[f"{nbdev_name}.html.md"] = markdown
        twins[f"api/{name}.html.md"] = markdown
    timings["api pages"] = round(time.time() - start, 1)

    index = readme_markdown().rstrip() + "\n\n"
    index += toctree("Lessons", lesson_pages[:7]) + toctree("Instructors", lesson_pages[7:])
    index += toctree("Exercises (student versions)", exercise_pages)
    # The sidebar names modules without the package prefix (full names wrap mid-word); the pages keep them.
    index += toctree("API reference (transfer_course)", [f"{page.removeprefix('api/')} <{page}>" for page in api_pages])
    (SOURCE/"index.md").write_text(index)
    return [twins, redirects, downloads], timings


def build(skip_failing: bool = False, jobs: str = "2") -> dict:
    start = time.time()
    (twins, redirects, downloads), timings = stage(skip_failing)
    timings["stage"] = round(time.time() - start, 1)
    shutil.rmtree(HTML, ignore_errors=True)
    sphinx_start = time.time()
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-j", jobs,
               "-c", str(CONF), "-d", str(BUILD/"docs"/"doctrees"), str(SOURCE), str(HTML)]
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode: raise SystemExit(f"make docs: sphinx-build failed (exit {result.returncode}); see above")
    timings["sphinx"] = round(time.time() - sphinx_start, 1)
    for name, text in {**twins, **redirects}.items():
        (HTML/name).parent.mkdir(parents=True, exist_ok=True)
        (HTML/name).write_text(text)
    for name, origin in downloads.items():
        (HTML/name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, HTML/name)
    offending = []  # an asset (script, style, image, frame) from another host would be a request off the machine
    asset = re.compile(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)=["']((?:https?:)?//[^"']+)""",
                       re.I)
    for page in HTML.rglob("*.html"):
        offending += [f"{page.relative_to(HTML)}: {url}" for url in asset.findall(page.read_text())]
    for sheet in HTML.rglob("*.css"):
        offending += [f"{sheet.relative_to(HTML)}: {url}" for url in
                      re.findall(r"""url\(\s*["']?((?:https?:)?//[^)"']+)""", sheet.read_text(errors="replace"))]
    if offending:
        raise SystemExit("make docs: the site would load assets from the internet:\n" + "\n".join(offending[:20]))
    timings["total"] = round(time.time() - start, 1)
    return timings


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-failing-exercises", action="store_true",
                        help="development only: leave out exercise notebooks that do not release, instead of failing")
    parser.add_argument("-j", "--jobs", default="2", help="sphinx-build parallel jobs (default 2)")
    arguments = parser.parse_args()
    timings = build(arguments.skip_failing_exercises, arguments.jobs)
    pages = len(list(HTML.rglob("*.html")))
    print(f"Built {HTML.relative_to(ROOT)} ({pages} HTML files) in {timings['total']} s: "
          + ", ".join(f"{k} {v} s" for k, v in timings.items() if k != "total"))
