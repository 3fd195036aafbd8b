"""Our scraper vs fastai's download_images + verify_images on the same URL list, served by MockWeb on 127.0.0.1.

    TRANSFER_COURSE_DATA=../shared/data .venv/bin/python bench/scrape.py [--limit 60]

Prints wall times and, for every URL, what each tool left behind. fastai runs in a child process (as a user would
run it), with its defaults (8 threads, 4 s timeout), and is stopped after --limit seconds if it has not finished;
a thin wrapper around fastai's own `download_url` records which URL went to which file, without changing behaviour.
Run twice: on the full list, and on the list without the trickling, hanging and endless URLs (which fastai's
per-read timeout cannot stop, and which it has no size cap for).
"""
import argparse, io, json, os, signal, subprocess, sys, tempfile, textwrap, time
from pathlib import Path

from PIL import Image

from transfer_course.core import find_dataset
from transfer_course.scrape import ImageRejected, ScrapeOptions, scrape_images, verify_image
from transfer_course.testing.web import MockWeb

FASTAI_CHILD = textwrap.dedent("""
    import sys, json, threading
    from pathlib import Path
    import fastai.vision.utils as utils
    from fastai.vision.utils import download_images, verify_images
    from fastai.data.transforms import get_image_files
    urls, dest, log = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), open(sys.argv[3], "a")
    original, lock = utils.download_url, threading.Lock()
    def recording_download_url(url, path, *args, **kwargs):
        with lock: log.write(json.dumps([url, str(path)]) + "\\n"); log.flush()
        return original(url, path, *args, **kwargs)
    utils.download_url = recording_download_url
    import time; Path(sys.argv[4] + ".start").write_text(repr(time.time()))  # after the imports: time the work only
    download_images(dest, urls=urls)
    failed = verify_images(get_image_files(dest))
    Path(sys.argv[4]).write_text(json.dumps([str(p) for p in failed])); Path(sys.argv[4] + ".end").write_text(repr(time.time()))
""")


def run_fastai(urls, workdir: Path, limit: float):
    "Run fastai in a child; return (seconds of download + verify, not counting fastai's import; finished; url -> outcome)."
    dest, log, failed_file = workdir/"fastai", workdir/"fastai_log.jsonl", workdir/"fastai_failed.json"
    (workdir/"urls.json").write_text(json.dumps(urls)); log.write_text("")
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", FASTAI_CHILD, str(workdir/"urls.json"), str(dest), str(log), str(failed_file)],
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try: child.wait(timeout=limit); finished = child.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL); child.wait(); finished = False
    started, ended = Path(str(failed_file) + ".start"), Path(str(failed_file) + ".end")
    seconds = (float(ended.read_text()) if ended.exists() else time.time()) - (float(started.read_text()) if started.exists() else time.time() - (time.monotonic() - start))
    flagged = set(json.loads(failed_file.read_text())) if failed_file.exists() else None
    mapping = {}
    for line in log.read_text().splitlines():
        url, path = json.loads(line); mapping.setdefault(url, Path(path))
    outcomes = {}
    for url in urls:
        path = mapping.get(url)
        if path is None: outcomes[url] = "never started"; continue
        if not path.exists():
            leftovers = [p.name for p in dest.glob(path.name + "*")]
            outcomes[url] = f"no file{' (left ' + ', '.join(leftovers) + ')' if leftovers else ''}"; continue
        size = path.stat().st_size
        if flagged is None: verdict = "verify_images never ran"
        else: verdict = "flagged by verify_images" if str(path) in flagged else "kept"
        outcomes[url] = f"{path.suffix} file, {size} B, {verdict}{judge(path.read_bytes())}"
    return seconds, finished, outcomes


def judge(data: bytes) -> str:
    "What our verifier thinks of a file fastai kept (to show what slipped through)."
    try: verify_image(data); mode = Image.open(io.BytesIO(data)).mode
    except ImageRejected as error: return f" [really: {error.reason}]"
    return f" [mode {mode}]" if mode != "RGB" else ""


def run_ours(urls, workdir: Path):
    start = time.monotonic()
    report = scrape_images(urls, workdir/"ours", options=ScrapeOptions(timeout=4.0, deadline=10.0), progress=False)
    return time.monotonic() - start, {row.url: f"{row.status}{' / ' + row.reason if row.reason else ''}" for row in report.rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0]); parser.add_argument("--limit", type=float, default=60.0)
    args = parser.parse_args()
    hats = sorted((find_dataset("clothing_small_5cls")/"train"/"hat").glob("*.jpg"))
    with MockWeb(hats[:40], trickle_interval=0.2) as web:
        catalogue = web.catalogue(good=range(0, 24), spare=range(24, 36))
        endless = {"deadline", "timeout", "too-large"}  # trickles, hangs and endless streams: fastai has no deadline or size cap
        for title, cases in (("full list", catalogue), ("without trickling, hanging and endless URLs", [c for c in catalogue if c.reason not in endless])):
            urls = [case.url for case in cases]
            with tempfile.TemporaryDirectory() as tmp:
                ours_seconds, ours = run_ours(urls, Path(tmp))
                fastai_seconds, finished, theirs = run_fastai(urls, Path(tmp), args.limit)
                print(f"\n=== {title}: {len(urls)} URLs ({sum(c.status == 'saved' for c in cases)} good images) ===")
                print(f"ours   (8 threads, 4 s read timeout, 10 s deadline per URL): {ours_seconds:6.1f} s, "
                      f"{sum(v.startswith('saved') for v in ours.values())} images kept")
                print(f"fastai (8 threads, 4 s timeout, defaults):                    {fastai_seconds:6.1f} s"
                      f"{'' if finished else f' -- STOPPED at the {args.limit:.0f} s limit, not finished'}, "
                      f"{sum('kept' in v for v in theirs.values())} files kept")
                print(f"\n{'case':44} {'ours':28} fastai")
                for case in cases:
                    if case.status == "saved" and case.case == "a real photo": continue
                    print(f"{case.case[:44]:44} {ours[case.url][:28]:28} {theirs[case.url]}")
                plain = [c for c in cases if c.case == "a real photo"]
                print(f"{'(' + str(len(plain)) + ' plain photos)':44} {', '.join(sorted({ours[c.url] for c in plain})):28} "
                      f"{', '.join(sorted({theirs[c.url].split(',')[-1].strip() for c in plain}))}")


if __name__ == "__main__":
    main()
