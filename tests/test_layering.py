"""The library's layers: a module imports only modules below it (core → engine → records → data, web, metrics →
lessons 01–07 → recipes, widgets → exercise framework → grading → testing fixtures → cli), lazily or not."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent/"transfer_course"
ORDER = ["core", "engine", "records", "data", "web", "metrics", "checks",
         "pretrained", "scrape", "augment", "train", "finetune", "interpret", "pitfalls",
         "recipes", "widgets", "capstone", "exercises", "sandbox",
         "grading.bundle", "grading.gradebook", "grading.export", "grading.assign", "grading.autograde", "grading.cluster",
         "grading.term", "grading.reports",
         "testing.web", "testing.grading", "cli"]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    return ".".join(path.relative_to(package).with_suffix("").parts)


def course_imports(path: Path, package: Path = PACKAGE) -> set[str]:
    "Every transfer_course module `path` imports, at module level or inside functions, absolute or relative."
    name, found = module_name(path, package), set()
    package_parts = name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.removeprefix("transfer_course.") for alias in node.names
                      if alias.name.startswith("transfer_course.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package_parts[:len(package_parts) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("transfer_course"):
                base = node.module.removeprefix("transfer_course").lstrip(".")
            else: continue
            targets = [base] if base else []
            if not node.module or base in ("grading", "testing"):  # from . import x / from .grading import bundle
                targets = [f"{base}.{alias.name}".lstrip(".") for alias in node.names]
            found |= set(targets)
    return {target for target in found if target} - {name}


def library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not p.name.startswith("_"))


def test_every_module_has_a_place_in_the_order():
    assert sorted(map(module_name, library_modules())) == sorted(ORDER)


@pytest.mark.parametrize("path", library_modules(), ids=module_name)
def test_imports_point_down(path):
    rank = ORDER.index(module_name(path))
    upward = sorted(target for target in course_imports(path) if ORDER.index(target) > rank)
    assert not upward, f"{module_name(path)} imports modules above it: {upward}"


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    "The check itself can fail: an import inside a function, and relative ones, are found."
    package = tmp_path/"transfer_course"
    (package/"grading").mkdir(parents=True)
    (package/"core.py").write_text("def f():\n    from transfer_course.cli import main\nfrom .records import x\n")
    assert course_imports(package/"core.py", package) == {"cli", "records"}
    (package/"grading"/"export.py").write_text("from .gradebook import y\nfrom ..engine import z\nimport transfer_course.web\n")
    assert course_imports(package/"grading"/"export.py", package) == {"grading.gradebook", "engine", "web"}
