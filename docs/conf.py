"""Sphinx configuration of the course website. `make docs` (tools/build_docs.py) stages the pages under
build/docs-src and builds them with this folder as the configuration directory, into build/docs/html.

Everything is offline: notebooks are rendered from their stored outputs (no kernel), widget JavaScript is not
loaded, math is rendered at build time (no MathJax), and the theme's assets are all served from _static."""
import html
import re

project = "transfer_course"
author = "transfer_course authors"
copyright = "the transfer_course authors"

extensions = ["myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# Notebooks: stored outputs only, no widget JS (require.js and the widget manager would come from a CDN).
nb_execution_mode = "off"
nb_ipywidgets_js = {}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # `core.html#atomic_write`, as nbdev's doc links are written
myst_dmath_double_inline = True

# The pages a build must not warn about: lessons are free to go from # to ### (nbdev's style).
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_title = "transfer_course"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_source_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "home_page_in_toc": True,
}
# pydata-sphinx-theme's default mode is empty: a first visit (nothing in localStorage yet) then logs the console
# error "Got invalid theme mode: ." on the first page opened.
html_context = {"default_mode": "auto"}
html_show_sourcelink = False
html_copy_source = True  # the download button offers each page's notebook
html_last_updated_fmt = None

# Math at build time: $…$ in the lessons is short (β, ln, subscripts, powers), rendered as HTML text; anything
# this small converter does not know is a build warning (and so a failed build), never a CDN script.
math_renderer = "course_unicode"

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "omega": "ω", "Delta": "Δ", "Sigma": "Σ", "approx": "≈", "times": "×", "cdot": "·", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "pm": "±", "infty": "∞", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "ldots": "…", "cdots": "⋯", "dots": "…", "sum": "∑", "prod": "∏", "in": "∈",
    "partial": "∂", "nabla": "∇", "propto": "∝", "sim": "∼", "quad": "\u2003", ",": "\u2009", " ": " ",
    "%": "%", "{": "{", "}": "}", "_": "_",
}
_RELATIONS = {"approx", "times", "leq", "le", "geq", "ge", "neq", "ne", "pm", "to", "rightarrow", "leftarrow", "in",
              "propto", "sim"}
_FUNCTIONS = {"ln", "log", "exp", "max", "min", "arg", "argmax", "argmin", "sin", "cos", "tanh", "softmax"}
_TEXT = {"text", "mathrm", "operatorname", "textrm", "mbox"}
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([{}^_])|(\s+)|([^\\{}^_\s]+)")


class UnknownTeX(ValueError): pass


def _braced(tokens: list, i: int) -> int:
    "Index just past the {group} that starts at tokens[i]."
    if i >= len(tokens) or tokens[i] != ("brace", "{"): raise UnknownTeX("an argument in {…} is missing")
    depth, j = 1, i + 1
    while j < len(tokens) and depth:
        depth += {("brace", "{"): 1, ("brace", "}"): -1}.get(tokens[j], 0); j += 1
    if depth: raise UnknownTeX("unbalanced braces")
    return j


def _argument(tokens: list, i: int) -> tuple[str, int]:
    "Render one argument ({group} or one atom) starting at tokens[i]; return (html, next index)."
    while i < len(tokens) and tokens[i][0] == "space": i += 1
    if i >= len(tokens): raise UnknownTeX("an argument is missing")
    if tokens[i] == ("brace", "{"):
        j = _braced(tokens, i)
        return _render(tokens[i + 1:j - 1]), j
    return _atom(tokens, i)


def _raw(tokens: list) -> str:
    return "".join("\\" + v if k == "cmd" else v for k, v in tokens)


def _text(value: str) -> str:
    return "".join(f"<i>{c}</i>" if c.isascii() and c.isalpha() else "−" if c == "-" else f" {html.escape(c)} " if c in "=<>+"
                   else html.escape(c)
                   for c in value)


def _atom(tokens: list, i: int) -> tuple[str, int]:
    "Render the atom at tokens[i] (a command with its arguments, a script, a group, text); return (html, next)."
    kind, value = tokens[i]
    if kind == "cmd" and value in _TEXT:
        j = _braced(tokens, i + 1)
        return f'<span class="math-text">{html.escape(_raw(tokens[i + 2:j - 1]))}</span>', j
    if kind == "cmd" and value == "frac":
        numerator, i = _argument(tokens, i + 1)
        denominator, i = _argument(tokens, i)
        return f"({numerator})/({denominator})", i
    if kind == "cmd" and value == "sqrt":
        body, i = _argument(tokens, i + 1)
        return f"√({body})", i
    if kind == "cmd" and value in _FUNCTIONS: return f'<span class="math-text">{value}</span>\u2009', i + 1
    if kind == "cmd" and value in _RELATIONS: return f" {html.escape(_SYMBOLS[value])} ", i + 1
    if kind == "cmd" and value in _SYMBOLS: return html.escape(_SYMBOLS[value]), i + 1
    if kind == "cmd": raise UnknownTeX(f"\\{value}")
    if kind == "brace" and value in "^_":
        body, i = _argument(tokens, i + 1)
        tag = "sup" if value == "^" else "sub"
        return f"<{tag}>{body}</{tag}>", i
    if kind == "brace" and value == "{":
        j = _braced(tokens, i)
        return _render(tokens[i + 1:j - 1]), j
    if kind == "brace": raise UnknownTeX("unbalanced braces")
    if kind == "space": return "", i + 1
    return _text(value), i + 1


def _render(tokens: list) -> str:
    out, i = [], 0
    while i < len(tokens):
        piece, i = _atom(tokens, i)
        out.append(piece)
    return "".join(out)


def tex_to_html(tex: str) -> str:
    "HTML text for a short TeX formula; UnknownTeX for anything it cannot render faithfully."
    tokens = []
    for match in _TOKEN.finditer(tex):
        command, brace, space, text = match.groups()
        tokens.append(("cmd", command) if command is not None else ("brace", brace) if brace is not None
                      else ("space", space) if space is not None else ("text", text))
    return _render(tokens)


def _visit_math(self, node, block=False):
    from docutils import nodes
    from sphinx.util import logging
    tex = node.astext()
    try: body = tex_to_html(tex)
    except UnknownTeX as error:
        logging.getLogger(__name__).warning(f"math {tex!r}: cannot render {error} offline; simplify the formula",
                                            location=node)
        body = f"<code>{html.escape(tex)}</code>"
    tag = "div" if block else "span"
    self.body.append(f'<{tag} class="math course-math">{body}</{tag}>')
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("course_unicode", (_visit_math, None),
                               (lambda self, node: _visit_math(self, node, block=True), None))
