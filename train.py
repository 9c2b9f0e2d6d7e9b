"""Train the genre classifier on a preprocessed table; keep its checkpoint, history and curve.

Usage:
    python train.py --data data/preprocessed_data.csv --out runs/NAME
    python train.py --config runs/tune-NAME/best.json --ensemble 5 [--bootstrap]

Fits classifier.GenreClassifier on the table's train rows, stopping early on its val rows
(without any, on a --val-fraction of the train artists), and writes runs/NAME/model.pt
(self-contained: see checkpoint.py), history.csv (one row per epoch with its wall-clock seconds) and
learning_curve.png. Every option but --data, --out, --config and --threads is a GenreClassifier
parameter of the same name and default. --config reads a JSON object of them (e.g. tune.py's
best.json); options given on the command line override it. Ctrl-C stops training and writes
nothing (exit 130).
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "training")

import argparse
import csv
import sys
from pathlib import Path

import torch

import options
import plots
import songtable
from classifier import GenreClassifier, SettingError
from dataset.outputs import OutputError, atomic_output
from training import HISTORY_COLUMNS, TrainingError


def parse_args(argv):
    """(script options, GenreClassifier parameters): defaults < --config < command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/preprocessed_data.csv",
                        help="table written by preprocess.py (default: %(default)s)")
    parser.add_argument("--out", default="runs/main",
                        help="run folder for model.pt, history.csv and the curve "
                        "(default: %(default)s)")
    options.add_threads_option(parser)
    options.add_parameter_options(parser)
    args = parser.parse_args(argv)
    options.check_threads(parser, args)
    return args, options.chosen_parameters(parser, args)


def write_history(path, history):
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def fit_and_write(classifier, table, out):
    """Fit on the table's train rows (early stopping on its val rows), then write the run."""
    features, genres, artists = songtable.split_rows(table, "train")
    val_features, val_genres, _ = songtable.split_rows(table, "val")
    eval_set = (val_features, val_genres) if len(val_genres) else None
    train_rows = table[table[songtable.SPLIT] == "train"]
    with interrupts.stop_on_interrupt():
        classifier.fit(features, genres, groups=artists, eval_set=eval_set,
                       train_only=songtable.train_only_mask(train_rows))
    classifier.save(out / "model.pt")
    write_history(out / "history.csv", classifier.history_)
    plots.learning_curve(out / "learning_curve.png", classifier.history_,
                         classifier.metrics_["best_epochs"])


def summary(classifier, crops):
    metrics = classifier.metrics_
    rows = "rows: songs and crops" if crops else "songs"
    return (f"{classifier.ensemble} network(s), best epoch(s) "
            f"{', '.join(map(str, metrics['best_epochs']))} of {metrics['epochs_run']} run: "
            f"val accuracy {metrics['val_accuracy']:.3f}, macro-F1 "
            f"{metrics['val_macro_f1']:.3f}; {metrics['train_seconds']:.1f} s on "
            f"{metrics['device']} ({metrics['n_train']} train {rows} / {metrics['n_val']} val "
            f"songs, {len(classifier.classes_)} genres, {classifier.n_features_in_} features)")


def main(argv=None):
    args, parameters = parse_args(argv)
    torch.set_num_threads(args.threads)
    classifier = GenreClassifier(**parameters, verbose=True)
    out = Path(args.out)
    try:
        table = songtable.read_table(args.data)
        fit_and_write(classifier, table, out)
    except (songtable.TableError, TrainingError, SettingError, OutputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: training stopped, nothing written", file=sys.stderr)
        return 130
    print(summary(classifier, songtable.crop_mask(table).any()))
    print(f"wrote {out / 'model.pt'}, {out / 'history.csv'}, {out / 'learning_curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(interrupts.run(main, "training"))
