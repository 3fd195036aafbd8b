#!/usr/bin/env python
"""Build a URL list (one URL per line, the input of `transfer-course scrape`).

From image-search exports -- files or URLs of JSON (Bing `contentUrl`, DuckDuckGo `image`...), saved HTML result
pages, CSV or plain text:

    python data_scripts/build_url_list.py bing_hats.json saved_page.html -o hat_urls.txt
    python data_scripts/build_url_list.py "https://example.com/gallery.html" -o urls.txt

From a lesson dataset's canonical upstream files (raw GitHub URLs at the pinned commit, listed from the checksum
manifest), to rebuild a class folder by scraping:

    python data_scripts/build_url_list.py --dataset hymenoptera --split train --label ants -o ants_urls.txt

`--base-url` replaces the upstream prefix (the tests point it at a loopback server).
Needs the transfer_course package (for `extract_image_urls`); exit status 0 on success, 1 when a source could not
be read, 2 on usage errors.
"""
from __future__ import annotations

import argparse, sys, urllib.parse, urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_dataset import read_manifest  # noqa: E402  (the checksum manifests live next to this script)

# Where each dataset's files can be fetched one by one, and which of its splits map to a known upstream path.
UPSTREAM = {
    "clothing_small_5cls": ("https://raw.githubusercontent.com/alexeygrigorev/clothing-dataset-small/11961516512414bf9f6c150a832cfd21b54a6b54",
                            {"train": "train"}),  # our valid/ mixes upstream validation/ and test/: not listed per file
    "hymenoptera": ("https://raw.githubusercontent.com/zhangtao7750/syn/f0503091488f67b6809a6da2eaa43c25f2f277fc/hymenoptera_data",
                    {"train": "train", "val": "val"}),
}


def read_source(source: str, timeout: float = 30.0) -> tuple[str, str]:
    "(text, base URL) of a file path or an http(s) URL."
    if urllib.parse.urlsplit(source).scheme in ("http", "https"):
        request = urllib.request.Request(source, headers={"User-Agent": "transfer-course-urls/1.0"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(50 * 2**20).decode(response.headers.get_content_charset() or "utf-8", errors="replace"), source
    return Path(source).read_text(encoding="utf-8", errors="replace"), ""


def dataset_urls(name: str, split: str, label: str | None, base_url: str | None = None) -> list[str]:
    "Upstream URLs of the files of `name`/`split`(/`label`), from the checksum manifest."
    default_base, splits = UPSTREAM[name]
    if split not in splits: raise ValueError(f"{name}: split {split!r} cannot be listed per file; choose from {sorted(splits)}")
    base = (base_url or default_base).rstrip("/")
    urls = []
    for relative in read_manifest(name):
        file_split, file_label, file_name = relative.split("/", 2)
        if file_split == split and (label is None or file_label == label):
            urls.append(f"{base}/{splits[split]}/{file_label}/{urllib.parse.quote(file_name)}")
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", help="export files or URLs (JSON, HTML, CSV, text)")
    parser.add_argument("-o", "--output", type=Path, help="write the list here (default: standard output)")
    parser.add_argument("--dataset", choices=sorted(UPSTREAM), help="list a lesson dataset's upstream files instead")
    parser.add_argument("--split", default="train"); parser.add_argument("--label", default=None)
    parser.add_argument("--base-url", default=None, help="replace the dataset's upstream URL prefix")
    args = parser.parse_args(argv)
    if bool(args.sources) == bool(args.dataset): parser.print_usage(sys.stderr); print("error: give export SOURCES or --dataset", file=sys.stderr); return 2
    if args.dataset:
        try: urls = dataset_urls(args.dataset, args.split, args.label, args.base_url)
        except ValueError as error: print(f"error: {error}", file=sys.stderr); return 2
        header = f"# {args.dataset} {args.split}{'/' + args.label if args.label else ''}: {len(urls)} upstream files"
    else:
        from transfer_course.scrape import extract_image_urls
        urls = []
        for source in args.sources:
            try: text, base = read_source(source)
            except (OSError, ValueError) as error: print(f"error: cannot read {source}: {error}", file=sys.stderr); return 1
            urls += extract_image_urls(text, base_url=base)
        urls = list(dict.fromkeys(urls))
        header = f"# {len(urls)} image URLs from: {' '.join(args.sources)}"
    text = "\n".join([header, *urls]) + "\n"
    if args.output: args.output.write_text(text, encoding="utf-8"); print(f"wrote {len(urls)} URLs to {args.output}", file=sys.stderr)
    else: sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
