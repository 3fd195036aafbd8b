"""data_scripts/ against a loopback server: fetch_dataset.py downloads an archive laid out like the upstream one
(built here from the real files in the data dir), verifies every sha256 and installs atomically; corrupt and
truncated archives install nothing. build_url_list.py reads exports and lists a dataset's upstream files."""
import functools, hashlib, os, subprocess, sys, threading, zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from transfer_course.core import find_dataset
from transfer_course.scrape import scrape_images
from transfer_course.web import fetch_url

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT/"data_scripts"
sys.path.insert(0, str(SCRIPTS))
import fetch_dataset  # noqa: E402


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope="module")
def serve():
    "serve(folder) -> base URL of a loopback server for `folder`; all stopped at the end."
    servers = []
    def start(folder):
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start(); servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"
    yield start
    for server in servers: server.shutdown(); server.server_close()


def run_script(script, *args, timeout=120):
    return subprocess.run([sys.executable, str(SCRIPTS/script), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def upstream_zip(path: Path, name: str, corrupt: str | None = None) -> Path:
    "A zip laid out like the upstream GitHub archive, from the real files in the data dir (plus files we must ignore)."
    source = find_dataset(name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for relative in fetch_dataset.read_manifest(name):
            split, label, file_name = relative.split("/", 2)
            data = (source/relative).read_bytes()
            if relative == corrupt: data = data[:-1] + bytes([data[-1] ^ 1])
            if name == "clothing_small_5cls":
                member = f"clothing-dataset-small-1196151/{'train' if split == 'train' else 'validation'}/{label}/{file_name}"
            else: member = f"syn-f050309/hymenoptera_data/{split}/{label}/{file_name}"
            archive.writestr(member, data)
        archive.writestr("clothing-dataset-small-1196151/train/skirt/extra.jpg" if name == "clothing_small_5cls"
                         else "syn-f050309/hymenoptera_data/train/ants/imageNotFound.gif", b"not in the manifest")
    return path


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archives")
    upstream_zip(folder/"clothing.zip", "clothing_small_5cls")
    upstream_zip(folder/"corrupt.zip", "clothing_small_5cls", corrupt="valid/hat/" + sorted(p.name for p in (find_dataset("clothing_small_5cls")/"valid"/"hat").iterdir())[3])
    data = (folder/"clothing.zip").read_bytes(); (folder/"truncated.zip").write_bytes(data[: len(data) // 2])
    return folder


def test_fetch_installs_a_verified_copy_with_progress(serve, archives, tmp_path):
    base = serve(archives)
    result = run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--url", f"{base}/clothing.zip")
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr and "446 files verified" in result.stdout
    installed = find_dataset("clothing_small_5cls", data_dir=tmp_path)
    assert not fetch_dataset.verify_installed(installed, "clothing_small_5cls")
    assert (installed/"SOURCE.txt").exists() and not (installed/"train"/"skirt").exists()
    assert sorted(os.listdir(tmp_path)) == ["clothing_small_5cls"]  # no archive, no temporary folder left
    again = run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--url", "http://127.0.0.1:9/gone.zip")
    assert again.returncode == 0 and "already present and verified" in again.stdout


def test_fetch_from_a_file_url_and_falls_back_to_the_next_mirror(archives, tmp_path):
    result = run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--quiet",
                        "--url", "http://127.0.0.1:9/refused.zip", "--url", (archives/"clothing.zip").as_uri())
    assert result.returncode == 0, result.stderr
    assert (tmp_path/"clothing_small_5cls"/"valid"/"hat").is_dir()


@pytest.mark.parametrize("archive,message", [("corrupt.zip", "wrong sha256"), ("truncated.zip", "not a zip archive")])
def test_bad_archives_install_nothing(serve, archives, tmp_path, archive, message):
    result = run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--quiet", "--url", f"{serve(archives)}/{archive}")
    assert result.returncode == 1 and message in result.stderr
    assert os.listdir(tmp_path) == []


def test_damaged_install_is_detected_and_force_repairs_it(archives, tmp_path):
    url = (archives/"clothing.zip").as_uri()
    assert run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--quiet", "--url", url).returncode == 0
    victim = next((tmp_path/"clothing_small_5cls"/"train"/"hat").iterdir()); victim.write_bytes(b"oops")
    refused = run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--quiet", "--url", url)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert run_script("fetch_dataset.py", "clothing_small_5cls", "--dest", tmp_path, "--quiet", "--force", "--url", url).returncode == 0
    assert not fetch_dataset.verify_installed(tmp_path/"clothing_small_5cls", "clothing_small_5cls")


def test_hymenoptera_archive_drops_the_broken_placeholder(archives, tmp_path):
    upstream_zip(tmp_path/"hym.zip", "hymenoptera")
    result = run_script("fetch_dataset.py", "hymenoptera", "--dest", tmp_path/"data", "--quiet", "--url", (tmp_path/"hym.zip").as_uri())
    assert result.returncode == 0, result.stderr
    assert (tmp_path/"data"/"hymenoptera"/"train"/"ants"/"ant photos.jpg").exists()
    assert not (tmp_path/"data"/"hymenoptera"/"train"/"ants"/"imageNotFound.gif").exists()


def test_fetch_usage_errors(tmp_path):
    assert run_script("fetch_dataset.py", "imagenet", "--dest", tmp_path).returncode == 2
    assert run_script("fetch_dataset.py", "hymenoptera").returncode == 2
    listed = run_script("fetch_dataset.py", "--list")
    assert listed.returncode == 0 and "clothing_small_5cls" in listed.stdout and "hymenoptera" in listed.stdout


def test_dataset_url_list_scrapes_back_to_the_same_files(serve, tmp_path):
    "URL list of the upstream files -> scrape from a loopback copy of upstream -> byte-identical to the manifest."
    base = serve(find_dataset("clothing_small_5cls"))
    result = run_script("build_url_list.py", "--dataset", "clothing_small_5cls", "--split", "train", "--label", "hat", "--base-url", base, "-o", tmp_path/"hat.txt")
    assert result.returncode == 0, result.stderr
    report = scrape_images(tmp_path/"hat.txt", tmp_path/"hat", progress=False)
    assert len(report.rows) == 60 and report.counts()["failed"] == report.counts()["rejected"] == 0
    expected = {digest for rel, digest in fetch_dataset.read_manifest("clothing_small_5cls").items() if rel.startswith("train/hat/")}
    assert {row.sha256 for row in report.rows} == expected


def test_dataset_url_list_quotes_names_with_spaces(serve, tmp_path):
    base = serve(find_dataset("hymenoptera"))
    result = run_script("build_url_list.py", "--dataset", "hymenoptera", "--split", "train", "--label", "ants", "--base-url", base)
    urls = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    assert result.returncode == 0 and len(urls) == 123
    spaced = next(url for url in urls if "ant%20photos.jpg" in url)
    fetched = fetch_url(spaced)
    assert hashlib.sha256(fetched.data).hexdigest() == fetch_dataset.read_manifest("hymenoptera")["train/ants/ant photos.jpg"]
    assert run_script("build_url_list.py", "--dataset", "clothing_small_5cls", "--split", "valid").returncode == 2


def test_url_list_from_exports(serve, tmp_path):
    (tmp_path/"page.html").write_text('<html><img src="/a.jpg"><img src="b.png"><a href="c.webp">c</a></html>')
    (tmp_path/"bing.json").write_text('{"value": [{"contentUrl": "https://x.example/1.jpg"}, {"contentUrl": "https://x.example/1.jpg"}]}')
    base = serve(tmp_path)
    result = run_script("build_url_list.py", f"{base}/page.html", tmp_path/"bing.json", "-o", tmp_path/"urls.txt")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path/"urls.txt").read_text().splitlines()
    assert lines[0].startswith("#") and lines[1:] == [f"{base}/a.jpg", f"{base}/b.png", f"{base}/c.webp", "https://x.example/1.jpg"]
    assert run_script("build_url_list.py", "http://127.0.0.1:9/none.html").returncode == 1
