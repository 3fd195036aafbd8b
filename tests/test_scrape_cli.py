"""`transfer-course scrape` and `transfer-course split` end to end: a subprocess, as a user runs them, against a
real HTTP server on 127.0.0.1."""
import csv

import pytest

from conftest import run_cli
from transfer_course.core import find_dataset
from transfer_course.scrape import MANIFEST_NAME, scrape_images
from transfer_course.testing.web import MockWeb


@pytest.fixture(scope="module")
def web():
    photos = sorted((find_dataset("clothing_small_5cls")/"train"/"pants").glob("*.jpg"))[:8]
    with MockWeb(photos) as server: yield server


def test_scrape_command_reports_and_exits_zero_despite_failures(web, tmp_path):
    urls = tmp_path/"urls.txt"
    urls.write_text("# pants\n" + "\n".join([web.url(f"photo/{i}.jpg") for i in range(6)] +
                    [web.url("status/404"), web.url("html/0.jpg"), web.url("copy/0.jpg"), web.url("trickle/1.jpg"), web.url("photo/0.jpg")]) + "\n")
    result = run_cli("scrape", urls, "--dest", tmp_path/"pants", "--workers", "4", "--timeout", "2", "--deadline", "2",
                     "--max-bytes", "5000000", "--quiet", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "10 URLs" in result.stdout and "http-404" in result.stdout and "deadline" in result.stdout
    with open(tmp_path/"pants"/MANIFEST_NAME, newline="") as handle: rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["saved"] * 6 + ["failed", "rejected", "duplicate", "failed"]
    assert {"url", "status", "reason", "file", "sha256", "width", "height", "phash", "duplicate_of"} <= set(rows[0])


def test_scrape_command_max_pics_then_retry_failed(web, tmp_path):
    urls = tmp_path/"urls.txt"
    urls.write_text("\n".join([web.url(f"photo/{i}.jpg") for i in range(8)] + [web.url("status/404")]))
    first = run_cli("scrape", urls, "--dest", tmp_path/"d", "--max-pics", "3", "--workers", "2", "--quiet", timeout=120)
    assert first.returncode == 0 and len(list((tmp_path/"d").glob("*.jpg"))) == 3
    hits = web.hits["/status/404"]
    again = run_cli("scrape", urls, "--dest", tmp_path/"d", "--quiet", "--retry-failed", timeout=120)
    assert again.returncode == 0 and len(list((tmp_path/"d").glob("*.jpg"))) == 8
    assert web.hits["/status/404"] == hits + 1  # fetched once in this run: either as a retry or as never tried


def test_scrape_command_exits_1_when_every_url_failed(web, tmp_path):
    urls = tmp_path/"urls.txt"
    urls.write_text("\n".join([web.url("status/404"), web.url("html/0.jpg"), web.url("status/410")]) + "\n")
    result = run_cli("scrape", urls, "--dest", tmp_path/"dead", "--quiet", "--retries", "0", timeout=120)
    assert result.returncode == 1, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "none of the 3 URLs gave an image" in errors[0], result.stderr
    assert "3 URLs" in result.stdout  # the summary still says what happened to each
    urls.write_text(urls.read_text() + web.url("photo/2.jpg") + "\n")  # one good URL is enough
    again = run_cli("scrape", urls, "--dest", tmp_path/"dead", "--quiet", timeout=120)
    assert again.returncode == 0 and "error" not in again.stderr, again.stderr


def test_scrape_command_usage_errors(tmp_path):
    missing = run_cli("scrape", tmp_path/"nope.txt", "--dest", tmp_path/"d")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    from transfer_course.cli import build_parser
    with pytest.raises(SystemExit) as exit_info: build_parser().parse_args(["scrape", "urls.txt"])  # --dest is required
    assert exit_info.value.code == 2


def test_split_command(web, tmp_path):
    for label, indices in (("a", range(0, 4)), ("b", range(4, 8))):
        scrape_images([web.url(f"photo/{i}.jpg") for i in indices], tmp_path/"raw"/label, progress=False)
    result = run_cli("split", tmp_path/"raw", "--valid-pct", "0.25", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path/"raw_split"/"valid").iterdir()) == ["a", "b"]
    assert len(list((tmp_path/"raw_split"/"valid"/"a").iterdir())) == 1
