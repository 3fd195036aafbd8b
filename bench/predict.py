"""Benchmark: images/s of `predict` over a folder of real JPEGs vs the bare forward pass on pre-made tensors.

    .venv/bin/python bench/predict.py [--dataset clothing_small_5cls] [--split valid] [--limit 160] [--batch-size 32]

Prints, in one run (numbers on a shared machine are noisy; compare ratios within a run):
  - bare forward: the model alone on tensors already in memory, same batch size and memory layout;
  - predict: decode + resize + crop + normalise + forward, as users call it (JPEG draft + 2 decode threads);
  - predict without JPEG draft, and a serial no-draft pipeline (the naive way), to show what each choice buys;
  - the ratio predict / bare forward (goal: >= 0.8, i.e. the input pipeline costs at most 25% on top).
"""
import argparse, time
from concurrent.futures import ThreadPoolExecutor

import torch

from transfer_course.core import find_dataset
from transfer_course.pretrained import classify, load_pretrained, predict, preprocess


def timed(function, repeats=1):
    "Best wall time of `repeats` calls of `function()`."
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter(); function(); best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="clothing_small_5cls")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--limit", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="efficientnet_lite0")
    args = parser.parse_args()

    paths = sorted((find_dataset(args.dataset)/args.split).rglob("*.jpg"))[:args.limit]
    model = load_pretrained(args.model, device="cpu")
    record = model.record
    print(f"{len(paths)} JPEGs from {args.dataset}/{args.split}, model {args.model}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} torch threads")

    tensors = torch.stack([preprocess(path, record) for path in paths])
    def bare_forward():
        for start in range(0, len(tensors), args.batch_size): classify(tensors[start:start + args.batch_size], model, record.labels)
    def serial_no_draft():
        for start in range(0, len(paths), args.batch_size):
            batch = torch.stack([preprocess(p, record, draft=False) for p in paths[start:start + args.batch_size]])
            classify(batch, model, record.labels)
    def threaded_no_draft():
        with ThreadPoolExecutor(2) as pool:
            prepared = pool.map(lambda p: preprocess(p, record, draft=False), paths)
            for start in range(0, len(paths), args.batch_size):
                classify(torch.stack([next(prepared) for _ in paths[start:start + args.batch_size]]), model, record.labels)

    bare_forward()  # warm-up
    results = {
        "decode+preprocess only (draft)": timed(lambda: [preprocess(p, record) for p in paths]),
        "bare forward (tensors in memory)": timed(bare_forward, 2),
        "predict (draft + 2 decode threads)": timed(lambda: predict(paths, model, batch_size=args.batch_size), 2),
        "predict, no JPEG draft, threads": timed(threaded_no_draft),
        "naive: serial, no draft": timed(serial_no_draft),
    }
    forward = results["bare forward (tensors in memory)"]
    print(f"\n{'pipeline':38} {'img/s':>8} {'ratio to bare forward':>22}")
    for name, seconds in results.items():
        print(f"{name:38} {len(paths)/seconds:8.1f} {forward/seconds:22.2f}")
    ratio = forward/results["predict (draft + 2 decode threads)"]
    print(f"\npredict / bare forward = {ratio:.2f} (goal >= 0.80): {'met' if ratio >= 0.8 else 'NOT met'}")


if __name__ == "__main__":
    main()
