#!/usr/bin/env python
"""Download a lesson dataset from its canonical source, verify every file against the checksums in
data_scripts/manifests/, and install it atomically as DEST/NAME.

    python data_scripts/fetch_dataset.py clothing_small_5cls --dest data
    python data_scripts/fetch_dataset.py hymenoptera --dest data
    python data_scripts/fetch_dataset.py --list

What it does, in order:
1. downloads the source archive (a GitHub archive of the upstream repository at a pinned commit) with a progress
   bar, into a temporary file next to DEST; mirrors are tried in turn;
2. picks out exactly the files listed in the dataset's manifest (the lessons use a subset of the upstream data),
   checking each file's sha256 while extracting it into a hidden temporary folder;
3. renames that folder to DEST/NAME only when every file was present and correct. An interrupted or failed run
   leaves nothing half-made behind.

`--url` replaces the mirrors (any http(s):// or file:// URL of a zip archive with the same layout); the tests use it
with a loopback server. Only the Python standard library is needed; tqdm is used for the progress bar when present.
Exit status: 0 installed or already present and verified, 1 download or verification failed, 2 usage error.
"""
from __future__ import annotations

import argparse, hashlib, os, shutil, sys, tempfile, time, urllib.request, zipfile
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parent/"manifests"

DATASETS = {
    "clothing_small_5cls": {
        "description": "5 clothing classes (dress, hat, pants, shoes, t-shirt), CC0, 446 photos, 12.7 MB",
        "mirrors": ["https://github.com/alexeygrigorev/clothing-dataset-small/archive/11961516512414bf9f6c150a832cfd21b54a6b54.zip"],
        # manifest path -> where the file may sit in the upstream archive (below its top folder)
        "locations": lambda split, label, name: [f"train/{label}/{name}"] if split == "train" else
                                               [f"validation/{label}/{name}", f"test/{label}/{name}"],
    },
    "hymenoptera": {
        "description": "ants vs bees (the PyTorch transfer-learning tutorial's data), 397 photos, 47 MB; no open licence",
        "mirrors": ["https://github.com/zhangtao7750/syn/archive/f0503091488f67b6809a6da2eaa43c25f2f277fc.zip",
                    "https://download.pytorch.org/tutorial/hymenoptera_data.zip"],
        "locations": lambda split, label, name: [f"hymenoptera_data/{split}/{label}/{name}"],
    },
}


class FetchError(RuntimeError):
    "A download or verification failure; the message says what to do."


def read_manifest(name: str) -> dict[str, str]:
    "Relative path -> sha256, from a `sha256sum` style manifest (paths may contain spaces)."
    entries = {}
    for line in (MANIFESTS/f"{name}.sha256.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip(): continue
        digest, path = line.split(maxsplit=1)
        entries[path.strip().removeprefix("./")] = digest.lower()
    return entries


def sha256_of(path: Path, chunk: int = 2**20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk): digest.update(block)
    return digest.hexdigest()


def progress_bar(total: int | None, description: str):
    "A tqdm bar when tqdm is installed, else a minimal one that prints percentages to stderr."
    try:
        from tqdm import tqdm
        return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description, file=sys.stderr)
    except ImportError:
        class Plain:
            def __init__(self): self.done, self.shown = 0, -10
            def update(self, n):
                self.done += n
                if total and (percent := 100 * self.done // total) >= self.shown + 10:
                    self.shown = percent; print(f"{description}: {percent}%", file=sys.stderr)
            def close(self): print(f"{description}: {self.done} bytes", file=sys.stderr)
        return Plain()


def download(url: str, target: Path, timeout: float = 30.0, quiet: bool = False) -> Path:
    "Stream `url` into `target` via a temporary file, with a progress bar; `target` exists only when complete."
    partial = target.with_name(target.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "transfer-course-fetch/1.0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = progress_bar(total, target.name) if not quiet else None
            received = 0
            while block := response.read(2**16):
                out.write(block); received += len(block)
                if bar: bar.update(len(block))
            if bar: bar.close()
            if total is not None and received != total: raise FetchError(f"{url}: received {received} of {total} bytes")
        os.replace(partial, target)
        return target
    except (OSError, ValueError) as error:
        raise FetchError(f"could not download {url}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)


def extract_verified(archive: Path, name: str, into: Path) -> int:
    "Extract the manifest's files from `archive` into `into`, checking every sha256; return the file count."
    spec, manifest = DATASETS[name], read_manifest(name)
    try: members = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as error: raise FetchError(f"{archive.name} is not a zip archive: {error}") from error
    with members:
        by_tail = {}  # the upstream archive has one top folder (repo-commit/); match on the path below it
        for info in members.infolist():
            if info.is_dir(): continue
            parts = info.filename.split("/")
            for start in range(len(parts)): by_tail.setdefault("/".join(parts[start:]), info)
        missing, wrong = [], []
        for relative, expected in manifest.items():
            split, label, file_name = relative.split("/", 2)
            info = next((by_tail[c] for c in spec["locations"](split, label, file_name) if c in by_tail), None)
            if info is None: missing.append(relative); continue
            target = into/relative; target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with members.open(info) as source, open(target, "wb") as out:
                while block := source.read(2**20): digest.update(block); out.write(block)
            if digest.hexdigest() != expected: wrong.append(relative)
    if missing or wrong:
        raise FetchError(f"{name}: {len(missing)} files missing from the archive {missing[:3]}, "
                         f"{len(wrong)} with the wrong sha256 {wrong[:3]}; nothing was installed.")
    return len(manifest)


def verify_installed(folder: Path, name: str) -> list[str]:
    "Files of the manifest that are missing or differ in an installed copy (empty: all good)."
    return [rel for rel, digest in read_manifest(name).items() if not (folder/rel).is_file() or sha256_of(folder/rel) != digest]


def fetch(name: str, dest: Path, urls: list[str] | None = None, force: bool = False, quiet: bool = False) -> Path:
    "Install dataset `name` as dest/name from the first mirror that works; return its folder."
    if name not in DATASETS: raise FetchError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    dest.mkdir(parents=True, exist_ok=True); final = dest/name
    if final.exists() and not force:
        bad = verify_installed(final, name)
        if not bad: print(f"{final} is already present and verified ({len(read_manifest(name))} files)."); return final
        raise FetchError(f"{final} exists but {len(bad)} files are missing or differ (e.g. {bad[:3]}). Re-run with --force to replace it.")
    errors = []
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=dest) as scratch:
        scratch = Path(scratch)
        for url in urls or DATASETS[name]["mirrors"]:
            try:
                start = time.monotonic()
                archive = download(url, scratch/"archive.zip", quiet=quiet)
                count = extract_verified(archive, name, scratch/name)
                break
            except FetchError as error:
                errors.append(str(error)); shutil.rmtree(scratch/name, ignore_errors=True)
        else:
            raise FetchError("every source failed:\n  " + "\n  ".join(errors))
        for suffix, target in ((".sha256.txt", "MANIFEST.sha256.txt"), (".SOURCE.txt", "SOURCE.txt")):
            shutil.copyfile(MANIFESTS/f"{name}{suffix}", scratch/name/target)
        if final.exists(): shutil.rmtree(final)  # only with --force
        os.replace(scratch/name, final)
    print(f"Installed {name}: {count} files verified, in {final} ({time.monotonic() - start:.1f} s).")
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help=f"dataset: {', '.join(sorted(DATASETS))}")
    parser.add_argument("--dest", type=Path, help="data folder; the dataset lands in DEST/NAME (the course's data_dir setting)")
    parser.add_argument("--url", action="append", help="download from this archive URL instead (http(s):// or file://; repeatable)")
    parser.add_argument("--force", action="store_true", help="replace an existing copy that does not verify")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the datasets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for key, spec in sorted(DATASETS.items()): print(f"{key:22} {spec['description']}")
        return 0
    if not args.name or args.dest is None: parser.print_usage(sys.stderr); print("error: NAME and --dest are required", file=sys.stderr); return 2
    if args.name not in DATASETS: print(f"error: unknown dataset {args.name!r}; known: {', '.join(sorted(DATASETS))}", file=sys.stderr); return 2
    try: fetch(args.name, args.dest, args.url, args.force, args.quiet)
    except FetchError as error: print(f"error: {error}", file=sys.stderr); return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
