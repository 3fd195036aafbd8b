"""Similarity and instructor reports from a real grading run of the tiny assignment (issue 15, items 6-8).

Six students: four wrote `double` their own way, `eve` copied `ann` (renamed, re-commented, reformatted) and `mal`'s
notebook prints and raises HTML. Every page is parsed: no element a student wrote may appear in it."""
import base64, contextlib, io, sqlite3
from html.parser import HTMLParser
from pathlib import Path

import nbformat, pytest

from transfer_course.cli import main
from transfer_course.grading.assign import assign
from transfer_course.grading.autograde import Limits, grade
from transfer_course.grading.bundle import load_bundle
from transfer_course.grading.export import feedback_html
from transfer_course.grading.gradebook import open_gradebook
from transfer_course.testing.grading import tiny_assignment_notebook

ANSWERS = {
    "ann": 'def double(values):\n    "Double every value."\n    doubled = values.clone()\n    for index in range(doubled.numel()):\n'
           '        doubled.view(-1)[index] = doubled.view(-1)[index] * 2\n    return doubled',
    "eve": 'def double(xs):\n    # make a copy so the input stays the same\n    out = xs.clone()\n'
           '    for i in range( out.numel() ):\n        out.view(-1)[i] = (out.view(-1)[i]\n                           * 2)\n    return out',
    "bob": 'def double(values):\n    return torch.mul(values, 2.0)',
    "cid": 'def double(values):\n    twice = values + values\n    return twice',
    "dan": 'def double(values):\n    result = torch.zeros_like(values)\n    result += values\n    result.mul_(2)\n'
           '    return result if result.ndim else result.item()',
    "mal": 'def double(values):\n    raise ValueError("<script>alert(1)</script>")',
}
HOSTILE_CELL = 'print("<img src=x onerror=alert(2)>")\nraise RuntimeError("<script>document.title=1</script>")'


class Elements(HTMLParser):
    "The tag names of a page, and the text inside its <pre> elements."
    def __init__(self, page):
        super().__init__(); self.tags, self.pre, self.inside = [], [], False; self.feed(page)
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "pre": self.inside = True; self.pre.append("")
    def handle_endtag(self, tag): self.inside = self.inside and tag != "pre"
    def handle_data(self, data):
        if self.inside: self.pre[-1] += data


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main(list(map(str, args)))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    nbformat.write(tiny_assignment_notebook(), root/"tiny.ipynb")
    assign([root/"tiny.ipynb"], root/"release")
    for student, answer in ANSWERS.items():
        notebook = nbformat.read(root/"release"/"student"/"tiny.ipynb", as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and cell.source.startswith("def double"): cell.source, answer_at = answer, index
            elif cell.cell_type == "code" and cell.source.startswith("cat_label"): cell.source = "cat_label = 'tabby'"
        if student == "mal": notebook.cells.insert(answer_at, nbformat.v4.new_code_cell(HOSTILE_CELL))
        (root/"subs"/student).mkdir(parents=True)
        nbformat.write(notebook, root/"subs"/student/"tiny.ipynb")
    bundle = load_bundle(root/"release"/"autograder")
    grade(root/"subs", bundle, root/"g.sqlite", workers=2, limits=Limits(timeout=60, cell_timeout=20, memory_mb=2048),
          progress=False)
    return root


def dump(db) -> str:
    with sqlite3.connect(db) as connection: return "\n".join(connection.iterdump())


def test_similarity_finds_the_renamed_copy_only_and_changes_no_score(course):
    before = dump(course/"g.sqlite")
    code, out, err = cli("similarity", course/"subs", "--bundle", course/"release"/"autograder",
                         "--out", course/"similarity.html")
    assert code == 0, err
    assert out.splitlines()[0].split("\t")[:3] == ["double", "ann", "eve"] and "1 pair(s)" in out, out
    page = (course/"similarity.html").read_text()
    elements = Elements(page)
    assert not {"script", "img"} & set(elements.tags)
    assert len(elements.pre) == 2 and "doubled.view(-1)[index]" in elements.pre[0] and "# make a copy" in elements.pre[1]
    assert dump(course/"g.sqlite") == before  # scores never change


def test_similarity_refuses_a_tampered_bundle(course, tmp_path):
    import shutil
    shutil.copytree(course/"release", tmp_path/"release")
    bundle = tmp_path/"release"/"autograder"/"bundle.json"
    bundle.write_text(bundle.read_text().replace('"points": 2', '"points": 20'))
    code, out, err = cli("similarity", course/"subs", "--bundle", tmp_path/"release"/"autograder", "--out", tmp_path/"s.html")
    assert code == 2 and "hash" in err and not (tmp_path/"s.html").exists()


def test_instructor_report_has_plots_misconceptions_and_timing(course):
    code, out, err = cli("report", "--db", course/"g.sqlite", "--assignment", "tiny", "--out", course/"report.html")
    assert code == 0, err
    page = (course/"report.html").read_text()
    elements = Elements(page)
    assert not {"script"} & set(elements.tags) and "&lt;script&gt;" in page
    images = [chunk.split('"')[0] for chunk in page.split('src="data:image/png;base64,')[1:]]
    assert len(images) == 2 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "6 submissions graded" in page
    # the misconceptions table: mal's answer fails both checks of double with the message students saw
    assert "hidden check 2 (a 2-d tensor)" in page and "raised ValueError" in page
    with open_gradebook(course/"g.sqlite") as connection:
        seconds = connection.execute("SELECT seconds, execution_seconds FROM submissions").fetchall()
    assert all(s > 0 and 0 < e <= s for s, e in seconds)  # execution seconds are now stored
    assert page.count("<tr><td>") >= 6


def test_feedback_shows_student_html_as_text(course):
    with open_gradebook(course/"g.sqlite") as connection:
        page, honest = feedback_html(connection, "tiny", "mal"), feedback_html(connection, "tiny", "bob")
    assert "&lt;script&gt;document.title=1&lt;/script&gt;" in page and "<script" not in page
    assert Elements(page).tags.count("li") == 1 and not {"script", "img"} & set(Elements(page).tags)
    assert set(Elements(page).tags) <= set(Elements(honest).tags) | {"ul", "li", "h2"}


def test_report_of_unknown_assignment_is_a_clear_error(course, tmp_path):
    code, out, err = cli("report", "--db", course/"g.sqlite", "--assignment", "nope", "--out", tmp_path/"r.html")
    assert code == 1 and "no graded submission of 'nope'" in err and not (tmp_path/"r.html").exists()


def test_the_copy_check_can_fail_without_normalisation(monkeypatch):
    "Raw tokens (no renaming, comments and layout kept) miss eve's copy: the normalisation is what finds it."
    import tokenize
    import transfer_course.grading.reports as reports
    assert [(p.first, p.second) for p in reports.similar_pairs(ANSWERS, "double")[0]] == [("ann", "eve")]
    raw = lambda source: [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.string.strip()]
    monkeypatch.setattr(reports, "normalised_tokens", raw)
    assert reports.similar_pairs(ANSWERS, "double")[0] == []
