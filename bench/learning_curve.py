"""How each method's test scores grow with the number of training songs, on the real
benchmark's folds: does the MLP gain from more songs as the baselines do?

Usage:
    python -m bench.learning_curve [--shares 0.25 0.5 0.75 1] [--folds 5] [--fold-seed 0] \
        [--labels SOURCE ...] [--crops 4] [--config mlp.json] [--threads 1]

For each label source, the table of bench/real_cv.py (bench.real_songs: the same extract,
cleaning, runs and defaults) is cut into its --folds folds (fold seed --fold-seed; stratified by
genre, grouped by artist). In each fold every method learns from a random --shares share of the
fold's training artists (with their songs, training-only songs and crops; the same artists for
every method) and is scored on the fold's whole test rows, so only the amount of training data
changes between the columns. Prints, per share, the mean training songs and each method's mean
accuracy and macro-F1 over the folds.
"""
import argparse
import sys
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from bench import real_songs
from genrelearn import scoring, splitting
from genrelearn.classifier import GenreClassifier

SHARES = (0.25, 0.5, 0.75, 1.0)


def artist_shares(folds, artists, shares, seed):
    """{share: folds whose train rows keep a random ``share`` of their artists}. The artists kept
    depend only on the fold and the share, so tables with the same songs (with or without their
    crops) keep the same ones."""
    found = {share: [] for share in shares}
    for number, (train, test) in enumerate(folds):
        order = np.random.default_rng([seed, number]).permutation(np.unique(artists[train]))
        for share in shares:
            kept = order[:max(1, round(share * len(order)))]
            found[share].append((train[np.isin(artists[train], kept)], test))
    return found


def curve(estimator, table, shares, n_folds, seed):
    """{share: (mean training songs, mean scores over the folds)} of ``estimator`` on the rows
    of ``table`` it learns from (scoring.training_table)."""
    rows = scoring.training_table(estimator, table)
    features, genres, artists = splitting.split_rows(rows)
    train_only = splitting.train_only_mask(rows)
    songs = ~splitting.crop_mask(rows).to_numpy()
    folds = list(splitting.fold_rows(genres, artists, train_only, n_folds, seed))
    found = {}
    for share, cut in artist_shares(folds, artists, shares, seed).items():
        results = scoring.scored_folds(estimator, features, genres, artists, cut, train_only)
        found[share] = (np.mean([songs[train].sum() for train, _ in cut]),
                        real_songs.fold_means(results))
    return found


def methods(mlp_parameters):
    """{title: unfitted estimator}: the MLP, then the baselines that learn (not the majority
    class)."""
    baselines = scoring.baselines()
    return {"MLP": GenreClassifier(**mlp_parameters),
            **{scoring.BASELINE_TITLES[name]: baselines[name]
               for name in ("logistic_regression", "hist_gradient_boosting")}}


def format_curves(curves, shares):
    songs = next(iter(curves.values()))
    lines = [f"{'training artists':<24}" + "".join(f"{share:>8.0%}" for share in shares),
             f"{'training songs':<24}" + "".join(f"{songs[share][0]:>8.0f}" for share in shares)]
    for metric, name in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        lines.append(name)
        lines += [f"  {title:<22}" + "".join(f"{found[share][1][metric]:>8.3f}"
                                            for share in shares)
                  for title, found in curves.items()]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--shares", type=float, nargs="+", default=list(SHARES),
                        help="shares of each fold's training artists to learn from")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--fold-seed", type=int, default=0,
                        help="seed of the folds and of the artists kept")
    parser.add_argument("--labels", nargs="+",
                        help="label sources, one curve each (default: bench/real_cv.py's "
                        "two runs)%(default).0s")
    real_songs.add_learning_options(parser, "data/real_cv")
    args = parser.parse_args(argv)
    if not all(0 < share <= 1 for share in args.shares) or args.folds < 2:
        parser.error("--shares must be in (0, 1], --folds at least 2")
    real_songs.check_learning_options(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    shares = sorted(args.shares)
    print(f"{args.folds} folds (seed {args.fold_seed}); MLP: {args.mlp or 'train.py defaults'}, "
          f"{args.crops} crops per song; torch {torch.__version__}, {args.threads} CPU thread(s)")
    with threadpool_limits(limits=args.threads):
        for run in real_songs.runs_of(args.labels):
            table, _ = real_songs.labelled_table(real_songs.SONGS, run, real_songs.MISMATCHES,
                                                 args.workdir / run.source, args.crops)
            print(f"\nlabels {run.labels}: {real_songs.describe(table)}")
            curves = {}
            for title, estimator in methods(args.mlp).items():
                started = time.perf_counter()
                curves[title] = curve(estimator, table, shares, args.folds, args.fold_seed)
                real_songs.print_seconds(title, started)
            print(format_curves(curves, shares))
    return 0


if __name__ == "__main__":
    sys.exit(main())
