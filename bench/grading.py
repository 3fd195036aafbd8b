"""Grading throughput and per-submission overhead on the lesson-1 assignment (issue 3, item 9), locally and on Dask
(issue 15, item 9).

    python bench/grading.py [--n 40] [--workers 1 2] [--dask 1 2] [--release DIR] [--tiny] [--no-classic]

Generates N submissions of nbs/exercises/01_pretrained.ipynb (correct, buggy, partly attempted, untouched; cycled),
grades them with each worker count into a fresh gradebook, and prints:
- throughput (submissions per minute) and wall time per submission;
- the notebooks' own execution time (sum of cell times measured around each execute request);
- overhead per submission = wall time per submission with 1 worker - own execution time
  (kernel start, imports not done by the notebook itself, probes, judging, database, clean-up);
- for comparison, one submission run the classic way: a fresh plain kernel via nbclient (what nbgrader/otter do);
- with --dask: the same submissions graded by `grade_on_cluster` on a process-based `LocalCluster` of 1, 2, ... workers
  (one thread each) on this machine: the same rates, the overhead with one worker, and the ratio Dask / local at the
  same number of workers (cluster start-up reported apart; each worker's first submission pays its kernel pool's
  start, as the local pool does).
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from transfer_course.grading.assign import assign  # noqa: E402
from transfer_course.grading.autograde import Limits, grade  # noqa: E402
from transfer_course.grading.bundle import load_bundle  # noqa: E402

VARIANTS = {
    "correct": {},
    "not_normalised": {"preprocess_image": "def preprocess_image(image, record):\n    image = TF.center_crop(TF.resize(image, record.resize_size), record.input_size)\n    return TF.pil_to_tensor(image).float() / 255"},
    "topk_ascending": {"top_k_labels": "def top_k_labels(logits, labels, k=5):\n    return [[labels[i] for i in row] for row in (-logits).topk(k, dim=-1).indices.tolist()]"},
    "untouched": None,
}
SOLUTIONS = {
    "preprocess_image": "def preprocess_image(image, record):\n    image = TF.resize(image, record.resize_size, interpolation=TF.InterpolationMode(record.interpolation))\n"
                        "    image = TF.center_crop(image, record.input_size)\n    return TF.normalize(TF.pil_to_tensor(image).float() / 255, record.mean, record.std)",
    "top_k_labels": "def top_k_labels(logits, labels, k=5):\n    return [[labels[i] for i in row] for row in logits.topk(k, dim=-1).indices.tolist()]",
    "misclassified": "def misclassified(predictions, acceptable):\n    return sorted(n for n, l in predictions.items() if l[0] not in acceptable[n])",
    "why_astronaut": "why_astronaut = 'B'",
}


def make_submission(student_notebook: Path, variant: str, dest: Path) -> None:
    notebook = nbformat.read(student_notebook, as_version=4)
    answers = None if VARIANTS[variant] is None else {**SOLUTIONS, **VARIANTS[variant]}
    if answers:
        for cell in notebook.cells:
            for name, source in answers.items():
                if cell.cell_type == "code" and (cell.source.startswith(f"def {name}(") or cell.source.startswith(f"{name} =")): cell.source = source
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, dest)


def classic_baseline(notebook_path: Path) -> float:
    "Seconds to run one submission in a fresh, plain kernel with nbclient (kernel start included)."
    from nbclient import NotebookClient
    notebook = nbformat.read(notebook_path, as_version=4)
    start = time.monotonic()
    NotebookClient(notebook, timeout=120, allow_errors=True, resources={"metadata": {"path": str(notebook_path.parent)}}).execute()
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--release", type=Path, help="reuse a release made by `transfer-course assign`")
    parser.add_argument("--dask", type=int, nargs="*", default=[], help="also grade on a LocalCluster of this many workers")
    parser.add_argument("--no-classic", action="store_true", help="skip the fresh-nbclient-kernel baseline")
    parser.add_argument("--tiny", action="store_true", help="grade the trivial two-exercise assignment instead (comparable to peers' 'trivial notebook')")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    release = args.release
    source = ROOT/"nbs"/"exercises"/"01_pretrained.ipynb"
    if args.tiny:
        from transfer_course.testing.grading import tiny_assignment_notebook
        source = work/"tiny.ipynb"; nbformat.write(tiny_assignment_notebook(), source)
        SOLUTIONS.clear(); SOLUTIONS.update(double="def double(values):\n    return values * 2", cat_label="cat_label = 'tabby'")
        VARIANTS.clear(); VARIANTS.update(correct={}, wrong={"double": "def double(values):\n    return values + 1"}, untouched=None)
    if release is None:
        release = work/"release"
        start = time.monotonic()
        assign([source], release)
        print(f"assign: {time.monotonic() - start:.1f} s")
    student_notebook = release/"student"/f"{source.stem}.ipynb"
    names = list(VARIANTS)
    for index in range(args.n):
        make_submission(student_notebook, names[index % len(names)], work/"submissions"/f"s{index:03d}"/student_notebook.name)
    bundle = load_bundle(release/"autograder")
    limits = Limits(timeout=300, cell_timeout=120)
    if not args.no_classic:
        baseline = classic_baseline(work/"submissions"/"s000"/student_notebook.name)
        print(f"classic (fresh nbclient kernel, one correct submission): {baseline:.2f} s")
    rows = []
    for workers in args.workers:
        start = time.monotonic()
        results = grade(work/"submissions", bundle, work/f"gradebook-{workers}.sqlite", workers=workers, limits=limits, progress=False)
        wall = time.monotonic() - start
        own = statistics.mean(r.execution_seconds for r in results)
        per = wall / len(results)
        totals = sorted({round(r.total, 2) for r in results})
        rows.append((workers, wall, per, own))
        overhead = f"overhead {per - own:.2f} s per submission" if workers == 1 else f"speed-up {rows[0][2] / per:.2f}x over {rows[0][0]} worker(s)"
        print(f"workers={workers}: {len(results)} submissions in {wall:.1f} s = {60 / per:.1f}/min, {per:.2f} s each; "
              f"own execution {own:.2f} s; {overhead}; distinct totals {totals}")
    one = next((r for r in rows if r[0] == 1), None)
    if one: print(f"overhead per submission (1 worker): {one[2] - one[3]:.2f} s  (goal <= 2 s; otter ~8 s, nbgrader ~5 s per trivial notebook)")
    local = {workers: per for workers, _, per, _ in rows}
    for workers in args.dask:
        dask_row = grade_on_dask(work, release/"autograder", workers, limits)
        per, own = dask_row
        ratio = f"; Dask/local throughput {local[workers] / per:.2f}x" if workers in local else ""
        overhead = f"; overhead {per - own:.2f} s per submission" if workers == 1 else ""
        print(f"dask workers={workers}: {60 / per:.1f}/min, {per:.2f} s each; own execution {own:.2f} s{overhead}{ratio}")


def grade_on_dask(work: Path, bundle_dir: Path, workers: int, limits) -> tuple[float, float]:
    "(wall seconds per submission, mean own execution seconds) grading work/submissions on a LocalCluster of `workers`."
    import logging
    from distributed import Client, LocalCluster
    from transfer_course.grading.cluster import grade_on_cluster
    start = time.monotonic()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        print(f"dask workers={workers}: cluster started in {time.monotonic() - start:.1f} s")
        start = time.monotonic()
        results = grade_on_cluster(work/"submissions", bundle_dir, work/f"gradebook-dask-{workers}.sqlite", client,
                                   limits=limits, progress=False)
        wall = time.monotonic() - start
    totals = sorted({round(r.total, 2) for r in results})
    print(f"dask workers={workers}: {len(results)} submissions in {wall:.1f} s; distinct totals {totals}")
    return wall / len(results), statistics.mean(r.execution_seconds for r in results)


if __name__ == "__main__":
    main()
