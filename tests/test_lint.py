"""The linter behind `make lint` (ruff's F rules) catches the bug class of issue 12: a name imported in a cell that
nbdev does not export, so the generated module uses an undefined name."""
import subprocess, sys
from pathlib import Path

from conftest import ROOT

RUFF = Path(sys.executable).parent/"ruff"


def ruff_f(folder):
    "Run the `make lint` check on `folder`; return the CompletedProcess."
    return subprocess.run([str(RUFF), "check", "--select", "F", "--no-cache", "--output-format", "concise", str(folder)],
                          capture_output=True, text=True, cwd=ROOT)


def test_undefined_name_from_an_unexported_import_is_reported(tmp_path):
    package = tmp_path/"pkg"; package.mkdir()
    # What nbdev writes when `import io` sits in a cell without `#| export`: the module uses io, never imports it.
    (package/"images.py").write_text(
        "from PIL import Image\n\n"
        "def load_image(source: bytes) -> Image.Image:\n"
        "    return Image.open(io.BytesIO(source))\n")
    result = ruff_f(package)
    assert result.returncode == 1
    assert "F821" in result.stdout and "`io`" in result.stdout and "images.py:4" in result.stdout


def test_unused_import_is_reported_and_a_clean_module_passes(tmp_path):
    package = tmp_path/"pkg"; package.mkdir()
    (package/"clean.py").write_text("import io\n\ndef as_file(data: bytes) -> io.BytesIO:\n    return io.BytesIO(data)\n")
    assert ruff_f(package).returncode == 0
    (package/"unused.py").write_text("import json\n")
    result = ruff_f(package)
    assert result.returncode == 1 and "F401" in result.stdout
