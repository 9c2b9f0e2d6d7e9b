"""Train the genre classifier on a preprocessed table; keep its checkpoint, history and curve.

Usage:
    python train.py --data data/preprocessed_data.csv --out runs/NAME
    python train.py --config runs/tune-NAME/best.json --ensemble 5 [--bootstrap]

Fits classifier.GenreClassifier on the table's train rows, stopping early on its val rows
(without any, on a --holdout-fraction of the train artists), and writes runs/NAME/model.pt
(self-contained: see checkpoint.py; it records which songs it trained and validated on, the
table it came from and the code, so that evaluate.py refuses to score it on them),
history.csv (one row per epoch with its wall-clock seconds) and learning_curve.png. The run
folder lands as one set: the files are written to a new folder that then takes the place of an
earlier run's (whose evaluation files go with it); a folder holding other files is refused.
Every option but --data, --out, --config and --threads is a GenreClassifier
parameter of the same name and default. --config reads a JSON object of them (e.g. tune.py's
best.json); options given on the command line override it. Ctrl-C stops training and writes
nothing (exit 130).
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "training")

import csv
import sys
from pathlib import Path

import torch

from dataset import cli
from dataset.outputs import OutputError, atomic_folder, atomic_output
from genrelearn import modelcard, options, plots, provenance, splitting, summaries, tablefiles
from genrelearn.classifier import FitError, GenreClassifier, SettingError
from genrelearn.training import HISTORY_COLUMNS, TrainingError

RUN_FILES = ("model.pt", "history.csv", "learning_curve.png", modelcard.CARD)
# What evaluate.py writes into a run folder: it describes the run's model, and goes with it.
EVALUATION_FILES = ("metrics.json", "confusion_matrix.png")


def build_parser():
    parser = cli.new_parser(__doc__)
    cli.add_data_option(parser)
    parser.add_argument("--out", default="runs/main", metavar="FOLDER",
                        help="the run folder: model.pt, history.csv, the learning curve and "
                        "MODEL_CARD.md")
    options.add_threads_option(parser)
    options.add_parameter_options(parser)
    return parser


def parse_args(argv):
    """(script options, GenreClassifier parameters): defaults < --config < command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    options.check_threads(parser, args)
    return args, options.chosen_parameters(parser, args)


def write_history(path, history):
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def refuse_foreign_folder(out):
    """OutputError when ``out`` is not a folder train.py may replace: a file, or a folder with
    files that no run wrote."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: not a folder: give --out a run folder's name")
    foreign = sorted(path.name for path in out.iterdir()
                     if path.name not in RUN_FILES + EVALUATION_FILES)
    if foreign:
        raise OutputError(f"{out}: holds files no run wrote ({summaries.summarise(foreign)}), "
                          "which a new run would replace: choose another --out or move them")


def fit_and_write(classifier, table, data, out):
    """Fit on the table's train rows (early stopping on its val rows), then write the run."""
    features, genres, _ = splitting.split_rows(table, "train")
    val_features, val_genres, _ = splitting.split_rows(table, "val")
    eval_set = (val_features, val_genres) if len(val_genres) else None
    record = {"table": provenance.table_record(data, table), "code": provenance.code_record()}
    with interrupts.stop_on_interrupt():
        # The table is read for this fit alone: its train rows may become the inputs.
        classifier.fit(features, genres, eval_set=eval_set, copy_X=False)
        interrupts.check()  # a press during fit's last validation still stops the run
    with atomic_folder(out) as run:
        classifier.save(run / "model.pt", record)
        write_history(run / "history.csv", classifier.history_)
        plots.learning_curve(run / "learning_curve.png", classifier.history_,
                             classifier.metrics_["best_epochs"])
        # From the checkpoint's own record, as a reader of model.pt would see it.
        modelcard.write(run / modelcard.CARD, GenreClassifier.load(run / "model.pt"),
                        run=Path(out).resolve().name)


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
        refuse_foreign_folder(out)
        # The test rows stay on disk: a million songs' table is then a third smaller.
        table = tablefiles.read_table(args.data, splits=("train", "val"))
        fit_and_write(classifier, table, args.data, out)
    except (tablefiles.TableError, TrainingError, SettingError, FitError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: training stopped, nothing written", file=sys.stderr)
        return 130
    print(summary(classifier, splitting.crop_mask(table).any()))
    print(f"wrote {', '.join(str(out / name) for name in RUN_FILES)}")
    return 0


def command():
    """The installed command, msd-train: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "training")


if __name__ == "__main__":
    sys.exit(command())
