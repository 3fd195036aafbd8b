"""Print the shape of each lesson notebook and check it against the lesson targets (issue 12).

    python tools/lesson_stats.py                 # lessons nbs/01_*..07_*; exit 1 listing every missed target
    python tools/lesson_stats.py --report-only   # print only, exit 0
    python tools/lesson_stats.py nbs/04_head.ipynb other.ipynb

How each figure is counted (simple on purpose, so a student or reviewer can check it by hand):
- A *code cell* is a code cell with at least one line left after dropping blank lines and nbdev directives (`#| ...`);
  its *lines* are those remaining lines. `median` and `p90` are over code cells (p90: nearest rank, the value at
  position ceil(0.9 n) of the sorted line counts).
- *Code words* and *prose words* are matches of the regex \\w+ in code cells (directive lines dropped) and in markdown
  cells (embedded data: URIs dropped) respectively; the runtime banner (cell id `runtime-banner`, written by
  tools/outputs.py) is not prose.
- *First result*: counting every code cell from 1 (imports included, as a student meets them), the first that
  shows something: its last top-level statement is an expression (Jupyter
  displays its value, or it is a call such as `show_batch(...)`) that is not a `test_*(...)` call or a string, or it
  calls `print`, `display` or a matplotlib drawing call (`imshow`, `plot`, `subplots`, `figure`, `show`) anywhere.
  Cells marked `#| hide` and cells of only imports never count as the result, nor does a last statement that calls
  a set-up function whose value means nothing to a student (`seed_everything`, `start`). Target: position <= 5.
- *Exports tested*: of the exported cells (`#| export`, `exports`, `exporti`) that define something (a def, a class or
  an assignment), the fraction whose next code cell is not exported (a demo or a test).
- *Longest line*: the longest line of any code cell, in characters (directives included).
"""
from __future__ import annotations
import argparse, ast, json, math, re, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = dict(median=6, p90=15, first_result=5, longest_line=100)
REFERENCE = ("fastcore's 01_basics for comparison: median 5, p90 14 lines per code cell, "
             "~80% of exports followed by a test")
DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)")
EXPORT_DIRECTIVES = {"export", "exports", "exporti"}
SETUP_CALLS = {"seed_everything", "start"}  # their displayed value (a seed, a server) is not a result
SHOWING_CALLS = {"print", "display", "imshow", "plot", "subplots", "figure", "show"}  # output or a matplotlib figure
BANNER_ID = "runtime-banner"  # the runtime banner tools/outputs.py writes: not lesson prose
WORD = re.compile(r"\w+")
DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")


def _source(cell: dict) -> str:
    "A cell's source as one string (notebooks store it as a list of lines or as a string)."
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _directives(text: str) -> set[str]:
    "The nbdev directives of a cell, e.g. {'export'} for `#| export`."
    return {match.group(1) for line in text.splitlines() if (match := DIRECTIVE.match(line))}


def _code_lines(text: str) -> list[str]:
    "The cell's lines without blank lines and nbdev directives."
    return [line for line in text.splitlines() if line.strip() and not DIRECTIVE.match(line)]


def _parse(lines: list[str]) -> ast.Module | None:
    "The cell as a Python module (IPython magics and shell escapes dropped), or None when it does not parse."
    try: return ast.parse("\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError: return None


def _is_import(node: ast.AST) -> bool:
    "An import, or an `if TYPE_CHECKING:` block of imports."
    if isinstance(node, ast.If): return not node.orelse and all(map(_is_import, node.body))
    return isinstance(node, (ast.Import, ast.ImportFrom))


def _only_imports(tree: ast.Module | None) -> bool:
    "Whether the cell only imports (setup a student need not look at)."
    return tree is not None and all(map(_is_import, tree.body))


def _defines(tree: ast.Module | None) -> bool:
    "Whether the cell defines something at top level (function, class or assigned name)."
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    return tree is not None and any(isinstance(node, kinds) for node in tree.body)


def _called_name(node: ast.AST) -> str:
    "The called function's name for `f(...)` or `x.f(...)`, else ''."
    if not isinstance(node, ast.Call): return ""
    return getattr(node.func, "id", "") or getattr(node.func, "attr", "")


def _shows_result(tree: ast.Module | None) -> bool:
    "Whether running the cell visibly shows something (see the module docstring)."
    if tree is None or not tree.body: return False
    if any(_called_name(node) in SHOWING_CALLS for node in ast.walk(tree)): return True
    last = tree.body[-1]
    if not isinstance(last, ast.Expr): return False
    if _called_name(last.value) in SETUP_CALLS: return False
    if isinstance(last.value, ast.Constant) and isinstance(last.value.value, str): return False
    return not _called_name(last.value).startswith("test_")


def _p90(values: list[int]) -> int:
    "Nearest-rank 90th percentile."
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def notebook_stats(path: str | Path) -> dict:
    "The figures of one notebook (see the module docstring for how each is counted)."
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    code = []  # (source, directives, lines, tree) of each non-empty code cell, in order
    prose_words = 0
    for cell in cells:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and cell.get("id") != BANNER_ID:
            prose_words += len(WORD.findall(DATA_URI.sub(" ", text)))
        if cell["cell_type"] != "code": continue
        lines = _code_lines(text)
        if lines: code.append((text, _directives(text), lines, _parse(lines)))
    counts = [len(lines) for _, _, lines, _ in code]
    first = next((n for n, (_, directives, _, tree) in enumerate(code, 1)
                  if "hide" not in directives and not _only_imports(tree) and _shows_result(tree)), None)
    exported = [i for i, (_, directives, _, tree) in enumerate(code)
                if directives & EXPORT_DIRECTIVES and _defines(tree)]
    untested = [i for i in exported if i + 1 >= len(code) or code[i + 1][1] & EXPORT_DIRECTIVES]
    all_lines = [(len(line), n) for n, (text, *_) in enumerate(code, 1) for line in text.splitlines()]
    longest, longest_cell = max(all_lines, default=(0, None))
    return dict(
        notebook=Path(path).name, code_cells=len(code),
        median=statistics.median(counts) if counts else 0, p90=_p90(counts) if counts else 0,
        code_words=sum(len(WORD.findall("\n".join(lines))) for _, _, lines, _ in code), prose_words=prose_words,
        first_result=first, exports=len(exported), exports_tested=len(exported) - len(untested),
        untested=[_first_name(code[i][3]) for i in untested],
        longest_line=longest, longest_cell=longest_cell,
        long_lines=sum(length > TARGETS["longest_line"] for length, _ in all_lines))


def _first_name(tree: ast.Module | None) -> str:
    "The first name a cell defines (to point at an untested export)."
    for node in tree.body if tree else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): return node.name
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name): return target.id
    return "?"


def violations(stats: dict) -> list[str]:
    "One line per lesson target that `stats` misses (empty when all are met)."
    found = []
    if stats["median"] > TARGETS["median"]:
        found.append(f"median code cell {stats['median']:g} lines > {TARGETS['median']}")
    if stats["p90"] > TARGETS["p90"]: found.append(f"p90 code cell {stats['p90']} lines > {TARGETS['p90']}")
    if stats["prose_words"] < stats["code_words"]:
        found.append(f"prose {stats['prose_words']} words < code {stats['code_words']} words")
    if stats["first_result"] is None or stats["first_result"] > TARGETS["first_result"]:
        where = "no code cell" if stats["first_result"] is None else f"code cell {stats['first_result']}"
        found.append(f"first visible result at {where} (target: within the first {TARGETS['first_result']})")
    if stats["exports_tested"] < stats["exports"]:
        names = ", ".join(stats["untested"][:6]) + (", ..." if len(stats["untested"]) > 6 else "")
        found.append(f"{stats['exports'] - stats['exports_tested']} of {stats['exports']} exported cells not followed "
                     f"by a demo or test: {names}")
    if stats["longest_line"] > TARGETS["longest_line"]:
        found.append(f"{stats['long_lines']} code lines > {TARGETS['longest_line']} characters "
                     f"(longest {stats['longest_line']}, code cell {stats['longest_cell']})")
    return found


def report(all_stats: list[dict]) -> str:
    "The table of figures, one row per notebook."
    header = (f"{'notebook':<22}{'cells':>6}{'median':>7}{'p90':>5}{'code w':>8}{'prose w':>8}"
              f"{'1st result':>11}{'exports tested':>16}{'longest':>8}")
    rows = [header, "-" * len(header)]
    for s in all_stats:
        tested = f"{s['exports_tested']}/{s['exports']}"
        if s["exports"]: tested += f" {s['exports_tested'] / s['exports']:.0%}"
        rows.append(f"{s['notebook']:<22}{s['code_cells']:>6}{s['median']:>7g}{s['p90']:>5}{s['code_words']:>8}"
                    f"{s['prose_words']:>8}{str(s['first_result'] or '-'):>11}{tested:>16}{s['longest_line']:>8}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    "Print the figures; return 1 if a notebook misses a target (0 with --report-only)."
    parser = argparse.ArgumentParser(description="Lesson notebook figures against the lesson targets of issue 12.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: nbs/01_*.ipynb .. nbs/07_*.ipynb)")
    parser.add_argument("--report-only", action="store_true", help="print the figures and misses, always exit 0")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(p for p in (ROOT / "nbs").glob("0[1-7]_*.ipynb"))
    if not paths: print("no lesson notebooks found", file=sys.stderr); return 2
    all_stats = [notebook_stats(path) for path in paths]
    print(f"Targets: code cells median <= {TARGETS['median']} and p90 <= {TARGETS['p90']} lines; prose words >= code "
          f"words; a visible result within the first {TARGETS['first_result']} code cells; every exported definition "
          f"followed by a demo or test; code lines <= {TARGETS['longest_line']} characters.")
    print(f"Reference: {REFERENCE}.\n")
    print(report(all_stats))
    missed = {s["notebook"]: violations(s) for s in all_stats}
    missed = {name: found for name, found in missed.items() if found}
    if missed:
        print("\nMissed targets:")
        for name, found in missed.items(): print("\n".join(f"  {name}: {line}" for line in found))
    else: print("\nEvery lesson meets every target.")
    return 1 if missed and not args.report_only else 0


if __name__ == "__main__": sys.exit(main())
