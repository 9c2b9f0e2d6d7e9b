"""Single MLP vs ensembles vs a tuned MLP vs the baselines, on one split or in cross-validation.

Usage:
    python bench/bench_ensemble.py [--data data/preprocessed_data.csv] [--tuned best.json] \
        [--members 5] [--cv 5]

Every MLP variant is trained on the train rows and stopped on the val rows of the table's split
(with --cv K, of each of K artist-grouped, genre-stratified folds over all rows, the fold being
the test rows), then scored on the test rows beside its soft vote with HistGradientBoosting and
the baselines of evaluate.py. Variants: train.py's defaults, an ensemble of --members networks
(plain and bootstrap), an ensemble of wide networks (1024-512-256, dropout 0.5), and with
--tuned (tune.py's best.json) the tuned MLP alone and as an ensemble. Without --data it uses
the real benchmark (bench/real_benchmark.py) from ../shared/data and its seed-0 artist-disjoint
split; --cv K uses bench/real_benchmark.py's folds.
"""
import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

# bench/ holds scripts; the project's modules live one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evaluate  # noqa: E402
import preprocess  # noqa: E402
import real_benchmark  # noqa: E402
import train  # noqa: E402
from model import predict_proba  # noqa: E402

METRICS = ("accuracy", "macro_f1", "balanced_accuracy")
# The README's "wide ensemble": train.py --hidden 1024 512 256 --dropout 0.5 --ensemble 5.
WIDE = {"hidden": (1024, 512, 256), "dropout": 0.5}


def variants(members, tuned=None, seed=0):
    """{title: TrainConfig} of the MLPs compared."""
    default = train.TrainConfig(seed=seed)
    found = {"MLP (train.py defaults)": default,
             f"ensemble of {members}": dataclasses.replace(default, ensemble=members),
             f"ensemble of {members}, bootstrap": dataclasses.replace(
                 default, ensemble=members, bootstrap=True),
             f"wide ensemble of {members}": dataclasses.replace(
                 default, ensemble=members, **WIDE)}
    if tuned:
        config = train.config_from_args(train.parse_args(["--config", str(tuned)]))
        config = dataclasses.replace(config, seed=seed)
        found["tuned MLP"] = config
        found[f"tuned ensemble of {members}"] = dataclasses.replace(config, ensemble=members)
    return found


def compare(table, configs, seed=0):
    """{title: scores dict plus training seconds} on the test rows of ``table``."""
    names = preprocess.feature_names_of(table)
    classes = preprocess.train_genres(table)
    train_x, train_y = preprocess.split_arrays(table, "train", names, classes)
    test_x, test_y = preprocess.split_arrays(table, "test", names, classes)
    baselines = evaluate.fit_baselines(train_x, train_y, seed)
    boosted = baselines["hist_gradient_boosting"].predict_proba(test_x)
    results = {}
    for title, config in configs.items():
        started = time.perf_counter()
        checkpoint, _ = train.train_checkpoint(table, config)
        seconds = time.perf_counter() - started
        probabilities = predict_proba(checkpoint, test_x)
        results[title] = {**evaluate.scores(test_y, probabilities.argmax(axis=1)),
                          "seconds": seconds}
        results[f"{title} + HGB soft vote"] = evaluate.scores(
            test_y, evaluate.soft_vote(probabilities, boosted))
    for name, estimator in baselines.items():
        results[evaluate.BASELINE_TITLES[name]] = evaluate.scores(test_y,
                                                                  estimator.predict(test_x))
    return results


def cross_validate(table, configs, folds, seed=0):
    """Per fold, ``compare`` with that fold (whole artists) as the test rows."""
    return [compare(table.assign(**{preprocess.SPLIT: split}), configs, seed)
            for split in real_benchmark.cv_splits(table, folds, seed)]


def format_results(per_fold):
    """Markdown table: mean (± std over folds when several) of each metric per method."""
    lines = ["| method | accuracy | macro-F1 | balanced acc | train s |", "|---|---|---|---|---|"]
    for title in per_fold[0]:
        cells = []
        for metric in (*METRICS, "seconds"):
            values = [fold[title][metric] for fold in per_fold if metric in fold[title]]
            if not values:
                cells.append("")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3f}" if metric != "seconds" else f"{values[0]:.1f}")
            else:
                digits = 1 if metric == "seconds" else 3
                cells.append(f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path,
                        help="preprocessed table (default: the real benchmark, seed-0 split)")
    parser.add_argument("--shared-data", type=Path, default=real_benchmark.SHARED_DATA,
                        help="folder of the real MSD material (without --data)")
    parser.add_argument("--tuned", type=Path, help="best.json of tune.py")
    parser.add_argument("--members", type=int, default=5, help="networks per ensemble")
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="K-fold artist-grouped cross-validation over all rows instead")
    parser.add_argument("--seed", type=int, default=0, help="seed of the MLPs and folds")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    try:
        if args.data:
            table = preprocess.read_table(args.data)
        else:
            table = preprocess.preprocess(real_benchmark.build_songcsv(args.shared_data))
        configs = variants(args.members, args.tuned, args.seed)
        with threadpool_limits(limits=1):
            if args.cv:
                per_fold = cross_validate(table, configs, args.cv, args.seed)
            else:
                per_fold = [compare(table, configs, args.seed)]
    except (OSError, preprocess.PreprocessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = table[preprocess.SPLIT].value_counts()
    where = (f"{args.cv}-fold artist-grouped cross-validation, mean ± std" if args.cv else
             f"test split: {counts.get('test', 0)} songs (train {counts.get('train', 0)}, "
             f"val {counts.get('val', 0)})")
    print(f"{len(table)} songs, {table[preprocess.LABEL].nunique()} genres; {where}")
    print(format_results(per_fold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
