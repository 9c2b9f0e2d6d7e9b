"""Search the MLP's hyper-parameters by artist-grouped cross-validation on the train+val rows.

Usage:
    python tune.py --data data/preprocessed_data.csv --trials 40 [--method random|grid|bayes] \
        --out runs/tune-NAME
    python train.py --config runs/tune-NAME/best.json --data data/preprocessed_data.csv

Each trial is a training configuration (learning rate, momentum, batch size, hidden widths,
dropout, weight decay, class-weight power, input noise), scored by its mean macro-F1 over
--folds folds of the train and val rows, grouped by artist and stratified by genre; the test
rows are never read. In each fold a slice of the remaining artists is held out for early
stopping. Folds run in a pool of --workers processes, one torch thread each.

Finished trials are appended to OUT/trials.csv as they end, so a killed search resumed with the
same command continues where it stopped. Random and grid trials depend only on --seed and their
number, so a resumed search proposes the same remaining trials. --method bayes (Optuna's TPE
sampler, an optional extra: pip install optuna) proposes from the finished ones instead. The end
prints the best trials and writes OUT/best.json, a --config file for train.py.
"""
import argparse
import csv
import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import train
from evaluate import scores
from model import predict_proba
from preprocess import (LABEL, SPLIT, OutputError, PreprocessError, artist_groups,
                        atomic_output, holdout_mask, read_table, split_arrays, stratified_folds)


class TuneError(Exception):
    """A search that cannot run: a missing extra, or a run folder of another search."""


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A searched setting: sampled from [low, high] (log scale when ``log``) or from ``grid``.

    A parameter without ``low``/``high`` is sampled from its grid values.
    """
    grid: tuple
    low: float = None
    high: float = None
    log: bool = False


SPACE = {
    "lr": Parameter((0.001, 0.003, 0.01, 0.03), 0.001, 0.05, log=True),
    "momentum": Parameter((0.8, 0.9, 0.95), 0.5, 0.97),
    "batch_size": Parameter((32, 64, 128)),
    "hidden": Parameter(((64, 32), (128, 64, 32), (256, 128), (256, 128, 64))),
    "dropout": Parameter((0.0, 0.2, 0.4), 0.0, 0.5),
    "weight_decay": Parameter((1e-5, 1e-4, 1e-3, 1e-2), 1e-6, 3e-2, log=True),
    "class_weight_power": Parameter((0.0, 0.5, 1.0), 0.0, 1.0),
    "input_noise": Parameter((0.0, 0.1, 0.2, 0.3), 0.0, 0.4),
}
RESULT_COLUMNS = ("macro_f1", "macro_f1_std", "accuracy", "epochs", "seconds")
TRIAL_COLUMNS = ("trial", *SPACE, *RESULT_COLUMNS)
SETTINGS_FILE = "search.json"


def random_trial(number, seed):
    """The settings of random trial ``number``: a function of (seed, number) only."""
    rng = np.random.default_rng([seed, number])
    settings = {}
    for name, parameter in SPACE.items():
        if parameter.low is None:
            settings[name] = parameter.grid[rng.integers(len(parameter.grid))]
        elif parameter.log:
            settings[name] = float(math.exp(rng.uniform(math.log(parameter.low),
                                                        math.log(parameter.high))))
        else:
            settings[name] = float(rng.uniform(parameter.low, parameter.high))
    return settings


def grid_trial(number, seed):
    """Grid point ``number`` of the grid in a seeded shuffled order (so any N trials spread)."""
    points = list(itertools.product(*(parameter.grid for parameter in SPACE.values())))
    order = np.random.default_rng(seed).permutation(len(points))
    return dict(zip(SPACE, points[order[number % len(points)]], strict=True))


def grid_size():
    return math.prod(len(parameter.grid) for parameter in SPACE.values())


def folds_of(table, n_folds, val_fraction, seed):
    """Per fold, a split column over ``table`` (its train+val rows): train, val or test.

    Folds are stratified by genre and grouped by artist (when artist_id is present); "test" is
    the fold scored, "val" the early-stopping slice of the remaining artists.
    """
    genres = table[LABEL].to_numpy()
    artists = artist_groups(table)
    splits = []
    try:
        fold_rows = list(stratified_folds(genres, artists, n_folds, seed))
    except ValueError as err:
        raise PreprocessError(f"too few songs for {n_folds} folds ({err})") from None
    for fold, (rest, scored) in enumerate(fold_rows):
        val = holdout_mask(genres[rest], None if artists is None else artists[rest],
                           val_fraction, seed + fold)
        split = np.full(len(table), "train", dtype=object)
        split[scored] = "test"
        split[rest[val]] = "val"
        splits.append(split)
    return splits


def train_config(settings, base):
    """``base`` (a train.TrainConfig) with a trial's settings.

    The prior correction is capped at the trial's class-weight power: it exists to take back
    class weighting, and a trial with less weighting has less to take back.
    """
    return dataclasses.replace(base, **{**settings, "hidden": tuple(settings["hidden"])},
                               prior_correction=min(base.prior_correction,
                                                    settings["class_weight_power"]))


def score_fold(table, split, config):
    """(macro-F1, accuracy, best epoch) of ``config`` trained and stopped on a fold's rows."""
    fold = table.assign(**{SPLIT: split})
    checkpoint, _ = train.train_checkpoint(fold, config)
    features, labels = split_arrays(fold, "test", checkpoint["feature_names"],
                                    checkpoint["classes"])
    got = scores(labels, predict_proba(checkpoint, features).argmax(axis=1))
    return got["macro_f1"], got["accuracy"], checkpoint["metrics"]["best_epochs"][0]


_WORKER = {}


def _start_worker(table, splits):
    # One torch thread per process: two processes then use both cores without oversubscribing.
    torch.set_num_threads(1)
    _WORKER.update(table=table, splits=splits)


def _run_fold(task):
    number, fold, config = task
    started = time.perf_counter()
    macro_f1, accuracy, epoch = score_fold(_WORKER["table"], _WORKER["splits"][fold], config)
    return number, macro_f1, accuracy, epoch, time.perf_counter() - started


def run_trials(trials, table, splits, base, workers):
    """Yield (number, result dict) per trial of ``trials`` ({number: settings}) as it finishes."""
    tasks = [(number, fold, train_config(settings, base))
             for number, settings in trials.items() for fold in range(len(splits))]
    if workers == 1:
        _start_worker(table, splits)
        results = map(_run_fold, tasks)
        yield from _collect(results, len(splits))
        return
    # forkserver: workers start clean, not from a parent whose OpenMP state fork may break.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # torch imported once, not once per worker
    with context.Pool(workers, initializer=_start_worker, initargs=(table, splits)) as pool:
        yield from _collect(pool.imap_unordered(_run_fold, tasks), len(splits))


def _collect(results, n_folds):
    pending = {}
    for number, macro_f1, accuracy, epoch, seconds in results:
        pending.setdefault(number, []).append((macro_f1, accuracy, epoch, seconds))
        if len(pending[number]) == n_folds:
            f1s, accuracies, epochs, seconds = map(np.array, zip(*pending.pop(number),
                                                                 strict=True))
            yield number, {"macro_f1": f1s.mean(), "macro_f1_std": f1s.std(),
                           "accuracy": accuracies.mean(), "epochs": epochs.mean(),
                           "seconds": seconds.sum()}


def format_value(name, value):
    if name == "hidden":
        return "-".join(map(str, value))
    if isinstance(value, float):
        return repr(float(value))  # all digits: a resumed search reads back what it trained
    return str(value)


def parse_value(name, text):
    if name == "hidden":
        return tuple(int(width) for width in text.split("-"))
    if name in ("trial", "batch_size"):
        return int(text)
    return float(text)


def read_trials(path):
    """Finished trials in ``path``: {number: row}. A line cut short by a kill is ignored."""
    if not path.exists():
        return {}
    finished = {}
    with open(path, newline="") as stream:
        for row in csv.DictReader(stream):
            try:
                parsed = {name: parse_value(name, row[name]) for name in TRIAL_COLUMNS}
            except (AttributeError, TypeError, ValueError):
                continue
            finished[parsed["trial"]] = parsed
    return finished


def append_trial(path, number, settings, result):
    """Append one finished trial to the CSV and force it to disk (it survives a kill)."""
    row = {"trial": number, **settings, **result}
    with open(path, "a+", newline="") as stream:
        if stream.tell() == 0:
            stream.write(",".join(TRIAL_COLUMNS) + "\n")
        elif not _ends_with_newline(path):
            stream.write("\n")  # end a line a kill cut short: it stays one unreadable row
        stream.write(",".join(format_value(name, row[name]) for name in TRIAL_COLUMNS) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _ends_with_newline(path):
    with open(path, "rb") as stream:
        stream.seek(-1, os.SEEK_END)
        return stream.read(1) == b"\n"


def check_settings(out, settings):
    """Record the search settings in ``out``, or check they match those of a resumed search."""
    path = out / SETTINGS_FILE
    if path.exists():
        try:
            recorded = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            recorded = None
        if not isinstance(recorded, dict):
            raise TuneError(f"{path}: not a search record of tune.py: use another --out")
        changed = sorted(key for key in settings if recorded.get(key) != settings[key])
        if changed:
            raise TuneError(f"{out} holds a search with other settings ({', '.join(changed)}): "
                            "use another --out")
        return
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(settings, indent=2) + "\n")


def best_config(row, base):
    """train.py --config settings of a trial: its searched values, the fixed ones and the prior
    correction it was scored with."""
    settings = {name: list(row[name]) if name == "hidden" else row[name] for name in SPACE}
    return {"epochs": base.epochs, "patience": base.patience, "optimizer": base.optimizer,
            "prior_correction": train_config(settings, base).prior_correction, **settings}


def format_best(finished, top=5):
    rows = sorted(finished.values(), key=lambda row: -row["macro_f1"])[:top]
    header = ("trial", "macro-F1", "± std", "accuracy", *SPACE)
    lines = ["  ".join(f"{title:>10}" for title in header)]
    for row in rows:
        cells = [str(row["trial"]), f"{row['macro_f1']:.3f}", f"{row['macro_f1_std']:.3f}",
                 f"{row['accuracy']:.3f}", *(format_value(name, row[name]) for name in SPACE)]
        lines.append("  ".join(f"{cell:>10}" for cell in cells))
    return "\n".join(lines)


def search(table, out, trials, method="random", folds=5, val_fraction=0.15, seed=0,
           workers=2, base=None, progress=True):
    """Run the missing trials of a search in ``out``; returns all finished trials by number.

    ``base`` (a train.TrainConfig, default train.py's) gives the settings not searched.
    """
    base = base or train.TrainConfig()
    table = table[table[SPLIT].isin(("train", "val"))].reset_index(drop=True)
    check_settings(out, {"method": method, "folds": folds, "val_fraction": val_fraction,
                         "seed": seed, "rows": len(table), "epochs": base.epochs,
                         "patience": base.patience, "prior_correction": base.prior_correction,
                         "space": list(SPACE)})
    path = out / "trials.csv"
    finished = read_trials(path)
    splits = folds_of(table, folds, val_fraction, seed)
    bar = tqdm(total=trials, initial=min(len(finished), trials), unit="trial",
               disable=not progress)
    missing = [number for number in range(trials) if number not in finished]

    def record(number, settings, result):
        append_trial(path, number, settings, result)
        finished[number] = {"trial": number, **settings, **result}
        bar.update()
        best = max(finished.values(), key=lambda row: row["macro_f1"])
        bar.set_postfix(best=f"{best['macro_f1']:.3f}")

    if method == "bayes":
        bayes_search(finished, missing, table, splits, base, workers, seed, record)
    else:
        propose = grid_trial if method == "grid" else random_trial
        proposed = {number: propose(number, seed) for number in missing}
        for number, result in run_trials(proposed, table, splits, base, workers):
            record(number, proposed[number], result)
    bar.close()
    return finished


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise TuneError("--method bayes needs Optuna: pip install optuna") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def bayes_search(finished, missing, table, splits, base, workers, seed, record):
    """Optuna TPE proposals, ``workers`` trials at a time, told the finished trials first."""
    optuna = import_optuna()
    distributions = {}
    for name, parameter in SPACE.items():
        if parameter.low is None:
            distributions[name] = optuna.distributions.CategoricalDistribution(
                [format_value(name, value) for value in parameter.grid])
        else:
            distributions[name] = optuna.distributions.FloatDistribution(
                parameter.low, parameter.high, log=parameter.log)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    for row in finished.values():
        params = {name: format_value(name, row[name]) if SPACE[name].low is None else row[name]
                  for name in SPACE}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                  value=row["macro_f1"]))
    for start in range(0, len(missing), workers):
        asked = {number: study.ask(distributions) for number in missing[start:start + workers]}
        proposed = {number: {name: parse_value(name, value) if name in ("hidden", "batch_size")
                             else value for name, value in trial.params.items()}
                    for number, trial in asked.items()}
        for number, result in run_trials(proposed, table, splits, base, workers):
            study.tell(asked[number], result["macro_f1"])
            record(number, proposed[number], result)


def parse_args(argv):
    defaults = train.TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default="data/preprocessed_data.csv",
                        help="table written by preprocess.py (its test rows are not read)")
    parser.add_argument("--trials", type=int, default=40, help="trials in the whole search")
    parser.add_argument("--method", choices=("random", "grid", "bayes"), default="random",
                        help="random sampling, a shuffled grid, or Optuna's TPE (optional extra)")
    parser.add_argument("--out", type=Path, default=Path("runs/tune"),
                        help="run folder: trials.csv, search.json, best.json")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds per trial")
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="share of each fold's training artists held out for early stopping")
    parser.add_argument("--epochs", type=int, default=defaults.epochs,
                        help="at most this many per training")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="early-stopping patience per training")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the folds, the trial proposals and the networks")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes training folds in parallel, one torch thread each")
    parser.add_argument("--top", type=int, default=5, help="best trials shown at the end")
    args = parser.parse_args(argv)
    for name in ("trials", "epochs", "patience", "workers", "top"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    if not 0 < args.val_fraction < 0.5:
        parser.error("--val-fraction must be in (0, 0.5)")
    if args.method == "grid" and args.trials > grid_size():
        parser.error(f"--trials: the grid has only {grid_size()} points")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    base = train.TrainConfig(epochs=args.epochs, patience=args.patience, seed=args.seed)
    try:
        if args.method == "bayes":
            import_optuna()
        table = read_table(args.data)
        started = time.perf_counter()
        finished = search(table, args.out, args.trials, args.method, args.folds,
                          args.val_fraction, args.seed, args.workers, base)
    except (PreprocessError, TuneError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are in {args.out / 'trials.csv'}; "
              "the same command resumes the search", file=sys.stderr)
        return 130
    best = max(finished.values(), key=lambda row: row["macro_f1"])
    with atomic_output(args.out / "best.json") as temporary:
        temporary.write_text(json.dumps(best_config(best, base), indent=2) + "\n")
    print(f"{len(finished)} trials, {args.folds}-fold cross-validation grouped by artist on the "
          f"train+val rows ({time.perf_counter() - started:.0f} s this run); best by macro-F1:")
    print(format_best(finished, args.top))
    print(f"wrote {args.out / 'best.json'}: python train.py --config {args.out / 'best.json'} "
          f"--data {args.data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
