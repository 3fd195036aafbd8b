"""The course website (`make docs` → build/docs/html), checked page by page in a real browser.

Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright's sync API) opens every HTML page, served from a
loopback http.server, and each page must: load with status 200; log no console error; request nothing from a host
other than the loopback one (such requests are recorded and aborted); show no Python traceback or error output in
any cell; have every internal link resolve to a file of the site (and its #anchor to an id on that page). Lesson pages
must show at least as many figures as their notebook has image outputs, every figure loaded; exercise pages must not
show any solution, hidden test or instructor-only line of their instructor notebook, nor the markers. A full-page
screenshot of each lesson page goes to build/docs/screenshots/ (JPEG).

The site is not built here: run `make docs` first (`make test` does). The negative tests at the end tamper with a
copy of a few pages (the rest of the site linked, not copied) and show that each check fails."""
from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from transfer_course.exercises import (EXERCISE_DEFINITION, HIDDEN_BEGIN, HIDDEN_END, INSTRUCTOR_ONLY, SOLUTION_BEGIN,
                                       SOLUTION_END, SOLUTION_LINE)

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT/"build"/"docs"/"html"
SCREENSHOTS = ROOT/"build"/"docs"/"screenshots"
NBS = ROOT/"nbs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
OFF_MACHINE = re.compile(r"^(https?|wss?)://(?!(127\.0\.0\.1|localhost|\[::1\])([:/]|$))", re.I)  # not loopback
MARKERS = [SOLUTION_BEGIN, SOLUTION_END, SOLUTION_LINE, HIDDEN_BEGIN, HIDDEN_END, INSTRUCTOR_ONLY, EXERCISE_DEFINITION]
SECRET_MIN_CHARS = 25  # shorter lines (`return x`, `import torch`) are too common to say anything
IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")


def page_name(stem: str) -> str:
    "The site's page of a lesson notebook: nbdev's name, the stem without its number (`04_head` → `head`)."
    return re.sub(r"^\d+[a-z]?_", "", stem)


def lesson_notebooks() -> dict[str, Path]:
    "{page path: notebook} for the lessons 01-07 and the instructor walk-through 08."
    paths = sorted(NBS.glob("0[1-7]_*.ipynb")) + [NBS/"08_grading.ipynb"]
    return {f"{page_name(p.stem)}.html": p for p in paths}


def exercise_notebooks() -> dict[str, Path]:
    "{page path: instructor notebook} for every exercise notebook."
    return {f"exercises/{p.stem}.html": p for p in sorted((NBS/"exercises").glob("[0-9]*.ipynb"))}


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _shown(source: str) -> bool:
    "Is a code cell's output on the page (not `#| hide`, `#| include: false` or `#| output: false`)?"
    directives = dict(re.findall(r"^\s*#\|\s*([\w-]+):?\s*(.*?)\s*$", source, re.M))
    return not ("hide" in directives or directives.get("include") == "false" or directives.get("output") == "false")


def image_outputs(notebook: Path) -> int:
    "How many image outputs (PNG, SVG, JPEG) the cells that the page shows have stored."
    cells = json.loads(notebook.read_text())["cells"]
    return sum(any(mime in output.get("data", {}) for mime in IMAGE_MIMES)
               for cell in cells if cell["cell_type"] == "code" and _shown(_source(cell))
               for output in cell.get("outputs", []))


def _normal(text: str) -> str:
    return " ".join(text.split())


@functools.lru_cache(maxsize=None)
def secret_lines(notebook: Path) -> tuple[str, ...]:
    """The lines of an instructor notebook that students must not see: inside solution and hidden-test regions,
    the value of `### SOLUTION` lines, and the instructor-only and exercise-definition cells (reference answers and
    hidden tests), longer than SECRET_MIN_CHARS and not also written in a cell the students get."""
    secret, public = set(), set()
    for cell in json.loads(notebook.read_text())["cells"]:
        source = _source(cell)
        if cell["cell_type"] != "code":
            public.update(_normal(line) for line in source.splitlines()); continue
        first = source.lstrip().splitlines()[0].strip() if source.strip() else ""
        whole_cell_secret = first in (INSTRUCTOR_ONLY, EXERCISE_DEFINITION)
        region = None
        for line in source.splitlines():
            stripped = line.strip()
            if stripped in (SOLUTION_BEGIN, HIDDEN_BEGIN): region = stripped; continue
            if stripped in (SOLUTION_END, HIDDEN_END): region = None; continue
            if whole_cell_secret or region: secret.add(_normal(line))
            elif stripped.endswith(SOLUTION_LINE):  # `answer = VALUE  ### SOLUTION`: the value is the secret
                secret.add(_normal(stripped.removesuffix(SOLUTION_LINE).partition("=")[2]))
            else: public.add(_normal(line))
    return tuple(sorted(line for line in secret - public if len(line) > SECRET_MIN_CHARS and not line.startswith("#")))


# ---------------------------------------------------------------------------------------------------- serving
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@contextmanager
def serve(root: Path):
    "Serve `root` on a free loopback port (in a thread); yields the base URL, ending in /."
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try: yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown(); server.server_close(); thread.join(5)


# ---------------------------------------------------------------------------------------------------- one page
_ids_cache: dict[Path, set] = {}


def _ids(path: Path) -> set:
    "The ids (and `<a name>`s) a page defines, read from its file."
    if path not in _ids_cache:
        text = path.read_text(errors="replace")
        _ids_cache[path] = {html.unescape(v) for v in re.findall(r"""\b(?:id|name)=["']([^"']+)["']""", text)}
    return _ids_cache[path]


REDIRECT = re.compile(r"""<meta http-equiv="refresh" content="0; url=([^"]+)">""")
FIGURES_JS = """() => Array.from(document.querySelectorAll('.cell_output img'))
                  .map(img => ({src: img.getAttribute('src') || '', ok: img.complete && img.naturalWidth > 0}))"""
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href], link[href], img[src], script[src], iframe[src], source[src]'))
                  .map(e => e.getAttribute(e.hasAttribute('href') ? 'href' : 'src'))"""
ERRORS_JS = """() => {
  const found = [];
  for (const e of document.querySelectorAll('.cell_output .traceback, .cell_output .error, .output.traceback, .output.error'))
    found.push('error output: ' + e.innerText.trim().split('\\n')[0].slice(0, 160));
  for (const e of document.querySelectorAll('.cell_output')) {
    const text = e.innerText;
    if (text.includes('Traceback (most recent call last)'))
      found.push('traceback in a cell output: ' + text.trim().split('\\n').slice(-1)[0].slice(0, 160));
  }
  for (const e of document.querySelectorAll('.cell_output .stderr')) {
    const m = e.innerText.match(/\\b\\w*(Error|Exception)\\b: .*/);
    if (m) found.push('error on stderr: ' + m[0].slice(0, 160));
  }
  return found;
}"""


class Tab:
    """One browser tab that visits pages in turn (a new tab per page costs a quarter of a second), recording each
    visit's console errors and requests to other hosts (those are aborted: nothing leaves the machine)."""
    def __init__(self, context):
        self.page, self.console, self.off_machine = context.new_page(), [], []
        self.page.route(OFF_MACHINE, self._abort)  # matched in the browser: only requests to other hosts come here
        self.page.on("request", lambda request: self.off_machine.append(request.url)
                     if OFF_MACHINE.search(request.url) else None)
        self.page.on("console", lambda message: self.console.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.console.append(f"uncaught: {error}"))

    def _abort(self, route):
        self.off_machine.append(route.request.url); route.abort()

    def leave(self):
        "End a visit: the next page is a first visit again (no storage left by this one)."
        try: self.page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        except Exception: pass  # a page that did not load has no storage to clear
        self.page.goto("about:blank")
        self.console.clear(); self.off_machine.clear()


def check_page(tab: Tab, base: str, site: Path, relative: str, screenshots: Path | None = None) -> list[str]:
    "Open `relative` (a page of `site` served at `base`) in `tab`; return its problems."
    problems, page = [], tab.page
    url = urljoin(base, relative)
    try:
        try:
            response = page.goto(url, wait_until="load", timeout=30_000)
            status = response.status if response else None
        except Exception as error:  # playwright's Error or TimeoutError: the page did not load
            return problems + [f"does not load: {str(error).splitlines()[0]}"]
        if status != 200: problems.append(f"status {status}")
        source = (site/relative).read_text(errors="replace") if (site/relative).is_file() else ""
        redirect = REDIRECT.search(source)
        if redirect:  # an nbdev page name that points to its API page: it must arrive there
            target = urljoin(url, html.unescape(redirect.group(1)))
            try: page.wait_for_url(target, timeout=10_000); page.wait_for_load_state("load")
            except Exception: problems.append(f"redirect to {redirect.group(1)} did not arrive (at {page.url})")
            relative = urlsplit(page.url).path.lstrip("/") or relative
        if status == 200:
            problems += page.evaluate(ERRORS_JS)
            problems += _link_problems(page.evaluate(LINKS_JS), site, relative)
            if relative in lesson_notebooks(): problems += _figure_problems(page, relative, screenshots)
            if relative in exercise_notebooks():
                secrets = secret_lines(exercise_notebooks()[relative]) + tuple(MARKERS)
                text = _normal(page.evaluate("() => document.body.innerText"))
                problems += [f"instructor text on an exercise page: {line[:100]!r}" for line in secrets if line in text]
                problems += _download_problems(page.evaluate(LINKS_JS), site, relative, secrets)
        page.wait_for_timeout(50)  # late console messages from the theme's scripts
        problems += [f"console error: {text[:200]}" for text in tab.console]
        problems += [f"request off the machine: {url}" for url in dict.fromkeys(tab.off_machine)]
    finally:
        tab.leave()
    return problems


def _link_problems(targets: list, site: Path, relative: str) -> list[str]:
    "Internal links (no scheme) that do not resolve to a file of `site`, or to an anchor of it."
    problems = []
    page_url = "http://site/" + relative
    for target in dict.fromkeys(t for t in targets if t is not None):
        if urlsplit(target).scheme or target.startswith("//"): continue  # external links are not loaded
        parts = urlsplit(urljoin(page_url, target))
        path = site/unquote(parts.path).lstrip("/")
        if parts.path.endswith("/"): path = path/"index.html"
        if not path.is_file():
            problems.append(f"broken link: {target}"); continue
        if parts.fragment and path.suffix == ".html" and unquote(parts.fragment) not in _ids(path):
            problems.append(f"broken anchor: {target}")
    return problems


def _download_problems(targets: list, site: Path, relative: str, secrets: tuple) -> list[str]:
    "Instructor lines in the notebooks an exercise page offers for download (its release, the page's source)."
    problems = []
    for target in dict.fromkeys(t for t in targets if t and not urlsplit(t).scheme):
        path = site/unquote(urlsplit(urljoin("http://site/" + relative, target)).path).lstrip("/")
        if path.suffix != ".ipynb" or not path.is_file(): continue
        code = _normal("\n".join(_source(cell) for cell in json.loads(path.read_text())["cells"]))
        problems += [f"instructor text in {target}: {line[:100]!r}" for line in secrets if line in code]
    return problems


def _figure_problems(page, relative: str, screenshots: Path | None) -> list[str]:
    problems = []
    figures = page.evaluate(FIGURES_JS)
    expected = image_outputs(lesson_notebooks()[relative])
    if len(figures) < expected:
        problems.append(f"{len(figures)} figures on the page, {expected} image outputs in "
                        f"{lesson_notebooks()[relative].relative_to(ROOT)}")
    problems += [f"figure does not load: {figure['src']}" for figure in figures if not figure["ok"]]
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
        # JPEG: a lesson page is about 1280 × 35000 pixels; PNG takes twice as long to encode, for no use here
        page.screenshot(path=str(screenshots/(Path(relative).stem + ".jpg")), full_page=True, type="jpeg", quality=75)
    return problems


def site_pages(site: Path) -> list[str]:
    "Every HTML page of the site (the theme's template fragments under _static/ are not pages)."
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "_static")


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (`apt-get install chromium`; "
                    ".ci/run does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try: yield chromium
        finally: chromium.close()


@pytest.fixture
def tab(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    try: yield Tab(context)
    finally: context.close()


def built_site(folder: Path) -> Path:
    "`folder` if it holds a built site; otherwise the test fails (it does not skip) and says what to run."
    if not (folder/"index.html").exists():
        pytest.fail(f"{folder} has no built site: run `make docs` first (`make test` builds it)")
    return folder


@pytest.fixture(scope="module")
def site() -> Path:
    return built_site(SITE)


# ---------------------------------------------------------------------------------------------------- the site
def test_site_has_every_page(site):
    "Every lesson, the walk-through and every exercise notebook has its page (a release that failed is no page)."
    missing = [f"{page} (from {notebook.relative_to(ROOT)})"
               for page, notebook in {**lesson_notebooks(), **exercise_notebooks()}.items() if not (site/page).is_file()]
    assert not missing, "pages missing from the site: " + ", ".join(missing) + ". Run `make docs` (it fails on an " \
                        "exercise notebook that does not release)."
    assert (site/"api").is_dir() and len(list((site/"api").glob("*.html"))) >= 10, "the API pages are missing"


def test_every_page_in_the_browser(site, tab):
    "Every page loads cleanly; lesson pages get a full-page screenshot under build/docs/screenshots/."
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    pages, problems, start = site_pages(site), {}, time.time()
    assert len(pages) > 20, f"only {len(pages)} pages under {site}"
    with serve(site) as base:
        for relative in pages:
            found = check_page(tab, base, site, relative, screenshots=SCREENSHOTS)
            if found: problems[relative] = found
    report = "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())
    assert not problems, f"{len(problems)} of {len(pages)} pages have problems:\n{report}"
    shots = sorted(p.stem for p in SCREENSHOTS.glob("*.jpg"))
    assert shots == sorted(Path(p).stem for p in lesson_notebooks()), f"screenshots: {shots}"
    print(f"{len(pages)} pages checked in {time.time() - start:.1f} s")


def test_widgets_have_a_static_note(site):
    "A widget's place on a lesson page says what it does live (the site loads no widget JavaScript)."
    from_notebooks = {}
    for page, notebook in lesson_notebooks().items():
        text = notebook.read_text()
        for widget in ("PredictionExplorer", "AugmentExplorer", "GradCAMViewer"):
            if re.search(rf"\b{widget}\(", text): from_notebooks.setdefault(page, []).append(widget)
    assert from_notebooks, "no lesson uses a course widget: update this test"
    for page, widgets in from_notebooks.items():
        text = (site/page).read_text()
        for widget in widgets:
            assert re.search(rf'class="widget-note"><b>Interactive widget.</b> In JupyterLab, <code>{widget}</code>',
                             text), f"{page}: no note for {widget}"


# ---------------------------------------------------------------------------------------------------- each check fails
@pytest.fixture
def tampered(site, tmp_path):
    """A copy of the site in which every file is a link to the real one; `edit(page, change)` replaces one page by
    a changed copy. Yields (copy, edit)."""
    copy = tmp_path/"site"
    for folder, _, files in os.walk(site):
        target = copy/Path(folder).relative_to(site)
        target.mkdir(parents=True, exist_ok=True)
        for name in files: (target/name).symlink_to(Path(folder)/name)

    def edit(relative: str, change) -> None:
        text = (site/relative).read_text()
        changed = change(text)
        assert changed != text, f"the tampering did not change {relative}"
        (copy/relative).unlink(); (copy/relative).write_text(changed)
        _ids_cache.pop(copy/relative, None)
    return copy, edit


def _inject(text: str, snippet: str) -> str:
    "Put `snippet` at the start of the page's article."
    return re.sub(r"(<article[^>]*>)", lambda m: m.group(1) + snippet, text, count=1)


def _problems(tab, copy: Path, relative: str) -> list[str]:
    with serve(copy) as base: return check_page(tab, base, copy, relative)


def _first_lesson() -> str:
    return next(iter(lesson_notebooks()))


def _an_exercise(site: Path) -> str:
    pages = [page for page in exercise_notebooks() if (site/page).is_file() and secret_lines(exercise_notebooks()[page])]
    assert pages, "no exercise page with solution lines to tamper with"
    return pages[0]


def test_check_fails_on_a_traceback(tampered, tab):
    copy, edit = tampered
    page = _first_lesson()
    traceback = ('<div class="cell_output docutils container"><div class="output traceback highlight-ipythontb '
                 'notranslate"><pre>Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom</pre>'
                 '</div></div>')
    edit(page, lambda text: _inject(text, traceback))
    found = _problems(tab, copy, page)
    assert any(p.startswith("error output") for p in found) and any(p.startswith("traceback in") for p in found), found


def test_check_fails_on_an_error_in_a_stderr_output(tampered, tab):
    copy, edit = tampered
    page = _first_lesson()
    stderr = '<div class="cell_output docutils container"><div class="output stderr"><pre>KeyError: \'x\'</pre></div></div>'
    edit(page, lambda text: _inject(text, stderr))
    assert any(p.startswith("error on stderr: KeyError") for p in _problems(tab, copy, page))


def test_check_fails_on_broken_links_and_anchors(tampered, tab):
    copy, edit = tampered
    page = _first_lesson()
    edit(page, lambda text: _inject(text, '<a href="no_such_page.html">x</a><a href="index.html#no-such-anchor">y</a>'
                                          '<img src="_images/missing.png">'))
    found = _problems(tab, copy, page)
    assert {"broken link: no_such_page.html", "broken anchor: index.html#no-such-anchor",
            "broken link: _images/missing.png"} <= set(found), found


def test_check_fails_on_a_request_off_the_machine(tampered, tab):
    copy, edit = tampered
    page = "index.html"
    edit(page, lambda text: _inject(text, '<img src="http://example.com/tracker.png">'))
    found = _problems(tab, copy, page)
    assert "request off the machine: http://example.com/tracker.png" in found, found


def test_check_fails_on_a_console_error(tampered, tab):
    copy, edit = tampered
    page = "index.html"
    edit(page, lambda text: _inject(text, '<script>console.error("the page is broken")</script>'))
    assert "console error: the page is broken" in _problems(tab, copy, page)


def test_every_visit_is_a_first_visit(tampered, tab):
    "An error that only a first visit shows (nothing in localStorage yet) is found on every page, not only the first."
    copy, edit = tampered
    script = ('<script>if (!localStorage.getItem("seen")) console.error("first visit");'
              'localStorage.setItem("seen", "1");</script>')
    for page in ("index.html", "genindex.html"): edit(page, lambda text: _inject(text, script))
    with serve(copy) as base:
        for page in ("index.html", "genindex.html", "index.html"):
            assert "console error: first visit" in check_page(tab, base, copy, page), page


def test_check_fails_on_a_missing_page(tampered, tab):
    copy, _ = tampered
    assert "status 404" in _problems(tab, copy, "no_such_page.html")


def test_check_fails_on_a_page_that_does_not_load(tab, site):
    with serve(site) as base: pass  # the server is gone: nothing listens on its port any more
    found = check_page(tab, base, site, "index.html")
    assert len(found) == 1 and found[0].startswith("does not load: "), found


def test_check_fails_on_a_missing_figure(tampered, tab):
    copy, edit = tampered
    page = next(p for p, notebook in lesson_notebooks().items() if image_outputs(notebook))
    edit(page, lambda text: re.sub(r'<img [^>]*src="_images/[^"]+"[^>]*>', "", text, count=1))
    found = _problems(tab, copy, page)
    assert any(re.match(r"\d+ figures on the page, \d+ image outputs", p) for p in found), found


def test_check_fails_on_a_figure_that_does_not_load(tampered, tab):
    copy, edit = tampered
    page = next(p for p, notebook in lesson_notebooks().items() if image_outputs(notebook))
    figure = re.search(r'<img [^>]*src="(_images/[^"]+)"', (copy/page).read_text()).group(1)
    (copy/figure).unlink(); (copy/figure).write_bytes(b"not a picture")
    assert f"figure does not load: {figure}" in _problems(tab, copy, page)


def test_check_fails_on_solution_text(tampered, tab):
    copy, edit = tampered
    page = _an_exercise(copy)
    line = secret_lines(exercise_notebooks()[page])[0]
    edit(page, lambda text: _inject(text, f"<pre>{html.escape(line)}</pre><p>### BEGIN HIDDEN TESTS</p>"))
    found = _problems(tab, copy, page)
    assert f"instructor text on an exercise page: {line[:100]!r}" in found, found
    assert "instructor text on an exercise page: '### BEGIN HIDDEN TESTS'" in found, found


def test_check_fails_on_solution_text_in_a_download(tampered, tab):
    copy, edit = tampered
    page = _an_exercise(copy)
    line = secret_lines(exercise_notebooks()[page])[0]
    download = f"exercises/downloads/{Path(page).stem}.ipynb"
    notebook = json.loads((copy/download).read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": line})
    (copy/download).unlink(); (copy/download).write_text(json.dumps(notebook))
    found = _problems(tab, copy, page)
    assert f"instructor text in downloads/{Path(page).stem}.ipynb: {line[:100]!r}" in found, found


def test_secret_lines_cover_every_kind_of_region(tmp_path):
    "Solution and hidden regions, `### SOLUTION` values, instructor-only and definition cells are secret; public cells not."
    cells = [("markdown", "Write `answer` below; see `common_public_line_that_is_long_enough()`."),
             ("code", "common_public_line_that_is_long_enough()\nx = 1"),
             ("code", "def f():\n    ### BEGIN SOLUTION\n    return solution_region_line_that_is_long()\n    ### END SOLUTION"),
             ("code", "answer = the_value_of_a_solution_line_long()  ### SOLUTION"),
             ("code", "check()\n### BEGIN HIDDEN TESTS\nassert hidden_test_line_that_is_long_enough()\n### END HIDDEN TESTS"),
             ("code", "### INSTRUCTOR ONLY\nassert instructor_only_line_that_is_long_enough()\n"
                      "common_public_line_that_is_long_enough()"),
             ("code", "### EXERCISE DEFINITION\nreference = reference_answer_formula_that_is_long()")]
    notebook = tmp_path/"01_x.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": kind, "source": source, "metadata": {}}
                                              for kind, source in cells]}))
    assert set(secret_lines(notebook)) == {"the_value_of_a_solution_line_long()",
                                           "assert hidden_test_line_that_is_long_enough()",
                                           "assert instructor_only_line_that_is_long_enough()",
                                           "reference = reference_answer_formula_that_is_long()",
                                           "return solution_region_line_that_is_long()"}


def test_missing_site_fails_with_what_to_do(tmp_path):
    "Without a built site the browser test fails (not skips) and says to run `make docs`."
    with pytest.raises(pytest.fail.Exception, match="run `make docs`"): built_site(tmp_path/"html")
    (tmp_path/"html").mkdir(); (tmp_path/"html"/"index.html").write_text("<html></html>")
    assert built_site(tmp_path/"html") == tmp_path/"html"
