"""The real-songs cross-validation benchmark: our default model beside the baselines, the best
tabular learners and any learner you name, on the same artist-grouped, genre-stratified folds of
real MSD song files, with the folds as a file others can reuse.

Usage:
    python -m bench.real_cv [--sources cd1 lastfm | --labels SOURCE ...] [--methods NAME ...] \
        [--estimator MODULE:CALLABLE | --estimator FILE.py:CALLABLE ...] [--folds 5] \
        [--repeats 3] [--write-folds folds.csv | --read-folds folds.csv] [--slow-folds 5] \
        [--catboost-iterations N] [--config mlp.json] [--crops 4] [--threads 1] [--out results.md]

For each label source it runs what a user runs: ``python -m dataset.extract SONGS --labels
SOURCE --mismatches FILE --crops N`` (SongCSV.csv under --workdir), then preprocess's cleaning:
bench.real_songs.labelled_table. The songs of training-only label sources (weaker labels) and
the songs' crops train in every fold, except their test artists', and are never scored (the
rows rule, splitting.learning_rows). The folds: StratifiedGroupKFold(--folds, shuffle=True,
random_state=0..--repeats-1) over the scored songs, grouped by artist (splitting.fold_rows), or
the folds of a --read-folds file; --write-folds writes them (track_id, source, fold_seed, fold:
each scored song's test fold), so the same protocol runs anywhere.

Methods, each at its library's defaults, class-balanced where the library offers it: our default
model (GenreClassifier with train.py's defaults or --config; the reference every other method is
paired with; it learns from the crops too), the majority class, logistic regression and
HistGradientBoosting (scoring.baselines), and, when installed from requirements-bench.txt,
LightGBM, CatBoost (its 1,000 iterations unless --catboost-iterations) and pytabkit's RealMLP-TD
(no class weights to offer; after mean imputation with missing-value flags: it takes no NaN).
Each --estimator adds a scikit-learn classifier: CALLABLE() returns it unfitted; it learns from
the songs without their crops unless it has ``learns_from_crops = True``. CatBoost, at 4-6
minutes a fold on one thread, runs on the first --slow-folds folds only, and the table says so.

Prints per source each method's accuracy, macro-F1 and balanced accuracy (mean ± std over its
folds), the paired difference from our default model on the folds both ran (mean ± standard
error), its folds and wall time; --out writes the same as Markdown with the date, the machine,
the command and the folds.
"""
import argparse
import datetime
import importlib
import itertools
import os
import platform
import shlex
import sys
import time
import warnings
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from bench import cpu_name, real_songs
from genrelearn import scoring, splitting, tablefiles
from genrelearn.classifier import GenreClassifier

DEFAULT = "default"
SOURCES = {run.source: run for run in real_songs.DEFAULT_RUNS}
FOLD_COLUMNS = ["track_id", "source", "fold_seed", "fold"]
FOLDS, REPEATS = 5, 3
SLOW_FOLDS = 5  # fold seed 0's folds: every scored song tested once
SKIPPED = "skipped: not installed (pip install -r requirements-bench.txt)"
METRIC_TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1",
                 "balanced_accuracy": "balanced accuracy"}
# The two figures the project's targets are stated on (issue 24): each method's difference from
# our default model in them, paired by fold.
PAIRED_METRICS = ("accuracy", "macro_f1")


class FoldsError(ValueError):
    """A fold file that is not one, or whose folds are not of the table's scored songs."""


class Method(NamedTuple):
    """A learner of the table: its title, a maker of it from the options, the package it needs
    (None: always there), and whether at its defaults it is too slow for every fold."""
    title: str
    make: Callable
    package: str | None = None
    slow: bool = False


def lightgbm(args):
    from lightgbm import LGBMClassifier
    return LGBMClassifier(class_weight="balanced", n_jobs=args.threads, random_state=0,
                          verbose=-1)


def catboost(args):
    from catboost import CatBoostClassifier

    class CatBoostGenres(CatBoostClassifier):
        """CatBoost predicting one genre a row (its own predict gives a column of them)."""

        def predict(self, data, **kwargs):
            return super().predict(data, **kwargs).ravel()

    # iterations None: CatBoost's own default (1,000, its learning rate set to match).
    return CatBoostGenres(iterations=args.catboost_iterations, auto_class_weights="Balanced",
                          thread_count=args.threads, random_seed=0, verbose=0,
                          allow_writing_files=False)


def realmlp(args):
    from pytabkit import RealMLP_TD_Classifier

    # pytorch-lightning, under pytabkit, warns of a torch deprecation at every batch.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
    return make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True,
                                       add_indicator=True),
                         RealMLP_TD_Classifier(device="cpu", random_state=0,
                                               n_threads=args.threads))


class MLPTreesVote(ClassifierMixin, BaseEstimator):
    """Exploratory (issue 24): the mean of GenreClassifier's genre probabilities and balanced
    HistGradientBoosting's, the trees' weighted by ``trees_weight``. The MLP learns from every
    row it is given; the trees from all of them too, or with ``trees_scored_rows_only`` from the
    rows that may be scored alone (no crops, and no weaker labels: the vote cannot tell a crop
    from a song with a weaker label)."""
    learns_from_crops = True

    def __init__(self, trees_weight=0.5, trees_scored_rows_only=False, mlp=None):
        self.trees_weight = trees_weight
        self.trees_scored_rows_only = trees_scored_rows_only
        self.mlp = mlp

    def fit(self, X, y, groups=None, train_only=None):
        self.mlp_ = GenreClassifier(**(self.mlp or {})).fit(X, y, groups=groups,
                                                             train_only=train_only)
        rows = (np.flatnonzero(~np.asarray(train_only, dtype=bool))
                if self.trees_scored_rows_only and train_only is not None
                else np.arange(len(y)))
        self.trees_ = scoring.baselines(seed=0)["hist_gradient_boosting"].fit(
            X.iloc[rows] if hasattr(X, "iloc") else X[rows], np.asarray(y)[rows])
        self.classes_ = self.mlp_.classes_
        return self

    def predict_proba(self, X):
        trees = scoring.probabilities_by_genre(self.trees_, X, self.classes_)
        return (1 - self.trees_weight) * self.mlp_.predict_proba(X) + self.trees_weight * trees

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def baseline(name):
    """A maker of scoring.baselines' ``name``."""
    return lambda args: scoring.baselines(seed=0)[name]


# Our default model first: every other method is paired with it.
METHODS = {
    DEFAULT: Method("MLP (default)", lambda args: GenreClassifier(**args.mlp)),
    "majority": Method(scoring.BASELINE_TITLES["majority"], baseline("majority")),
    "logistic": Method(scoring.BASELINE_TITLES["logistic_regression"],
                       baseline("logistic_regression")),
    "hgb": Method(scoring.BASELINE_TITLES["hist_gradient_boosting"],
                  baseline("hist_gradient_boosting")),
    "lightgbm": Method("LightGBM", lightgbm, "lightgbm"),
    "catboost": Method("CatBoost", catboost, "catboost", slow=True),
    "realmlp": Method("RealMLP-TD", realmlp, "pytabkit"),
    "vote": Method("MLP + HGB soft vote", lambda args: MLPTreesVote(
        args.vote_trees_weight, args.vote_trees_scored_rows_only, args.mlp)),
}
EXPLORATORY = ("vote",)  # run when named in --methods only


def estimator_method(value):
    """The Method of an --estimator value, MODULE:CALLABLE or FILE.py:CALLABLE, whose
    CALLABLE() returns an unfitted scikit-learn classifier; ValueError, in words, when it does
    not."""
    where, _, name = value.rpartition(":")
    if not where or not name:
        raise ValueError("give MODULE:CALLABLE or FILE.py:CALLABLE")
    try:
        if where.endswith(".py"):
            spec = spec_from_file_location(f"estimator_{Path(where).stem}", where)
            module = module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        maker = getattr(module, name)
        estimator = maker()
    except Exception as err:  # the user's code may fail in any way: say how, in one line
        raise ValueError(f"{type(err).__name__}: {err}") from None
    if not all(hasattr(estimator, method) for method in ("fit", "predict", "get_params")):
        raise ValueError(f"{name}() returned a {type(estimator).__name__}, not a scikit-learn "
                         "classifier (fit, predict, get_params)")
    title = f"{Path(where).name}:{name}" if where.endswith(".py") else value
    return Method(title, lambda args: maker())


def make_folds(table, source, n_folds, seeds):
    """The folds of ``table``'s scored songs (splitting.fold_rows: stratified by genre, grouped
    by artist, never a training-only row or crop), as a fold file's rows (FOLD_COLUMNS)."""
    train_only = splitting.train_only_mask(table)
    genres = table[tablefiles.LABEL].to_numpy(dtype=object)
    artists = splitting.artist_groups(table)
    tracks = table["track_id"].to_numpy(dtype=object)
    parts = [pd.DataFrame({"track_id": tracks[test], "source": source, "fold_seed": seed,
                           "fold": fold})
             for seed in seeds
             for fold, (_, test) in enumerate(splitting.fold_rows(genres, artists, train_only,
                                                                  n_folds, seed))]
    return pd.concat(parts, ignore_index=True)


def read_folds(path):
    """A fold file's rows (FOLD_COLUMNS); FoldsError, in words, for a file that is not one."""
    try:
        folds = pd.read_csv(path, dtype={"track_id": str, "source": str})
    except (OSError, ValueError) as err:
        raise FoldsError(f"{path}: not a readable CSV file ({err})") from None
    missing = [column for column in FOLD_COLUMNS if column not in folds.columns]
    if missing:
        raise FoldsError(f"{path}: no column {', '.join(missing)} (a fold file has "
                         f"{', '.join(FOLD_COLUMNS)})")
    if not all(pd.api.types.is_integer_dtype(folds[column]) for column in FOLD_COLUMNS[2:]):
        raise FoldsError(f"{path}: fold_seed and fold must be whole numbers")
    if folds.duplicated(FOLD_COLUMNS[:3]).any():
        raise FoldsError(f"{path}: a track is in two folds of one source and fold seed")
    return folds[FOLD_COLUMNS]


def folds_of(all_folds, source, table, path):
    """The rows of ``all_folds`` (a fold file's) of ``source``, checked to hold each song of
    ``table`` that may be scored once per fold seed, and no other; FoldsError, in words."""
    folds = all_folds[all_folds["source"] == source]
    if folds.empty:
        raise FoldsError(f"{path} holds no folds of source {source} (it holds "
                         f"{', '.join(sorted(all_folds['source'].unique()))})")
    scored = set(table.loc[~splitting.train_only_mask(table), "track_id"])
    for seed, seed_folds in folds.groupby("fold_seed"):
        listed = set(seed_folds["track_id"])
        if listed != scored:
            raise FoldsError(
                f"{path}: fold seed {seed} of {source} lists {len(listed - scored)} tracks the "
                f"table does not score and leaves out {len(scored - listed)} that it scores "
                f"(e.g. {sorted(listed ^ scored)[0]}): extract and clean the same songs")
    return folds


def fold_splits(folds, rows):
    """((fold seed, fold), (train rows, test rows)) of each fold of ``folds`` (one source's
    fold file rows) in ``rows`` (a table): the fold's songs are the test rows; every other row
    trains as splitting.learning_rows rules (not a training-only row or crop of a test artist)."""
    train_only = splitting.train_only_mask(rows)
    artists = splitting.artist_groups(rows)
    tracks = rows["track_id"].to_numpy(dtype=object)
    for key, songs in folds.groupby(["fold_seed", "fold"], sort=True):
        held = ~train_only & np.isin(tracks, songs["track_id"].to_numpy(dtype=object))
        yield key, splitting.fold_of(train_only, artists, held)


def scored_on_folds(estimator, table, folds, limit=None):
    """Per fold of ``folds`` (the first ``limit``; None: all), the scores of ``estimator``
    fitted on the fold's training rows of the table it learns from (scoring.training_table)
    and tested on its songs, each with its ``fold_seed`` and ``fold``."""
    rows = scoring.training_table(estimator, table)
    features, genres, artists = splitting.split_rows(rows)
    keys, splits = zip(*itertools.islice(fold_splits(folds, rows), limit))
    results = scoring.scored_folds(estimator, features, genres, artists, list(splits),
                                   splitting.train_only_mask(rows))
    return [{**scores, "fold_seed": seed, "fold": fold}
            for scores, (seed, fold) in zip(results, keys, strict=True)]


def score_methods(methods, args, table, folds):
    """{title: (per-fold scores, or None when its package is absent; wall seconds)} of
    ``methods`` (our default model first) on ``folds`` of ``table``; a slow method on the first
    --slow-folds of them."""
    found = {}
    for method in methods:
        if method.package and find_spec(method.package) is None:
            found[method.title] = (None, 0.0)
            continue
        started = time.perf_counter()
        limit = args.slow_folds if method.slow and args.slow_folds else None
        found[method.title] = (scored_on_folds(method.make(args), table, folds, limit),
                               time.perf_counter() - started)
        real_songs.print_seconds(method.title, started)
    return found


def on_common_folds(results, reference):
    """``results`` and ``reference`` (per-fold scores) on the folds both ran, in one order."""
    theirs = {(row["fold_seed"], row["fold"]): row for row in reference}
    common = [row for row in results if (row["fold_seed"], row["fold"]) in theirs]
    return common, [theirs[row["fold_seed"], row["fold"]] for row in common]


def table_rows(found, n_folds):
    """Header and one row of cells per method: its folds (of ``n_folds``), each metric's mean ±
    std over them, its paired difference from the first (default) method on the folds both ran
    (mean ± SE), and its wall time."""
    reference = next(iter(found.values()))[0]
    header = ["method", "folds", *METRIC_TITLES.values(),
              *(f"{METRIC_TITLES[metric]} − default" for metric in PAIRED_METRICS), "wall time"]
    rows = [header]
    for title, (results, seconds) in found.items():
        if results is None:
            rows.append([title, SKIPPED] + [""] * (len(header) - 2))
            continue
        folds = str(n_folds) if len(results) == n_folds else f"{len(results)} of {n_folds}"
        means = scoring.mean_scores(results)
        cells = [f"{means[metric][0]:.3f} ± {means[metric][1]:.3f}" for metric in METRIC_TITLES]
        for metric in PAIRED_METRICS:
            if results is reference:
                cells.append("—")
                continue
            mean, error = real_songs.paired(*on_common_folds(results, reference), metric)
            cells.append(f"{mean:+.3f} ± {error:.3f}")
        rows.append([title, folds, *cells, f"{seconds:.0f} s"])
    return rows


def format_text(rows):
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def format_markdown(sections):
    """One Markdown table of every source's rows (``sections``: [(source, rows)]), the source
    named in its first row."""
    header = ["labels", *sections[0][1][0]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for source, rows in sections:
        lines += [f"| {source if number == 0 else ''} | " + " | ".join(row) + " |"
                  for number, row in enumerate(rows[1:])]
    return "\n".join(lines)


def machine():
    return f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def settings(args):
    """The one line that says how the methods were set up."""
    iterations = args.catboost_iterations or "its default 1,000"
    slow = f"the first {args.slow_folds} folds" if args.slow_folds else "every fold"
    return (f"{args.crops} crops per song (the MLP's only); MLP: "
            f"{args.mlp or 'train.py defaults'}; CatBoost at {iterations} iterations, on {slow}; "
            f"{args.threads} CPU thread(s); torch {torch.__version__}")


def folds_line(folds, args):
    """Which folds a source's table is scored on, in words."""
    seeds = sorted(folds["fold_seed"].unique())
    made = f"read from {args.read_folds}" if args.read_folds else "drawn here"
    return (f"{folds['fold'].nunique()}-fold cross-validation x fold seeds "
            f"{[int(seed) for seed in seeds]} (stratified by genre, grouped by artist; {made})")


def write_markdown(path, argv, args, sections):
    """``sections`` ([(source, description, folds line, rows)]) as a Markdown page with the
    date, machine, command and folds."""
    command = shlex.join(["python", "-m", "bench.real_cv", *argv])
    lines = [f"Measured {datetime.date.today().isoformat()} on {machine()}.", "",
             f"Command: `{command}`", "", settings(args) + ".", ""]
    lines += [f"- {source}: {description}; {folds}" for source, description, folds, _ in sections]
    lines += ["", format_markdown([(source, rows) for source, _, _, rows in sections])]
    Path(path).write_text("\n".join(lines) + "\n")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    add_fold_options(parser)
    real_songs.add_learning_options(parser, "data/real_cv")
    add_method_options(parser)
    parser.add_argument("--out", type=Path, help="also write the tables as Markdown here "
                        "(for the docs' results page)%(default).0s")
    args = parser.parse_args(argv)
    check_fold_options(parser, args)
    real_songs.check_learning_options(parser, args)
    check_method_options(parser, args)
    if args.sources and args.labels:
        parser.error("--sources and --labels: give one of them")
    if not args.songs.is_dir():  # checked last: a bad value is named first without the data
        parser.error(f"--songs {args.songs}: no such folder (the real files are in "
                     "../shared/data; pass your own MSD folder)")
    return args


def add_data_options(parser):
    """The song files and their label runs."""
    parser.add_argument("--songs", type=Path, default=real_songs.SONGS,
                        help="MSD song files (a folder)")
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES),
                        help="the default label runs to measure (bench.real_songs.DEFAULT_RUNS: "
                        "tagtraum CD1, the Last.fm tags; default: both, or --labels)%(default).0s")
    parser.add_argument("--labels", nargs="+",
                        help="label sources instead, one run each (extract --labels values; a "
                        "run's source name is its first label source's file name)%(default).0s")
    parser.add_argument("--genre-names", metavar="TSV",
                        help="with --labels: extract --genre-names for every run")
    parser.add_argument("--train-only", nargs="*", default=list(real_songs.TRAIN_ONLY),
                        metavar="SOURCE", help="with --labels: label sources whose songs only "
                        "train, never scored (preprocess.py --train-only)")
    parser.add_argument("--mismatches", default=str(real_songs.MISMATCHES),
                        help="tracks to leave out (extract --mismatches); '' for none")


def add_fold_options(parser):
    parser.add_argument("--folds", type=int,
                        help=f"cross-validation folds (default: {FOLDS})%(default).0s")
    parser.add_argument("--repeats", type=int,
                        help=f"fold seeds 0..repeats-1 (default: {REPEATS})%(default).0s")
    files = parser.add_mutually_exclusive_group()
    files.add_argument("--write-folds", type=Path, metavar="CSV",
                       help="write the folds drawn (track_id, source, fold_seed, fold: each "
                       "scored song's test fold) to this file%(default).0s")
    files.add_argument("--read-folds", type=Path, metavar="CSV",
                       help="score on the folds of this file (a --write-folds file) instead of "
                       "drawing them; --folds and --repeats are then the file's%(default).0s")
    parser.add_argument("--slow-folds", type=int, default=SLOW_FOLDS,
                        help="the slow methods (CatBoost at its 1,000 iterations: 4-6 min a "
                        "fold on one thread) run on the first this many folds (5: fold seed "
                        "0's, every song tested once); 0: on all")


def check_fold_options(parser, args):
    """One-line parser errors for the fold options; reads a --read-folds file into
    ``args.fold_file``."""
    if args.read_folds and (args.folds or args.repeats):
        parser.error("--read-folds: the folds are the file's; leave out --folds and --repeats")
    args.folds, args.repeats = args.folds or FOLDS, args.repeats or REPEATS
    if args.folds < 2 or args.repeats < 1:
        parser.error("--folds must be at least 2, --repeats at least 1")
    if args.slow_folds == 1 or args.slow_folds < 0:
        parser.error("--slow-folds must be 0 (all) or at least 2 (a paired difference needs "
                     "two folds)")
    args.fold_file = None
    if args.read_folds:
        try:
            args.fold_file = read_folds(args.read_folds)
        except FoldsError as err:
            parser.error(f"--read-folds {err}")


def add_method_options(parser):
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=[name for name in METHODS if name not in EXPLORATORY],
                        help=f"methods to score ({DEFAULT!r} always runs: the reference; "
                        f"{', '.join(EXPLORATORY)} only when named)")
    parser.add_argument("--estimator", action="append", default=[],
                        metavar="MODULE:CALLABLE",
                        help="also score CALLABLE() of a module or of a FILE.py: an unfitted "
                        "scikit-learn classifier (learning from the songs without their crops "
                        "unless it has learns_from_crops = True); repeatable%(default).0s")
    parser.add_argument("--catboost-iterations", type=int,
                        help="CatBoost's trees (default: its own, 1,000, its learning rate set "
                        "by CatBoost to match)%(default).0s")
    parser.add_argument("--vote-trees-weight", type=float, default=0.5,
                        help="the trees' weight in the exploratory vote")
    parser.add_argument("--vote-trees-scored-rows-only", action="store_true",
                        help="the vote's trees learn from the rows that may be scored alone "
                        "(no crops, no weaker labels)")


def check_method_options(parser, args):
    """One-line parser errors for the method options; the methods to score, our default model
    first, in ``args.chosen``."""
    if not 0 <= args.vote_trees_weight <= 1:
        parser.error("--vote-trees-weight must be in [0, 1]")
    if args.catboost_iterations is not None and args.catboost_iterations < 1:
        parser.error("--catboost-iterations must be at least 1")
    args.chosen = [METHODS[name] for name in dict.fromkeys([DEFAULT, *args.methods])]
    for value in args.estimator:
        try:
            args.chosen.append(estimator_method(value))
        except ValueError as err:
            parser.error(f"--estimator {value}: {err}")


def runs(args):
    if args.sources:
        return tuple(SOURCES[name] for name in args.sources)
    return real_songs.runs_of(args.labels, args.genre_names, args.train_only)


def source_folds(run, table, args, written):
    """The folds ``run``'s table is scored on: the --read-folds file's, or drawn here (and, with
    --write-folds, added to the file with the folds ``written`` before them)."""
    if args.fold_file is not None:
        return folds_of(args.fold_file, run.source, table, args.read_folds)
    folds = make_folds(table, run.source, args.folds, range(args.repeats))
    if args.write_folds:
        written.append(folds)
        args.write_folds.parent.mkdir(parents=True, exist_ok=True)
        pd.concat(written, ignore_index=True).to_csv(args.write_folds, index=False)
        print(f"wrote the folds of {run.source} to {args.write_folds}")
    return folds


def measure(run, args, written):
    """(source, what its table holds, its folds, table rows) of ``run``, printed as they come."""
    table, seconds = real_songs.labelled_table(args.songs, run, args.mismatches or None,
                                               args.workdir / run.source, args.crops)
    names = f" named by {run.genre_names}" if run.genre_names else ""
    description = f"labels {run.labels}{names}: {real_songs.describe(table)}"
    print(f"\n{run.source}: {description} (extract {seconds:.1f} s)", flush=True)
    folds = source_folds(run, table, args, written)
    print(folds_line(folds, args), flush=True)
    n_folds = folds.groupby(["fold_seed", "fold"]).ngroups
    rows = table_rows(score_methods(args.chosen, args, table, folds), n_folds)
    print(format_text(rows), flush=True)
    return run.source, description, folds_line(folds, args), rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"songs: {args.songs}; mismatches left out: {args.mismatches or 'none'}; "
          f"{settings(args)}")
    written = []
    try:
        with threadpool_limits(limits=args.threads):
            sections = [measure(run, args, written) for run in runs(args)]
    except (FoldsError, tablefiles.TableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        write_markdown(args.out, argv, args, sections)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
