"""The default model beside the best tabular learners on the real song files, in the same
repeated artist-grouped, genre-stratified folds (issue 24's table).

Usage:
    python -m bench.real_cv [--sources cd1 lastfm | --labels SOURCE ...] [--methods NAME ...] \
        [--folds 5] [--repeats 3] [--threads 1] [--catboost-iterations 100] [--config mlp.json] \
        [--crops 4] [--workdir data/real_benchmark] [--out results.md]

Each label source's table is bench.real_benchmark's (extract with --crops crops per song,
preprocess's cleaning; the songs of training-only label sources, and crops, train in every fold
and are never scored), and every method is scored by scoring.cross_validated on the same folds:
StratifiedGroupKFold(--folds, shuffle=True, random_state=0..--repeats-1) over the scored songs,
grouped by artist. GenreClassifier learns from the crops; the other learners from the songs
alone (scoring.training_table). Methods (--methods): our default model (the reference, always
run), the MLP alone (its folds reused while it is the same estimator as the default), the
baselines HistGradientBoosting and logistic regression, and, when installed from
requirements-bench.txt, LightGBM (class_weight balanced), CatBoost (auto_class_weights Balanced,
--catboost-iterations trees, --threads threads) and pytabkit's RealMLP-TD (its tuned defaults,
after mean imputation with missing-value flags: it takes no NaN). Prints per source accuracy and
macro-F1 (mean ± std over the folds), the paired difference from our default model (mean ± SE
over the folds) and each method's wall time; --out writes the same as Markdown with the date,
the machine, the command and the fold seeds.
"""
import argparse
import datetime
import os
import platform
import shlex
import sys
import time
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

import scoring
from bench import cpu_name, real_benchmark
from classifier import GenreClassifier

DEFAULT = "default"
SOURCES = {"cd1": real_benchmark.DEFAULT_RUNS[0], "lastfm": real_benchmark.DEFAULT_RUNS[1]}
CATBOOST_ITERATIONS = 100  # 38 s a Last.fm fold on one thread (its own 1,000: 4-6 min)
SKIPPED = "skipped: not installed (pip install -r requirements-bench.txt)"
METRIC_TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}


class Method(NamedTuple):
    """A learner of the table: its title, a maker of it from the options, and the package it
    needs (None: always there)."""
    title: str
    make: Callable
    package: str | None = None


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
        self.classes_ = self.mlp_.classes_  # both order their columns by the sorted genres
        return self

    def predict_proba(self, X):
        trees = np.zeros((len(X), len(self.classes_)))  # genres the trees never saw: 0
        trees[:, np.searchsorted(self.classes_, self.trees_.classes_)] = (
            self.trees_.predict_proba(X))
        return (1 - self.trees_weight) * self.mlp_.predict_proba(X) + self.trees_weight * trees

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def baseline(name):
    """A maker of scoring.baselines' ``name``."""
    return lambda args: scoring.baselines(seed=0)[name]


# Our default model first: every other method is paired with it. A default that differs from
# the MLP alone (e.g. an MLP + trees soft vote) changes DEFAULT's maker only.
METHODS = {
    DEFAULT: Method("our default model", lambda args: GenreClassifier(**args.mlp)),
    "mlp": Method("MLP alone", lambda args: GenreClassifier(**args.mlp)),
    "hgb": Method(scoring.BASELINE_TITLES["hist_gradient_boosting"],
                  baseline("hist_gradient_boosting")),
    "logistic": Method(scoring.BASELINE_TITLES["logistic_regression"],
                       baseline("logistic_regression")),
    "lightgbm": Method("LightGBM", lightgbm, "lightgbm"),
    "catboost": Method("CatBoost", catboost, "catboost"),
    "realmlp": Method("RealMLP-TD", realmlp, "pytabkit"),
    "vote": Method("MLP + HGB soft vote", lambda args: MLPTreesVote(
        args.vote_trees_weight, args.vote_trees_scored_rows_only, args.mlp)),
}
EXPLORATORY = ("vote",)  # run when named in --methods only


def same_estimator(first, second):
    return type(first) is type(second) and first.get_params() == second.get_params()


def score_methods(names, args, table):
    """{title: (per-fold scores or None when not installed, wall seconds, note)} of the methods
    ``names`` (DEFAULT first) on ``table``, all in scoring.cross_validated's same folds."""
    found, default = {}, METHODS[DEFAULT].make(args)
    for name in names:
        method = METHODS[name]
        if method.package and find_spec(method.package) is None:
            found[method.title] = (None, 0.0, SKIPPED)
            continue
        estimator = method.make(args)
        if name != DEFAULT and same_estimator(estimator, default):
            found[method.title] = (*found[METHODS[DEFAULT].title][:2],
                                   "= default (same estimator)")
            continue
        started = time.perf_counter()
        results = real_benchmark.compare({method.title: estimator}, table, args.folds,
                                         args.repeats)[method.title]
        found[method.title] = (results, time.perf_counter() - started, "")
    return found


def table_rows(found):
    """Header and one row of cells per method: each metric's mean ± std over the folds, its
    paired difference from the first (default) method, mean ± SE, and the wall time."""
    reference = next(iter(found.values()))[0]
    header = ["method", *METRIC_TITLES.values(),
              *(f"{title} - default" for title in METRIC_TITLES.values()), "wall time"]
    rows = [header]
    for title, (results, seconds, note) in found.items():
        if results is None:
            rows.append([title, note] + [""] * (len(header) - 2))
            continue
        means = scoring.mean_scores(results)
        cells = [f"{means[metric][0]:.3f} ± {means[metric][1]:.3f}" for metric in METRIC_TITLES]
        for metric in METRIC_TITLES:
            mean, error = real_benchmark.paired(results, reference, metric)
            cells.append("—" if results is reference else f"{mean:+.3f} ± {error:.3f}")
        rows.append([title, *cells, note or f"{seconds:.0f} s"])
    return rows


def format_text(rows):
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def format_markdown(rows):
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)


def machine():
    return f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def settings(args):
    """The one line that says how the table was measured."""
    return (f"{args.folds}-fold cross-validation x fold seeds {list(range(args.repeats))} "
            f"(stratified by genre, grouped by artist); {args.crops} crops per song (the MLP's "
            f"only); MLP: {args.mlp or 'train.py defaults'}; CatBoost "
            f"{args.catboost_iterations} iterations; {args.threads} CPU thread(s); torch "
            f"{torch.__version__}")


def write_markdown(path, argv, args, sections):
    """``sections`` ([(heading, rows)]) as a Markdown page with the date, machine, command and
    folds."""
    command = shlex.join(["python", "-m", "bench.real_cv", *argv])
    lines = [f"Measured {datetime.date.today().isoformat()} on {machine()}.", "",
             f"Command: `{command}`", "", settings(args) + "."]
    for heading, rows in sections:
        lines += ["", f"### {heading}", "", format_markdown(rows)]
    Path(path).write_text("\n".join(lines) + "\n")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    real_benchmark.add_data_options(parser)
    real_benchmark.add_learning_options(parser)
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES),
                        help="the default label runs to measure (real_benchmark.DEFAULT_RUNS: "
                        "tagtraum CD1, the Last.fm tags; default: both, or --labels)%(default).0s")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=[name for name in METHODS if name not in EXPLORATORY],
                        help=f"methods to score ({DEFAULT!r} always runs: the reference; "
                        f"{', '.join(EXPLORATORY)} only when named)")
    parser.add_argument("--catboost-iterations", type=int, default=CATBOOST_ITERATIONS,
                        help="CatBoost's trees, its learning rate set by CatBoost to match (38 s a "
                        "Last.fm fold on one thread; its own 1,000 take 4-6 min)")
    parser.add_argument("--vote-trees-weight", type=float, default=0.5,
                        help="the trees' weight in the exploratory vote")
    parser.add_argument("--vote-trees-scored-rows-only", action="store_true",
                        help="the vote's trees learn from the rows that may be scored alone "
                        "(no crops, no weaker labels)")
    parser.add_argument("--out", type=Path, help="also write the tables as Markdown here "
                        "(for the docs' results page)%(default).0s")
    args = parser.parse_args(argv)
    real_benchmark.check_data_options(parser, args)
    real_benchmark.check_learning_options(parser, args)
    if args.sources and args.labels:
        parser.error("--sources and --labels: give one of them")
    if not 0 <= args.vote_trees_weight <= 1:
        parser.error("--vote-trees-weight must be in [0, 1]")
    if args.catboost_iterations < 1:
        parser.error("--catboost-iterations must be at least 1")
    real_benchmark.check_songs_folder(parser, args)
    return args


def runs(args):
    if args.sources:
        return tuple(SOURCES[name] for name in args.sources)
    return real_benchmark.runs_of(args.labels, args.genre_names, args.train_only)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [DEFAULT, *(name for name in args.methods if name != DEFAULT)]
    print(f"songs: {args.songs}; {settings(args)}")
    sections = []
    with threadpool_limits(limits=args.threads):
        for run, table in real_benchmark.labelled_tables(args, runs(args)):
            rows = table_rows(score_methods(names, args, table))
            print(format_text(rows), flush=True)
            sections.append((f"labels {run.labels}: {real_benchmark.describe(table)}", rows))
    if args.out:
        write_markdown(args.out, argv, args, sections)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
