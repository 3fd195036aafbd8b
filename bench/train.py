"""Benchmark: training a head and fine-tuning, ours vs fastai, on real photos; prints times, accuracies and ratios in one run.

    .venv/bin/python bench/train.py [--datasets clothing_small_5cls hymenoptera] [--size 224] [--fastai-workers 0] [--parts C] [--splits 12]

Per dataset (same files, same EfficientNet-Lite0 offline weights, same image size, CPU):
  A. head training on a frozen body
     - ours, cached: decode once + body features once + head epochs on the features, until the validation
       accuracy reaches fastai's (time to that epoch), and after 3 and 20 epochs;
     - ours, uncached: `fit` 3 epochs through the frozen body (BN frozen, no augmentation);
     - fastai: `vision_learner(...)` frozen (train_bn=True, its default), `fit_one_cycle(3, 2e-3)`.
     Goal: ours (features included) >= 5x faster than fastai at equal or better accuracy.
  B. full fine-tune, 1 frozen + 1 unfrozen epoch: ours `fine_tune(epochs=1, freeze_epochs=1)` vs fastai `fine_tune(1)`.
     Goal: no slower at equal or better accuracy.
  C. the CLI's recipes vs linear probes (scikit-learn LogisticRegression C=1 on the frozen body's average-pooled
     features at the record's size, standardised and raw):
     - default `ensemble`: logistic regressions on Lite0@224 and Lite2@260 features, photos and mirror images, averaged;
     - `fine-tune`: 20 cached head epochs with early stopping + 2 unfrozen epochs, flip test-time augmentation.
     Goal: the default beats both probes.
     With --splits N, also N extra stratified re-splits of the same photos (train/valid sizes kept), each one
     compared (ensemble vs probes) on cached features, reported as wins/ties/losses: one photo is ~0.7 points.
Times include data preparation for both libraries (ours decodes once; fastai decodes every epoch).
The machine may be shared: compare ratios within one run, and repeat runs before trusting small differences.
"""
import argparse, time, warnings

import numpy as np
import torch

from transfer_course.core import find_dataset, seed_everything
from transfer_course.augment import image_data
from transfer_course.data import ImageSplit, split_image_folders
from transfer_course.finetune import fastai_dataloaders, fastai_learner, fine_tune
from transfer_course.recipes import train_from_folders
from transfer_course.records import get_record
from transfer_course.train import compute_features, create_transfer_model, fit, fit_head_cached, freeze


def timer():
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


def ours_data(split, size, seed):
    clock = timer()
    model = create_transfer_model("efficientnet_lite0", split.classes, size=size, device="cpu")
    data = image_data(split, model.record, batch_size=32, seed=seed)
    return model, data, clock()


def fastai_run(split, record, seed, workers, recipe):
    seed_everything(seed)
    clock = timer()
    learn = fastai_learner(fastai_dataloaders(split, record, batch_size=32, num_workers=workers), record)
    with learn.no_bar(), learn.no_logging(): recipe(learn)
    seconds = clock()
    loss, accuracy = learn.validate()
    return seconds, float(accuracy)


def probe_accuracy(x_train, y_train, x_valid, y_valid, scaled=True):
    "Validation accuracy of LogisticRegression (C=1) on features, standardised (fitted on the training rows) or raw."
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    scale = StandardScaler().fit(x_train).transform if scaled else (lambda x: x)
    probe = LogisticRegression(max_iter=3000, C=1.0).fit(scale(x_train), y_train)
    return float((probe.predict(scale(x_valid)) == y_valid).mean())


def linear_probe(model, data, scaled=True):
    "LogisticRegression on average-pooled frozen features (the standard linear-probe baseline), standardised or raw."
    freeze(model)
    train = compute_features(model, data.train_loader(augment=False, shuffle=False))
    valid = compute_features(model, data.valid_loader())
    half = model.record.n_features  # concat pooling = [max, average]: keep the average half
    x_train, y_train = train.tensors[0][:, half:].numpy(), train.tensors[1].numpy()
    x_valid, y_valid = valid.tensors[0][:, half:].numpy(), valid.tensors[1].numpy()
    return probe_accuracy(x_train, y_train, x_valid, y_valid, scaled)


def bench_dataset(name, size, seed, workers, parts="ABC", splits=0):
    folder = find_dataset(name)
    split = split_image_folders(folder, seed=seed)
    print(f"\n=== {name}: {len(split.train)} train / {len(split.valid)} valid photos, {len(split.classes)} classes, {size}px, "
          f"{torch.get_num_threads()} torch threads ===")
    record = get_record("efficientnet_lite0")
    rows = {}
    if parts == "C":  # the recipes only: skip the fastai comparisons
        seed_everything(seed)
        model, data, _ = ours_data(split, size, seed)
        return bench_recipes(folder, split, model, data, size, seed, splits)

    # A. head training
    fastai_seconds, fastai_accuracy = fastai_run(split, create_transfer_model(record, split.classes, size=size, device="cpu").record,
                                                 seed, workers, lambda learn: learn.fit_one_cycle(3, 2e-3))
    rows["fastai frozen fit_one_cycle(3)"] = (fastai_seconds, fastai_accuracy)

    seed_everything(seed)
    model, data, decode_seconds = ours_data(split, size, seed)
    freeze(model)
    clock = timer()
    train_features = compute_features(model, data.train_loader(augment=False, shuffle=False))
    valid_features = compute_features(model, data.valid_loader())
    feature_seconds = clock()
    for epochs in (3, 20):
        seed_everything(seed)
        model_c = create_transfer_model(record, split.classes, size=size, device="cpu"); freeze(model_c)
        history = fit_head_cached(model_c, data.train_loader(augment=False), data.valid_loader(), epochs, lr=2e-3,
                                  features=(train_features, valid_features), progress=False)
        total = decode_seconds + feature_seconds + history.seconds
        rows[f"ours cached, {epochs} head epochs"] = (total, history.epochs[-1]["accuracy"])
        if epochs == 20:
            elapsed, reached = decode_seconds + feature_seconds, None
            for row in history.epochs:
                elapsed += row["seconds"]
                if row["accuracy"] >= fastai_accuracy: reached = (elapsed, row["accuracy"], row["epoch"] + 1); break
    seed_everything(seed)
    model_u = create_transfer_model(record, split.classes, size=size, device="cpu"); freeze(model_u)
    history = fit(model_u, data.train_loader(augment=False), data.valid_loader(), 3, lr=2e-3, progress=False)
    rows["ours uncached, 3 epochs (BN frozen)"] = (decode_seconds + history.seconds, history.epochs[-1]["accuracy"])
    print(f"decode once: {decode_seconds:.1f} s, body features once: {feature_seconds:.1f} s")
    print(f"{'A. head training':42} {'seconds':>8} {'accuracy':>9} {'fastai/ours':>12}")
    for label, (seconds, accuracy) in rows.items():
        print(f"{label:42} {seconds:8.1f} {accuracy:9.3f} {fastai_seconds/seconds:11.1f}x")
    if reached:
        print(f"ours cached reaches fastai's accuracy {fastai_accuracy:.3f} after {reached[2]} epoch(s), {reached[0]:.1f} s "
              f"(accuracy {reached[1]:.3f}): {fastai_seconds/reached[0]:.1f}x faster")
    else: print(f"ours cached did NOT reach fastai's accuracy {fastai_accuracy:.3f} in 20 epochs")

    # B. full fine-tune, 1 + 1 epochs
    fastai_ft_seconds, fastai_ft_accuracy = fastai_run(split, model.record, seed, workers, lambda learn: learn.fine_tune(1, base_lr=2e-3, freeze_epochs=1))
    seed_everything(seed)
    clock = timer()
    model_f, data_f, _ = ours_data(split, size, seed)
    result = fine_tune(model_f, data_f, epochs=1, freeze_epochs=1, keep_best=False, progress=False)
    ours_ft_seconds, ours_ft_accuracy = clock(), result.final["accuracy"]
    print(f"\n{'B. fine-tune 1 frozen + 1 unfrozen epoch':42} {'seconds':>8} {'accuracy':>9}")
    print(f"{'fastai fine_tune(1)':42} {fastai_ft_seconds:8.1f} {fastai_ft_accuracy:9.3f}")
    print(f"{'ours fine_tune(1) (cached frozen phase)':42} {ours_ft_seconds:8.1f} {ours_ft_accuracy:9.3f}   "
          f"fastai/ours time {fastai_ft_seconds/ours_ft_seconds:.2f}x, phases {({k: round(v, 1) for k, v in result.seconds.items()})}")

    # C. CLI recipes vs linear probes
    if "C" in parts: bench_recipes(folder, split, model, data, size, seed, splits)


def bench_recipes(folder, split, model, data, size, seed, extra_splits=0):
    "Part C: the train command's two recipes against two linear probes, on the official split (and re-splits)."
    probes = {"linear probe, scaled features": linear_probe(model, data, scaled=True),
              "linear probe, raw features": linear_probe(model, data, scaled=False)}
    print(f"\n{'C. train recipes vs linear probes':42} {'seconds':>8} {'accuracy':>9} {'valid loss':>11}")
    for label, accuracy in probes.items(): print(f"{label:42} {'':8} {accuracy:9.3f}")
    for recipe in ("ensemble", "fine-tune"):
        clock = timer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, summary = train_from_folders(folder, recipe=recipe, size=size, seed=seed, device="cpu", progress=False)
        seconds = clock()
        beats = " ".join(f"{'BEATS' if summary['valid_accuracy'] > a else 'does not beat'} {label.split(', ')[1]}" for label, a in probes.items())
        print(f"{'train --recipe ' + recipe + (' (default)' if recipe == 'ensemble' else ''):42} {seconds:8.1f} {summary['valid_accuracy']:9.3f} "
              f"{summary['valid_loss']:11.4f}   {beats}; phases {summary['phases_seconds']}" + (f", members {summary['member_accuracy']}" if recipe == "ensemble" else ""))
    if extra_splits: resplit_comparison(split, size, seed, extra_splits)


def resplit_comparison(split, size, seed, n_splits):
    "Probe ensemble vs probes on `n_splits` stratified re-splits of the same photos (features computed once per photo)."
    from sklearn.model_selection import StratifiedShuffleSplit
    from transfer_course.recipes import (create_probe_ensemble, default_members, fit_linear_classifier,
                                         member_features)
    everything = ImageSplit(split.classes, split.train + split.valid, split.valid[:1])
    ensemble = create_probe_ensemble(default_members("efficientnet_lite0", size), split.classes, device="cpu")
    views, labels = member_features(ensemble, image_data(everything, ensemble.record, batch_size=32, seed=seed).train_loader(augment=False, shuffle=False))
    probe_model = create_transfer_model("efficientnet_lite0", split.classes, size=size, device="cpu")
    probe_data = image_data(everything, probe_model.record, batch_size=32, seed=seed)
    probe_x = compute_features(probe_model, probe_data.train_loader(augment=False, shuffle=False)).tensors[0][:, probe_model.record.n_features:].numpy()
    labels, results = labels.numpy(), {"ensemble": [], "probe scaled": [], "probe raw": []}
    splitter = StratifiedShuffleSplit(n_splits=n_splits, test_size=len(split.valid)/len(everything.train), random_state=seed)
    for train_idx, valid_idx in splitter.split(labels, labels):
        probabilities = 0
        for key, (plain, mirrored) in views.items():
            head = fit_linear_classifier(torch.cat([plain[train_idx], mirrored[train_idx]]), torch.from_numpy(labels[train_idx]).repeat(2), len(split.classes))
            probabilities = probabilities + head(plain[valid_idx]).softmax(1) + head(mirrored[valid_idx]).softmax(1)
        results["ensemble"].append(float((probabilities.argmax(1).numpy() == labels[valid_idx]).mean()))
        for scaled, key in ((True, "probe scaled"), (False, "probe raw")):
            results[key].append(probe_accuracy(probe_x[train_idx], labels[train_idx], probe_x[valid_idx], labels[valid_idx], scaled))
    ours = np.array(results["ensemble"])
    print(f"{n_splits} re-splits of the same {len(labels)} photos: ensemble mean {ours.mean():.4f}", end="")
    for key in ("probe scaled", "probe raw"):
        other = np.array(results[key])
        print(f" | {key} {other.mean():.4f}, ensemble wins/ties/losses {(ours > other).sum()}/{(ours == other).sum()}/{(ours < other).sum()}", end="")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["clothing_small_5cls", "hymenoptera"])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fastai-workers", type=int, default=0, help="fastai DataLoader workers (0: decode in the main process, like ours)")
    parser.add_argument("--parts", default="ABC", choices=["ABC", "C"], help="all parts, or only C (the train recipes vs the probes)")
    parser.add_argument("--splits", type=int, default=0, help="part C: also compare on this many re-splits of the same photos")
    args = parser.parse_args()
    for name in args.datasets: bench_dataset(name, args.size, args.seed, args.fastai_workers, args.parts, args.splits)


if __name__ == "__main__":
    main()
