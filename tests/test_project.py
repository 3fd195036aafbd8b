"Project hygiene: README generated from index.ipynb, CI runs the README's test command, no data committed."
import configparser, subprocess, sys

from conftest import ROOT


def test_readme_is_generated_from_index_notebook():
    result = subprocess.run([sys.executable, str(ROOT/"tools"/"make_readme.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT/"README.md").read_text(), (ROOT/".ci"/"run").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "\nmake test" in ci


def test_settings_ini_is_the_course_file_and_pyproject_holds_nbdev():
    import tomllib
    assert "nbdev" in tomllib.loads((ROOT/"pyproject.toml").read_text())["tool"]
    parser = configparser.ConfigParser(); parser.read(ROOT/"settings.ini")
    assert parser.has_section("transfer_course") and parser.has_section("grading")


def test_no_images_from_the_shared_data_are_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert not [path for path in tracked if path.lower().endswith((".jpg", ".jpeg"))]
