"""Run the lessons and exercise notebooks at full size and store their outputs; check that stored outputs are current.

    python tools/outputs.py                          # lessons nbs/01_*..07_* and nbs/exercises/*.ipynb
    python tools/outputs.py nbs/04_head.ipynb ...    # a subset
    python tools/outputs.py --check [notebooks]      # exit 1 when a notebook's code changed after its outputs were made

How a notebook is run: in a fresh `python3` kernel started in the notebook's folder, in full mode on the CPU
(TRANSFER_COURSE_QUICK=0, TRANSFER_COURSE_OFFLINE=1, TRANSFER_COURSE_DEVICE=cpu, no CUDA device, matplotlib's inline
backend, PYTHONHASHSEED=0). Any error stops the run with a non-zero exit naming the notebook, the cell and the error
(cells tagged `raises-exception` may raise); nothing is written for a notebook that failed.

What is stored (cleaned so that a rerun on another machine changes only what really changed):
- execution counts are the top-to-bottom run's, 1, 2, 3... over the non-empty code cells: they depend on the
  notebook alone, so a rerun does not change them (nbdev's clean would null them, but nbval then refuses a cell
  with outputs and no count: "Unrun reference cell has outputs"); object ids (`<... at 0x7f...>`) are dropped from text outputs (as nbdev's clean does);
- machine paths in text outputs become placeholders: the data folder `<data>`, the repository `<repo>`, temporary
  folders `<tmp>`, the home folder `~`;
- widget outputs (ipywidgets, tqdm's notebook bar) are dropped, and so is the notebook's widget state: the docs site
  is static, and a widget's plain-text fallback shows its state when it was displayed (a progress bar at 0%);
- images stay PNG (a PIL image's JPEG twin is dropped); a PNG over 100 kB becomes a 256-colour PNG when that saves a
  third or more (photo grids shrink about 4 times and look the same);
- output and cell metadata are reduced to what nbdev's clean keeps (plus cell `tags`);
- the notebook's metadata gets `transfer_course.outputs`: the SHA-256 of its code (see `code_sha256`), the run's wall
  and kernel CPU seconds, the mean load average during the run (above the core count, other jobs slowed the wall
  time), the mode, the date and the Python and torch versions. `--check` compares that hash.
- Lesson notebooks (not the exercise notebooks) get a runtime banner as their second cell: how long the full run took
  and the one line that switches to quick mode.
"""
from __future__ import annotations
import argparse, ast, copy, datetime, hashlib, importlib.metadata, os, platform, re, sys, tempfile, time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "python3"
BANNER_ID = "runtime-banner"  # the banner cell's id; tools/lesson_stats.py does not count it as prose
QUICK_LINE = "%env TRANSFER_COURSE_QUICK=1"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
OBJECT_ID = re.compile(r" at 0x[0-9a-fA-F]+")


def default_notebooks() -> list[Path]:
    "The lessons (nbs/01_* .. nbs/07_*) and the exercise notebooks (nbs/exercises/*)."
    return sorted((ROOT/"nbs").glob("0[1-7]_*.ipynb")) + sorted((ROOT/"nbs"/"exercises").glob("*.ipynb"))


def is_lesson(path: Path) -> bool:
    "Lessons get the runtime banner; exercise notebooks do not."
    return Path(path).parent.name != "exercises"


def _normalised_code(source: str) -> str:
    "A code cell as its syntax tree (comments, blank lines and layout ignored); the stripped text if it does not parse."
    from IPython.core.inputtransformer2 import TransformerManager
    try: return ast.dump(ast.parse(TransformerManager().transform_cell(source)))
    except SyntaxError: return "\n".join(line.rstrip() for line in source.strip().splitlines())


def code_sha256(nb: dict) -> str:
    "SHA-256 of the notebook's code cells, in order, each normalised by `_normalised_code` (empty cells skipped)."
    digest = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code": continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if source.strip(): digest.update(_normalised_code(source).encode() + b"\0")
    return digest.hexdigest()


def full_mode_env(base: dict | None = None) -> dict:
    "The kernel's environment: `base` (default os.environ) in full mode, offline, on the CPU, inline figures."
    env = dict(os.environ if base is None else base)
    env.update(TRANSFER_COURSE_QUICK="0", TRANSFER_COURSE_OFFLINE="1", TRANSFER_COURSE_DEVICE="cpu",
               CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0")
    env.pop("MPLBACKEND", None)  # ipykernel then picks the inline backend, so figures become outputs
    if not env.get("TRANSFER_COURSE_DATA") and (ROOT.parent/"shared"/"data").is_dir():  # as the Makefile does
        env["TRANSFER_COURSE_DATA"] = str(ROOT.parent/"shared"/"data")
    return env


def path_replacements(env: dict) -> list[tuple[re.Pattern, str]]:
    "Machine paths (longest first) and the placeholder each becomes in stored outputs."
    named = []
    try:
        from transfer_course.core import load_settings
        named.append((load_settings(environ=env).data_dir, "<data>"))
    except Exception: pass  # no settings: the data folder cannot appear in outputs either
    if env.get("TRANSFER_COURSE_DATA"): named.append((Path(env["TRANSFER_COURSE_DATA"]), "<data>"))
    named += [(ROOT, "<repo>"), (Path(tempfile.gettempdir()), "<tmp>"), (Path.home(), "~")]
    pairs = {}
    for path, placeholder in named:
        for spelling in {str(path), str(Path(path).resolve())}:
            if len(spelling) > 1: pairs.setdefault(spelling.rstrip("/"), placeholder)
    patterns = []
    for spelling, placeholder in sorted(pairs.items(), key=lambda pair: -len(pair[0])):
        tail = r"(/[^/\s'\"<>)\]]+)?" if placeholder == "<tmp>" else ""  # /tmp/tmpab12cd as a whole
        patterns.append((re.compile(r"(?<![\w.-])" + re.escape(spelling) + tail + r"(?![\w.-])"), placeholder))
    patterns.append((re.compile(r"(?<![\w.-])/tmp/[^/\s'\"<>)\]]+"), "<tmp>"))  # other processes' /tmp folders
    return patterns


def _clean_text(text, patterns):
    "`text` (a string or list of strings) with machine paths replaced and object ids dropped."
    if isinstance(text, list): return [_clean_text(line, patterns) for line in text]
    if not isinstance(text, str): return text
    for pattern, placeholder in patterns: text = pattern.sub(placeholder, text)
    return OBJECT_ID.sub("", text)


def shrink_png(encoded: str, threshold: int = 100_000) -> str:
    "A base64 PNG over `threshold` bytes re-encoded as a 256-colour PNG (dithered) when that saves a third or more."
    import base64, io
    from PIL import Image
    raw = base64.b64decode(encoded)
    if len(raw) <= threshold: return encoded.strip()
    image = Image.open(io.BytesIO(raw))
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255: return encoded.strip()  # transparency
    if image.mode not in ("RGB", "RGBA"): return encoded.strip()
    palette = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", optimize=True)
    if len(buffer.getvalue()) > 2 * len(raw) / 3: return encoded.strip()
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def clean_outputs(nb: dict, patterns: list) -> dict:
    "Clean a run notebook in place for storing (see the module docstring); returns `nb`."
    from nbdev.clean import clean_nb
    kernelspec = copy.deepcopy(nb.get("metadata", {}).get("kernelspec"))
    keep_meta = [key for key in nb.get("metadata", {}) if key != "widgets"]
    clean_nb(nb, clear_all=False, allowed_metadata_keys=keep_meta, allowed_cell_metadata_keys=["tags"],
             clean_ids=True, repair=False)
    if kernelspec: nb["metadata"]["kernelspec"] = kernelspec  # nbdev's clean renames the display name
    nb["metadata"].pop("widgets", None)
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code": continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        count += bool(source.strip())  # the run's order, not a session's: a function of the notebook alone
        cell["execution_count"] = count if source.strip() else None
        kept = []
        for output in cell.get("outputs", []):
            output.pop("transient", None)
            if "execution_count" in output: output["execution_count"] = cell["execution_count"]
            data = output.get("data")
            if data is not None and WIDGET_MIME in data: continue  # live widget: its text fallback is a stale repr
            for key in ("text", "traceback", "evalue"):
                if key in output: output[key] = _clean_text(output[key], patterns)
            if data is not None and "image/png" in data:
                data.pop("image/jpeg", None)  # PIL images offer both: keep the PNG
                data["image/png"] = shrink_png("".join(data["image/png"]))
            for mime in list(data or {}):
                if not mime.startswith("image/") or mime == "image/svg+xml":
                    data[mime] = _clean_text(data[mime], patterns)
            kept.append(output)
        cell["outputs"] = kept
    return nb


class NotebookRunError(RuntimeError):
    "A notebook cell failed during a full run; the message names the notebook, the cell and the error."


def _cpu_seconds(pid: int) -> float:
    "CPU seconds of process `pid`, its finished children and its live descendants."
    import psutil
    try:
        process = psutil.Process(pid)
        total = sum(process.cpu_times()[:4])
        for child in process.children(recursive=True):
            try: total += sum(child.cpu_times()[:2])
            except psutil.Error: pass
        return total
    except psutil.Error: return 0.0


def _cell_label(nb: dict, index: int) -> str:
    "'code cell N (cell index I): first line' for error messages."
    number = sum(cell["cell_type"] == "code" for cell in nb["cells"][:index + 1])
    first = next((line for line in nb["cells"][index]["source"].splitlines() if line.strip()), "")
    return f"code cell {number} (cell index {index}): {first[:80]!r}"


def run_notebook(path: Path, env: dict | None = None, timeout: float = 1800, quiet: bool = False) -> tuple[dict, dict]:
    "Run `path` in a fresh kernel; return the run notebook and its timings. Raises NotebookRunError on any error."
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env = full_mode_env() if env is None else env
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, record_timing=False, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    state = dict(pid=None, current=None, failed=None, started=0.0, cpu=0.0, cells=[], loads=[])

    def on_cell_execute(cell, cell_index):
        if state["pid"] is None: state["pid"] = client.km.provisioner.process.pid
        state.update(current=cell_index, started=time.monotonic(), cpu=_cpu_seconds(state["pid"]))

    def on_cell_executed(cell, cell_index, execute_reply):
        cpu = _cpu_seconds(state["pid"])
        state["cells"].append((cell_index, time.monotonic() - state["started"], cpu - state["cpu"]))
        state["total_cpu"] = cpu
        state["loads"].append(os.getloadavg()[0])
        if not quiet and sys.stdout.isatty(): print(f"  cell {cell_index:3d}: {state['cells'][-1][1]:7.1f} s", end="\r", flush=True)

    def on_cell_error(cell, cell_index, execute_reply): state["failed"] = cell_index

    client.on_cell_execute, client.on_cell_executed, client.on_cell_error = on_cell_execute, on_cell_executed, on_cell_error
    start = time.monotonic()
    try: client.execute(env=env)
    except CellExecutionError as error:
        index = state["failed"] if state["failed"] is not None else state["current"]
        summary = f"{error.ename}: {error.evalue}" if getattr(error, "ename", None) else str(error).strip()[-500:]
        raise NotebookRunError(f"{path}: {_cell_label(nb, index)} raised {summary}") from None
    except (CellTimeoutError, DeadKernelError) as error:
        raise NotebookRunError(f"{path}: {_cell_label(nb, state['current'])}: {type(error).__name__}: "
                               f"{str(error).strip()[:300]}") from None
    wall = time.monotonic() - start
    if not quiet and sys.stdout.isatty(): print(" " * 40, end="\r")
    load = round(sum(state["loads"]) / len(state["loads"]), 1) if state["loads"] else None
    return nb, dict(seconds=round(wall, 1), cpu_seconds=round(state.get("total_cpu", 0.0), 1), load=load,
                    cells=state["cells"])


def _duration(seconds: float) -> str:
    "'3 min 20 s' / '45 s' (to the nearest 10 s above a minute)."
    if seconds < 60: return f"{max(round(seconds), 1)} s"
    seconds = int(round(seconds / 10) * 10)
    return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")


def banner_text(seconds: float, cores: int, cpu_seconds: float | None = None, load: float | None = None) -> str:
    "The runtime banner a lesson opens with; a mean `load` above `cores` is stated (other jobs slowed the run)."
    cpu = f" ({_duration(cpu_seconds)} of CPU time)" if cpu_seconds else ""
    busy = (f" The machine was shared with other jobs during that run (mean load {load:.1f} on {cores} cores), so "
            f"an idle machine of the same kind is faster." if load is not None and load > cores else "")
    return (f"> **Runtime.** The outputs on this page come from a full run of the notebook: {_duration(seconds)} on "
            f"{cores} CPU cores, no GPU{cpu}.{busy} On a slower machine, use the quick mode (smaller images, fewer photos "
            f"and epochs: same code, noisier numbers than the text quotes): make `{QUICK_LINE}` the first cell and run "
            f"all, or start JupyterLab with `TRANSFER_COURSE_QUICK=1 jupyter lab`.")


def set_banner(nb: dict, text: str) -> None:
    "Put `text` in the banner cell (the second cell), replacing an earlier banner."
    nb["cells"] = [cell for cell in nb["cells"] if cell.get("id") != BANNER_ID]
    nb["cells"].insert(1, nbformat.v4.new_markdown_cell(text, id=BANNER_ID))


def stamp(nb: dict, timings: dict, now: datetime.date | None = None) -> None:
    "Record the run in the notebook's metadata (`transfer_course.outputs`)."
    try: torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError: torch_version = None
    nb["metadata"].setdefault("transfer_course", {})["outputs"] = dict(
        code_sha256=code_sha256(nb), seconds=timings["seconds"], cpu_seconds=timings["cpu_seconds"],
        load=timings.get("load"), cores=_cores(), mode="full",
        created=(now or datetime.datetime.now(datetime.timezone.utc).date()).isoformat(),
        python=platform.python_version(), torch=torch_version)


def write_notebook(path: Path, nb: dict) -> None:
    "Write `nb` the way the repository stores notebooks (nbformat's layout, a final newline), atomically."
    from transfer_course.core import atomic_write
    atomic_write(path, (nbformat.writes(nbformat.from_dict(nb)) + "\n").encode("utf-8"))


def _cores() -> int:
    try: return len(os.sched_getaffinity(0))
    except AttributeError: return os.cpu_count() or 1


def make_outputs(path: Path, env: dict | None = None, timeout: float = 1800, quiet: bool = False) -> dict:
    "Run one notebook in full mode, clean and stamp its outputs, add the banner to a lesson, write it back."
    env = full_mode_env() if env is None else env
    nb, timings = run_notebook(path, env, timeout, quiet)
    clean_outputs(nb, path_replacements(env))
    if is_lesson(path): set_banner(nb, banner_text(timings["seconds"], _cores(), timings["cpu_seconds"], timings.get("load")))
    stamp(nb, timings)
    write_notebook(path, nb)
    images = sum(mime.startswith("image/") for cell in nb["cells"] for output in cell.get("outputs", [])
                 for mime in output.get("data", {}))
    return dict(timings, images=images, bytes=Path(path).stat().st_size)


def stale(path: Path) -> str | None:
    "Why `path`'s stored outputs are not current, or None when they are."
    nb = nbformat.read(path, as_version=4)
    record = nb.metadata.get("transfer_course", {}).get("outputs")
    if not record: return f"{path}: no stored outputs from a full run"
    if record.get("mode") != "full": return f"{path}: stored outputs come from a {record.get('mode')!r} run, not a full one"
    if record.get("code_sha256") != code_sha256(nb):
        return f"{path}: its code changed after its outputs were made ({record.get('created')})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: nbs/01_*..07_* and nbs/exercises/*")
    parser.add_argument("--check", action="store_true", help="only check that stored outputs match the code")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per cell before the run fails")
    args = parser.parse_args(argv)
    paths = args.notebooks or [Path(os.path.relpath(path)) for path in default_notebooks()]
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing: print(f"no such notebook: {', '.join(missing)}", file=sys.stderr); return 2
    if args.check:
        problems = [problem for path in paths if (problem := stale(path))]
        for problem in problems: print(problem, file=sys.stderr)
        if problems:
            print(f"{len(problems)} notebook(s) without current outputs: run `make outputs` (or "
                  f"`.venv/bin/python tools/outputs.py NOTEBOOK...`) and commit the notebooks.", file=sys.stderr)
            return 1
        print(f"{len(paths)} notebook(s): stored outputs match the code.")
        return 0
    print(f"{'notebook':<34}{'wall s':>8}{'CPU s':>8}{'load':>6}{'images':>8}{'bytes':>10}   most CPU (cell index: wall/CPU s)")
    failed = []
    for path in paths:
        try: result = make_outputs(path, timeout=args.timeout)
        except NotebookRunError as error:
            print(f"FAILED {error}", file=sys.stderr); failed.append(str(path)); continue
        slowest = sorted(result["cells"], key=lambda cell: -cell[2])[:4]
        print(f"{str(path):<34}{result['seconds']:>8.1f}{result['cpu_seconds']:>8.1f}{result['load'] or 0:>6.1f}{result['images']:>8}"
              f"{result['bytes']:>10}   " + ", ".join(f"{index}: {wall:.0f}/{cpu:.0f}" for index, wall, cpu in slowest), flush=True)
    if failed: print(f"{len(failed)} notebook(s) failed, their outputs were not stored: {', '.join(failed)}",
                     file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__": sys.exit(main())
