"""The real-pipeline benchmark: real MSD song files -> extract -> preprocess -> the MLP beside the
baselines, in repeated artist-grouped, genre-stratified cross-validation.

Usage:
    python -m bench.real_benchmark [--songs FOLDER] [--labels SOURCE ...] [--genre-names TSV] \
        [--train-only SOURCE ...] [--mismatches FILE] [--crops 4] [--folds 5] [--repeats 3] \
        [--config mlp.json] [--workdir data/real_benchmark]

For each label source it runs what a user runs: ``python -m dataset.extract SONGS --labels
SOURCE --genre-names TSV --mismatches FILE --crops N`` (SongCSV.csv under --workdir), then
preprocess's cleaning (songs labelled by a --train-only source, and the other songs' crops,
train in every fold, except their test artists', and are never scored), then scores
the MLP (train.py's defaults, or a --config JSON of GenreClassifier parameters) and the baselines
(majority class, class-balanced logistic regression and HistGradientBoosting, which learn
without the crops: they score lower with them) on the same folds:
--folds folds stratified by genre and grouped by artist, once per fold seed 0..--repeats-1.
Prints accuracy, macro-F1 and balanced accuracy as mean ± std over the folds, and the paired
difference MLP - best baseline with its standard error (std of the per-fold differences /
sqrt(folds)). Defaults: the real files in ../shared/data without the listed mismatched tracks,
in two runs (DEFAULT_RUNS): labelled by tagtraum CD1, with the songs CD1 does not list labelled
by the Last.fm tags, then the Echo Nest terms, in CD1's genres (dataset/tagtraum_genre_names.tsv)
as training-only labels; and labelled by the Last.fm tags, with the Echo Nest terms as
training-only labels of the songs Last.fm does not label. --labels replaces them with one run
per value, each with --genre-names and --train-only.
"""
import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import scoring
import songtable
import tablefiles
from bench import SHARED_DATA
from classifier import GenreClassifier
from dataset import extract
from dataset.genres import TAGTRAUM_NAMES
from options import add_threads_option, check_threads, read_parameters

CD1 = SHARED_DATA / "tagtraum" / "msd_tagtraum_cd1.cls"
LASTFM_TAGS = SHARED_DATA / "lastfm_subset"
TRAIN_ONLY = ("echonest-terms", "musicbrainz-tags")
MLP_TITLE = "MLP"
CROPS = 4  # extract --crops: chosen on select_mlp's inner folds (README, "Crops")


class Run(NamedTuple):
    """One benchmark's labels: an extract --labels value, its --genre-names file (or None) and
    the label sources (genre_source patterns) whose songs only train."""
    labels: str
    genre_names: str | None = None
    train_only: tuple = TRAIN_ONLY


# Weaker labels train, never score: the Last.fm tags and Echo Nest terms of the songs CD1 does
# not list (in CD1's genres); the Echo Nest terms of the songs the Last.fm tags do not label.
DEFAULT_RUNS = (Run(f"{CD1},{LASTFM_TAGS},echonest-terms", str(TAGTRAUM_NAMES),
                    ("lastfm-dataset", "echonest-terms")),
                Run(f"{LASTFM_TAGS},echonest-terms", None, ("echonest-terms",)))


def labelled_table(songs, run, mismatches, workdir, crops=0, split=False):
    """extract (to workdir/SongCSV.csv) with ``run``'s labels and ``crops`` crops per song +
    preprocess's cleaning (songs of its training-only label sources, and crops, only ever
    train; every row in the train split unless ``split``); (table, extract seconds)."""
    out = workdir / "SongCSV.csv"
    command = [str(songs), "--labels", run.labels, "--out", str(out), "--quiet",
               "--crops", str(crops)]
    if run.genre_names:
        command += ["--genre-names", run.genre_names]
    if mismatches:
        command += ["--mismatches", str(mismatches)]
    started = time.perf_counter()
    if extract.main(command) != 0:
        raise SystemExit(f"error: extract failed: python -m dataset.extract {' '.join(command)}")
    seconds = time.perf_counter() - started
    table = songtable.clean(tablefiles.read(out), train_only=run.train_only,
                            split=songtable.Split() if split else None)
    return table, seconds


def runs_of(labels, genre_names=None, train_only=TRAIN_ONLY):
    """DEFAULT_RUNS when ``labels`` is None, else a Run of each --labels value."""
    if labels is None:
        return DEFAULT_RUNS
    return tuple(Run(value, genre_names, tuple(train_only)) for value in labels)


def workdir_name(run):
    """The folder under --workdir of a run's SongCSV.csv: its first label source's name."""
    return Path(run.labels.split(",")[0]).name.split(".")[0]


def methods(mlp_parameters, seed=0):
    """{title: unfitted estimator}: the MLP first, then the baselines."""
    found = {MLP_TITLE: GenreClassifier(**mlp_parameters)}
    found.update({scoring.BASELINE_TITLES[name]: estimator
                  for name, estimator in scoring.baselines(seed).items()})
    return found


def compare(estimators, table, folds, repeats):
    """{title: per-fold scores} of each estimator in scoring.cross_validated's ``folds`` folds
    of ``table`` (fold seeds 0..repeats-1): train-only rows train in every fold but their test
    artists', and are never scored; the songs' crops train the MLP only. The folds' test songs
    are the same for every estimator: the folds are made of the scored songs alone."""
    results = {}
    for title, estimator in estimators.items():
        started = time.perf_counter()
        results[title] = scoring.cross_validated(estimator, table, n_folds=folds,
                                                 seeds=range(repeats))
        print(f"  {title}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return results


def fold_means(results):
    """{metric: mean over the folds} of per-fold scores (scoring.cross_validated's list)."""
    return {metric: mean for metric, (mean, _) in scoring.mean_scores(results).items()}


def paired_difference(results, metric, title=MLP_TITLE):
    """(best baseline's title, mean of title - it per fold, standard error of that mean)."""
    baselines = {name: rows for name, rows in results.items() if name != title}
    best = max(baselines, key=lambda name: np.mean([row[metric] for row in baselines[name]]))
    return best, *paired(results[title], baselines[best], metric)


def paired(results, reference, metric):
    """(mean, standard error) of the per-fold difference ``results`` - ``reference`` (per-fold
    scores on the same folds) in ``metric``."""
    differences = np.array([mine[metric] - theirs[metric]
                            for mine, theirs in zip(results, reference, strict=True)])
    return differences.mean(), differences.std(ddof=1) / np.sqrt(len(differences))


def format_results(results):
    lines = [f"{'method':<24}" + "".join(f"{name:>18}" for name in
                                         ("accuracy", "macro-F1", "balanced acc"))]
    for title, rows in results.items():
        cells = [f"{mean:.3f} ± {std:.3f}" for mean, std in scoring.mean_scores(rows).values()]
        lines.append(f"{title:<24}" + "".join(f"{cell:>18}" for cell in cells))
    for metric in scoring.METRICS:
        best, mean, error = paired_difference(results, metric)
        lines.append(f"{MLP_TITLE} - {best} ({metric}): {mean:+.3f} ± {error:.3f} "
                     f"({'above' if mean > error else 'not above'} its standard error)")
    return "\n".join(lines)


def describe(table):
    crops = songtable.crop_mask(table).to_numpy()
    train_only = songtable.train_only_mask(table) & ~crops
    scored = table[~train_only & ~crops]
    genres = scored[songtable.LABEL].value_counts()
    return (f"{len(scored)} songs, {len(genres)} genres ({genres.index[0]} "
            f"{genres.iloc[0] / len(scored):.0%}), {scored['artist_id'].nunique()} artists, "
            f"{len(songtable.feature_names_of(table))} features"
            + (f"; {train_only.sum()} more songs with training-only labels" if train_only.any()
               else "")
            + (f"; {crops.sum()} crops of the scored songs (the MLP's only)" if crops.any()
               else ""))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    add_learning_options(parser)
    args = parser.parse_args(argv)
    check_data_options(parser, args)
    check_learning_options(parser, args)
    check_songs_folder(parser, args)
    return args


def add_data_options(parser):
    """--songs, --labels, --genre-names, --train-only, --mismatches, --folds and --repeats: the
    song files, their label runs and the folds, as the real-data benchmarks take them."""
    parser.add_argument("--songs", type=Path, default=SHARED_DATA / "MillionSongSubset" / "data",
                        help="MSD song files (a folder)")
    parser.add_argument("--labels", nargs="+",
                        help="label sources, one benchmark each (extract --labels values; "
                        "default: tagtraum CD1 and the Last.fm tags, each with training-only "
                        "weaker labels: DEFAULT_RUNS)%(default).0s")
    parser.add_argument("--genre-names", metavar="TSV",
                        help="with --labels: extract --genre-names for every run")
    parser.add_argument("--train-only", nargs="*", default=list(TRAIN_ONLY), metavar="SOURCE",
                        help="with --labels: label sources whose songs only train, never "
                        "scored (preprocess.py --train-only)")
    parser.add_argument("--mismatches", default=str(SHARED_DATA / "sid_mismatches.txt"),
                        help="tracks to leave out (extract --mismatches); '' for none")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--repeats", type=int, default=3, help="fold seeds 0..repeats-1")


def check_data_options(parser, args):
    """A one-line parser error for a bad value of add_data_options' options."""
    if args.folds < 2 or args.repeats < 1:
        parser.error("--folds must be at least 2, --repeats at least 1")


def check_songs_folder(parser, args):
    """A one-line parser error when --songs is no folder: checked after every option's value,
    so a bad value is named first even where the real files are absent (a fresh clone)."""
    if not args.songs.is_dir():
        parser.error(f"--songs {args.songs}: no such folder (the real files are in "
                     "../shared/data; pass your own MSD folder)")


def add_learning_options(parser):
    """--crops, --config, --workdir and --threads, as the real-data benchmarks take them."""
    parser.add_argument("--crops", type=int, default=CROPS,
                        help="extract --crops: rows cut from each song that train the MLP "
                        "(30 s windows; 0: none)")
    parser.add_argument("--config", help="JSON of GenreClassifier parameters for the MLP "
                        "(train.py --config format; default: train.py's defaults)%(default).0s")
    parser.add_argument("--workdir", type=Path, default=Path("data/real_benchmark"),
                        help="where the SongCSV.csv files go")
    add_threads_option(parser)


def check_learning_options(parser, args):
    """A one-line parser error for a bad value of add_learning_options' options; sets
    ``args.mlp`` to the --config parameters ({} without one)."""
    check_threads(parser, args)
    if args.crops < 0:
        parser.error("--crops must be at least 0")
    try:
        args.mlp = read_parameters(args.config) if args.config else {}
        GenreClassifier(**args.mlp).check_params()
    except ValueError as err:
        parser.error(str(err))


def labelled_tables(args, runs):
    """(run, labelled_table) of each of ``runs`` on the options of add_data_options and
    add_learning_options (each run's SongCSV.csv under --workdir), printing what each holds."""
    mismatches = args.mismatches or None
    for run in runs:
        table, seconds = labelled_table(args.songs, run, mismatches,
                                        args.workdir / workdir_name(run), args.crops)
        names = f" named by {run.genre_names}" if run.genre_names else ""
        print(f"\nlabels {run.labels}{names}: {describe(table)} (extract {seconds:.1f} s)",
              flush=True)
        yield run, table


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    mismatches = args.mismatches or None
    print(f"songs: {args.songs}; mismatches left out: {mismatches or 'none'}; "
          f"{args.folds}-fold cross-validation x {args.repeats} fold seeds (stratified by genre, "
          f"grouped by artist); MLP: {args.mlp or 'train.py defaults'}, with {args.crops} "
          "crops per song (extract --crops); torch "
          f"{torch.__version__}, {args.threads} CPU thread(s)")
    with threadpool_limits(limits=args.threads):
        for _, table in labelled_tables(args, runs_of(args.labels, args.genre_names,
                                                      args.train_only)):
            print(format_results(compare(methods(args.mlp), table, args.folds, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
