"""Prove the lessons' compute paths on this machine's device, in one command (`make gpu-check`).

Runs, on the device `core.choose_device` picks (or --device), each path a lesson exercises:
  predict      pretrained EfficientNet-Lite0 on the bundled photos + hymenoptera/val (ImageNet has ants and bees)
  decode       the clothing photos decoded once (CPU work, shown so it is not mistaken for model time)
  head-cached  the frozen body's features computed once, a linear head trained on them (lesson 4)
  fine-tune    one epoch with the whole network unfrozen, augmented photos (lesson 5)
  grad-cam     Grad-CAM heatmaps of validation photos (lesson 6)
  bn-lab       a short version of lesson 7's BatchNorm policy measurement
and prints per step: device, seconds, throughput (images/s) and accuracy. It exits 1 if a step failed.

Sizes: full (all photos, 224 px) on CUDA; quick (TRANSFER_COURSE_QUICK-sized: few photos, 96 px) elsewhere or with
--quick / TRANSFER_COURSE_QUICK=1, so that a CPU finishes in a few minutes. Goal on a GPU: under five minutes.

    python tools/gpu_check.py [--device cuda] [--quick | --full] [--json results.json]
"""
from __future__ import annotations

import argparse, copy, json, os, sys, time, traceback
from dataclasses import asdict, dataclass, field


@dataclass
class Step:
    name: str
    device: str
    seconds: float = float("nan")
    images: int = 0
    accuracy: float | None = None
    note: str = ""
    error: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def throughput(self) -> float: return self.images/self.seconds if self.images and self.seconds > 0 else float("nan")

    def line(self) -> str:
        accuracy = f"{self.accuracy:8.3f}" if self.accuracy is not None else f"{'-':>8}"
        if self.error: return f"{self.name:<12} {self.device:<8} {'FAILED':>8}  {self.error}"
        return (f"{self.name:<12} {self.device:<8} {self.seconds:8.1f} {self.throughput:9.1f} {accuracy}  "
                f"{self.note}")


class Clock:
    "Wall time of a block, with the device's queue drained at both ends (CUDA runs asynchronously)."
    def __init__(self, device): self.device = device
    def sync(self):
        import torch
        if self.device.type == "cuda": torch.cuda.synchronize(self.device)
    def __enter__(self): self.sync(); self.started = time.perf_counter(); return self
    def __exit__(self, *exc): self.sync(); self.seconds = time.perf_counter() - self.started


def sizes(full: bool) -> dict:
    "How much work each step does: everything on a GPU, a TRANSFER_COURSE_QUICK-sized sample elsewhere."
    if full: return dict(image_size=224, per_class=None, valid_per_class=None, hymenoptera=None, head_epochs=20,
                         gradcam_images=64, lab_per_class=40, lab_size=160, lab_epochs=3,
                         policies=("frozen", "train", "naive", "keras-1"), batch_size=64)
    return dict(image_size=96, per_class=16, valid_per_class=10, hymenoptera=30, head_epochs=10, gradcam_images=8,
                lab_per_class=12, lab_size=96, lab_epochs=1, policies=("frozen", "naive"), batch_size=32)


def step_predict(device, size, state) -> Step:
    from transfer_course.core import find_dataset
    from transfer_course.records import load_pretrained
    from transfer_course.data import sample_images
    from transfer_course.pretrained import predict
    model = load_pretrained("efficientnet_lite0", device=device)
    photos = sample_images()
    bundled = list(photos.values())
    val = find_dataset("hymenoptera")/"val"
    labelled = sorted(val.rglob("*.jpg"))
    if size["hymenoptera"]: labelled = labelled[::max(1, len(labelled)//size["hymenoptera"])][:size["hymenoptera"]]
    truth = ["ant" if path.parent.name == "ants" else "bee" for path in labelled]
    predict(bundled[:2], model, k=5)  # warm-up: first-call kernel selection is not throughput
    with Clock(device) as clock: results = predict(bundled + labelled, model, k=5, batch_size=size["batch_size"])
    tops = [result["top"] if isinstance(result, dict) else result for result in results]
    cat = tops[list(photos).index("chelsea")][0]["label"] if "chelsea" in photos else "?"
    correct = sum(top[0]["label"] == label for top, label in zip(tops[len(bundled):], truth))
    return Step("predict", str(device), clock.seconds, len(results), correct/len(truth),
                f"{len(bundled)} bundled + {len(labelled)} ants/bees photos (top-1 on those); chelsea (a cat) → {cat}")


def step_decode(device, size, state) -> Step:
    from transfer_course.core import find_dataset, load_settings
    from transfer_course.data import split_image_folders
    from transfer_course.augment import image_data
    from transfer_course.records import get_record
    from transfer_course.records import record_for_size
    seed = load_settings().seed
    split = split_image_folders(find_dataset("clothing_small_5cls"), max_per_class=size["per_class"],
                                max_valid_per_class=size["valid_per_class"], seed=seed)
    record = record_for_size(get_record("efficientnet_lite0"), size["image_size"])
    with Clock(device) as clock: data = image_data(split, record, batch_size=size["batch_size"], seed=seed)
    state.update(split=split, data=data, seed=seed)
    count = len(split.train) + len(split.valid)
    return Step("decode", "cpu", clock.seconds, count, None,
                f"{len(split.train)} train + {len(split.valid)} valid clothing photos, {size['image_size']} px")


def step_head_cached(device, size, state) -> Step:
    from transfer_course.train import create_transfer_model
    from transfer_course.train import fit_head_cached, freeze
    from transfer_course.core import seed_everything
    data, split = state["data"], state["split"]
    seed_everything(state["seed"])
    model = create_transfer_model("efficientnet_lite0", split.classes, head="linear", size=size["image_size"],
                                  device=device)
    freeze(model, train_bn=False)
    with Clock(device) as clock:
        history = fit_head_cached(model, data.train_loader(augment=False), data.valid_loader(), size["head_epochs"],
                                  lr=2e-3, progress=False)
    state["model"] = model
    images = len(split.train) + len(split.valid)
    return Step("head-cached", str(device), clock.seconds, images, history.best["accuracy"],
                f"features {history.feature_seconds:.1f}s ({images/history.feature_seconds:.0f} img/s), "
                f"{len(history.epochs)} head epochs {history.seconds:.2f}s")


def step_fine_tune(device, size, state) -> Step:
    from transfer_course.train import fit, unfreeze
    model = copy.deepcopy(state["model"])
    unfreeze(model)
    data = state["data"]
    with Clock(device) as clock:
        history = fit(model, data.train_loader(augment=True), data.valid_loader(), 1, lr=slice(2e-5, 1e-3),
                      progress=False)
    images = len(state["split"].train) + len(state["split"].valid)
    row = history.epochs[-1]
    return Step("fine-tune", str(device), clock.seconds, images, row["accuracy"],
                f"1 epoch, whole network; train loss {row['train_loss']:.3f}, valid loss {row['valid_loss']:.3f}")


def step_gradcam(device, size, state) -> Step:
    import torch
    from transfer_course.interpret import gradcam
    model, data = state["model"], state["data"]
    count = min(size["gradcam_images"], len(data.valid))
    images = torch.stack([data.valid[index][0] for index in range(count)])
    labels = torch.tensor([int(data.valid[index][1]) for index in range(count)])
    gradcam(model, images[:2])  # warm-up
    with Clock(device) as clock: maps = gradcam(model, images)
    with torch.no_grad():
        predicted = model.eval()(images.to(device)).argmax(1).cpu()
    ok = tuple(maps.shape) == (count, *images.shape[-2:]) and bool(maps.min() >= 0) and bool(maps.max() <= 1)
    if not ok: raise AssertionError(f"heatmaps of shape {tuple(maps.shape)}, range {maps.min():.2f}..{maps.max():.2f}")
    return Step("grad-cam", str(device), clock.seconds, count, (predicted == labels).float().mean().item(),
                f"{count} heatmaps {tuple(maps.shape[1:])} in [0, 1]; accuracy = the model's on those photos")


def step_bn_lab(device, size, state) -> Step:
    import torch
    from transfer_course.core import find_dataset
    from transfer_course.data import split_image_folders
    from transfer_course.augment import image_data
    from transfer_course.train import create_transfer_model
    from transfer_course.pitfalls import train_head_with_bn_policy
    from transfer_course.pitfalls import accuracy_in_bn_mode
    split = split_image_folders(find_dataset("clothing_small_5cls"), max_per_class=size["lab_per_class"], seed=42)
    template = create_transfer_model("efficientnet_lite0", split.classes, head="linear", size=size["lab_size"],
                                     device=device)
    data = image_data(split, template.record, batch_size=16, seed=42)
    accuracies, seconds = {}, 0.0
    for policy in size["policies"]:
        model = copy.deepcopy(template)
        with Clock(device) as clock:
            train_head_with_bn_policy(model, data.train_loader(augment=False), policy, epochs=size["lab_epochs"])
        seconds += clock.seconds
        mixed = torch.utils.data.DataLoader(data.valid, batch_size=16, shuffle=True,
                                            generator=torch.Generator().manual_seed(0))
        accuracies[policy] = (accuracy_in_bn_mode(model, data.valid_loader(), batch_statistics=False),
                              accuracy_in_bn_mode(model, mixed, batch_statistics=True))
    images = len(split.train)*size["lab_epochs"]*len(size["policies"])
    summary = ", ".join(f"{policy} {eval_mode:.2f}/{batch_stats:.2f}" for policy, (eval_mode, batch_stats)
                        in accuracies.items())
    return Step("bn-lab", str(device), seconds, images, accuracies[size["policies"][0]][0],
                f"valid accuracy eval-mode/batch-stats: {summary}", extra={"accuracies": accuracies})


STEPS = [step_predict, step_decode, step_head_cached, step_fine_tune, step_gradcam, step_bn_lab]
NEEDS = {"head-cached": "decode", "fine-tune": "head-cached", "grad-cam": "head-cached"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the course's device setting, auto)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="few photos, small images (default off CUDA)")
    group.add_argument("--full", action="store_true", help="all photos, 224 px (default on CUDA)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TRANSFER_COURSE_OFFLINE", "1")  # a check never downloads
    import torch
    from transfer_course.core import choose_device, load_settings
    device = choose_device(args.device)
    full = args.full or (not args.quick and device.type == "cuda" and not load_settings().quick)
    size = sizes(full)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"gpu-check on {device} ({name}), torch {torch.__version__}, {'full' if full else 'quick'} size", flush=True)
    try:
        from transfer_course.engine import placement
        where = placement(device)
        print(f"placement: image batches {str(where.memory_format).replace('torch.', '')}, "
              f"autocast {str(where.autocast_dtype).replace('torch.', '') if where.autocast_dtype else 'off'}")
    except ImportError as error: print(f"placement: unavailable ({error})")
    print(f"{'step':<12} {'device':<8} {'seconds':>8} {'img/s':>9} {'accuracy':>8}  note", flush=True)
    started, state, results, failed = time.perf_counter(), {}, [], set()
    for function in STEPS:
        step_name = function.__name__.removeprefix("step_").replace("_", "-")
        if NEEDS.get(step_name) in failed:
            step = Step(step_name, str(device), error=f"skipped: needs {NEEDS[step_name]}")
        else:
            try: step = function(device, size, state)
            except Exception as error:
                step = Step(step_name, str(device), error=f"{type(error).__name__}: {error}".splitlines()[0][:300])
                traceback.print_exc(file=sys.stderr)
        if step.error: failed.add(step_name)
        results.append(step); print(step.line(), flush=True)
    total = time.perf_counter() - started
    print(f"total {total:.0f} s" + ("" if total < 300 else "  (over the five-minute goal)")
          + (f"; FAILED: {', '.join(sorted(failed))}" if failed else "; all steps passed"))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"device": str(device), "device_name": name, "full": full, "total_seconds": total,
                       "steps": [{**asdict(step), "throughput": step.throughput} for step in results]}, out, indent=1,
                      default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
