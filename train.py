"""Train the genre classifier on a preprocessed table; keep its checkpoint, history and curve.

Usage:
    python train.py --data data/preprocessed_data.csv --out runs/NAME
    python train.py --config runs/tune-NAME/best.json --ensemble 5 [--bootstrap]

Fits model.GenreClassifier on the table's train rows, stopping early on its val rows (without
any, on a --validation-fraction of the train artists), and writes runs/NAME/model.pt
(self-contained: see model.py), history.csv (one row per epoch with its wall-clock seconds) and
learning_curve.png. Every option but --data, --out, --config and --threads is a GenreClassifier
parameter of the same name and default. --config reads a JSON object of them (e.g. tune.py's
best.json); options given on the command line override it. Ctrl-C stops training and writes
nothing (exit 130).
"""
import argparse
import csv
import sys
from pathlib import Path

import torch

import plots
import songtable
from dataset import interrupts
from dataset.outputs import OutputError, atomic_output
from model import (HISTORY_COLUMNS, PARAMETER_HELP, GenreClassifier, SettingError, TrainingError,
                   parameter_defaults, read_parameters)

HIDDEN_PARAMETERS = ("verbose",)  # train.py always prints its epochs


def option_parameters():
    """{parameter: default} of the GenreClassifier parameters that are train.py options, in the
    constructor's order."""
    return {name: default for name, default in parameter_defaults().items()
            if name not in HIDDEN_PARAMETERS}


def add_parameter_options(parser):
    """One option per parameter, typed by its default. Options not given stay unset, so a
    --config file's value is only overridden by what the user typed."""
    for name, default in option_parameters().items():
        option = "--" + name.replace("_", "-")
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        settings = {"default": argparse.SUPPRESS,
                    "help": f"{PARAMETER_HELP[name]} (default: {shown})"}
        if isinstance(default, bool):
            parser.add_argument(option, action=argparse.BooleanOptionalAction, **settings)
        elif isinstance(default, tuple):
            parser.add_argument(option, type=int, nargs="+", **settings)
        elif isinstance(default, str):
            parser.add_argument(option, type=_number_or_text, **settings)
        else:
            parser.add_argument(option, type=type(default), **settings)


def _number_or_text(text):
    """A number where one is given (--prior-correction 0.3), else the word (auto, sgd, cpu)."""
    try:
        return float(text)
    except ValueError:
        return text


def parse_args(argv):
    """(script options, GenreClassifier parameters): defaults < --config < command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/preprocessed_data.csv",
                        help="table written by preprocess.py (default: %(default)s)")
    parser.add_argument("--out", default="runs/main",
                        help="run folder for model.pt, history.csv and the curve "
                        "(default: %(default)s)")
    parser.add_argument("--config", help="JSON file of the options below (e.g. best.json of "
                        "tune.py); options on the command line override it")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads: a small MLP runs fastest on one "
                        "(default: %(default)s)")
    add_parameter_options(parser)
    args = parser.parse_args(argv)
    given = {name: value for name, value in vars(args).items() if name in option_parameters()}
    try:
        config = read_parameters(args.config) if args.config else {}
    except ValueError as err:
        parser.error(str(err))
    parameters = {**config, **given}
    if "hidden" in parameters:
        parameters["hidden"] = tuple(parameters["hidden"])
    try:
        GenreClassifier(**parameters).check_params()
    except SettingError as err:
        parser.error(f"--{err.name.replace('_', '-')} {err.requirement}")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args, parameters


def write_history(path, history):
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def main(argv=None):
    args, parameters = parse_args(argv)
    torch.set_num_threads(args.threads)
    classifier = GenreClassifier(**parameters, verbose=True)
    out = Path(args.out)
    try:
        table = songtable.read_table(args.data)
        features, genres, artists = songtable.split_rows(table, "train")
        val_features, val_genres, _ = songtable.split_rows(table, "val")
        eval_set = (val_features, val_genres) if len(val_genres) else None
        train_rows = table[table[songtable.SPLIT] == "train"]
        train_only = songtable.train_only_mask(train_rows)
        with_crops = songtable.crop_mask(train_rows).any()
        with interrupts.stop_on_interrupt():
            classifier.fit(features, genres, groups=artists, eval_set=eval_set,
                           train_only=train_only)
        classifier.save(out / "model.pt")
        write_history(out / "history.csv", classifier.history_)
        plots.learning_curve(out / "learning_curve.png", classifier.history_)
    except (songtable.TableError, TrainingError, SettingError, OutputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: training stopped, nothing written", file=sys.stderr)
        return 130
    metrics = classifier.metrics_
    print(f"{classifier.ensemble} network(s), best epoch(s) "
          f"{', '.join(map(str, metrics['best_epochs']))} of {metrics['epochs_run']} run: "
          f"val accuracy {metrics['val_accuracy']:.3f}, macro-F1 {metrics['val_macro_f1']:.3f}; "
          f"{metrics['train_seconds']:.1f} s on {metrics['device']} ({metrics['n_train']} "
          f"train {'rows: songs and crops' if with_crops else 'songs'} / {metrics['n_val']} val "
          f"songs, {len(classifier.classes_)} genres, "
          f"{classifier.n_features_in_} features)")
    print(f"wrote {out / 'model.pt'}, {out / 'history.csv'}, {out / 'learning_curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
