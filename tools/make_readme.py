"""Generate README.md from nbs/index.ipynb, so the two can never contradict each other.

    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 if README.md is not what index.ipynb generates
"""
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HEADER = "<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, then run `make readme`. -->\n\n"


def render(notebook_path: Path) -> str:
    "Markdown cells as they are, code cells as fenced Python, hidden (#| hide) cells left out."
    notebook = nbformat.read(notebook_path, as_version=4)
    parts = []
    for cell in notebook.cells:
        source = cell.source.strip()
        if not source or source.startswith("#| hide") or "#| hide" in source.splitlines()[:3]: continue
        if cell.cell_type == "markdown": parts.append(source)
        elif cell.cell_type == "code": parts.append("```python\n" + source + "\n```")
    return HEADER + "\n\n".join(parts) + "\n"


def main(argv):
    expected = render(ROOT/"nbs"/"index.ipynb")
    readme = ROOT/"README.md"
    if "--check" in argv:
        if not readme.exists() or readme.read_text(encoding="utf-8") != expected:
            print("ERROR: README.md differs from what nbs/index.ipynb generates. Run `make readme` and commit.")
            return 1
        return 0
    readme.write_text(expected, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
