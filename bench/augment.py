"""Training-augmentation throughput (images/s, one process, num_workers=0) with and without presizing.

    TRANSFER_COURSE_DATA=../shared/data .venv/bin/python bench/augment.py [--rounds 3]

For each dataset's training folder: one epoch of load + `train_transform(record)` from the originals (full decode),
from the originals with JPEG draft decoding (`image_loader`), and from presized copies (`presize_folder`, whose
one-off cost is printed separately). Methods are interleaved over several rounds and the best round is reported,
because this machine is shared and noisy. Plus, for scale, the hymenoptera photos larger than 1000 px, 12 epochs.
"""
import argparse, tempfile, time
from pathlib import Path

import torch
from PIL import Image

from transfer_course.augment import image_loader, presize_folder, presize_size, train_transform
from transfer_course.core import find_dataset
from transfer_course.data import load_image
from transfer_course.records import get_record


def images_per_second(paths: list[Path], transform, loader=load_image) -> float:
    "Throughput of load + transform over `paths`, in images per second (single process)."
    start = time.perf_counter()
    for path in paths: transform(loader(path))
    return len(paths) / (time.perf_counter() - start)


def measure(title: str, paths: list[Path], root: Path, repeats: int, rounds: int, record) -> None:
    augment = train_transform(record)
    with tempfile.TemporaryDirectory() as cache:
        originals = Path(cache)/"originals"
        for i, path in enumerate(paths):
            link = originals/path.parent.name/f"{i:05d}_{path.name}"; link.parent.mkdir(parents=True, exist_ok=True); link.symlink_to(path)
        start = time.perf_counter(); presize_folder(originals, Path(cache)/"presized", presize_size(record), record.interpolation)
        presize_rate = len(paths) / (time.perf_counter() - start)
        copies = sorted((Path(cache)/"presized").rglob("*.jpg"))
        methods = {"originals, full decode": (paths, load_image), "originals, draft decode": (paths, image_loader(record)),
                   "presized copies": (copies, load_image)}
        best = {name: 0.0 for name in methods}
        for _ in range(rounds):
            for name, (files, loader) in methods.items():
                torch.manual_seed(0); best[name] = max(best[name], images_per_second(files * repeats, augment, loader))
    sizes = [Image.open(p).size for p in paths]
    print(f"\n{title}: {len(paths)} photos x {repeats} epoch(s), median size {sorted(sizes)[len(sizes) // 2]}, presized to {presize_size(record)} px")
    print(f"   making the presized copies (once)   {presize_rate:7.1f} img/s")
    for name, rate in best.items(): print(f"   {name:35} {rate:7.1f} img/s   ({rate / best['originals, full decode']:.2f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0]); parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = get_record("efficientnet_lite0")
    print(f"record {record.name}: input {record.input_size}, resize {record.resize_size} {record.interpolation}; torch threads 1")
    clothing = sorted(find_dataset("clothing_small_5cls").glob("train/*/*.jpg"))
    hymenoptera = sorted(find_dataset("hymenoptera").glob("train/*/*.jpg"))
    large = [p for p in sorted(find_dataset("hymenoptera").glob("*/*/*.jpg")) if max(Image.open(p).size) > 1000]
    measure("clothing_small_5cls/train", clothing, None, 1, args.rounds, record)
    measure("hymenoptera/train", hymenoptera, None, 1, args.rounds, record)
    measure("hymenoptera photos > 1000 px", large, None, 12, args.rounds, record)


if __name__ == "__main__":
    main()
