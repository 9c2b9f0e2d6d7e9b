"""The real song files as the real-data benchmarks label them: the label runs, the training table
of a run (extract, then preprocess's cleaning), what it holds in one line, the options that name
the MLP they train, and the per-fold figures they print.

Used by bench.real_cv (the cross-validation benchmark), bench.learning_curve, bench.select_mlp,
bench.bench_features and bench.bench_train, so that each measures the same tables.
"""
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bench import SHARED_DATA
from dataset import extract
from dataset.genres import TAGTRAUM_NAMES
from genrelearn import cleaning, scoring, splitting, tablefiles
from genrelearn.classifier import GenreClassifier
from genrelearn.options import add_threads_option, check_threads, read_parameters

SONGS = SHARED_DATA / "MillionSongSubset" / "data"
MISMATCHES = SHARED_DATA / "sid_mismatches.txt"
CD1 = SHARED_DATA / "tagtraum" / "msd_tagtraum_cd1.cls"
LASTFM_TAGS = SHARED_DATA / "lastfm_subset"
TRAIN_ONLY = ("echonest-terms", "musicbrainz-tags")
CROPS = 4  # extract --crops: chosen on select_mlp's inner folds (docs/research-log.md, crops)


class Run(NamedTuple):
    """One benchmark's labels: an extract --labels value, its --genre-names file (or None), the
    label sources (genre_source patterns) whose songs only train, and a short name (None: the
    first label source's file name)."""
    labels: str
    genre_names: str | None = None
    train_only: tuple = TRAIN_ONLY
    name: str | None = None

    @property
    def source(self):
        """The run's short name: a fold file's ``source``, its folder under --workdir."""
        return self.name or Path(self.labels.split(",")[0]).name.split(".")[0]


# Weaker labels train, never score: the Last.fm tags and Echo Nest terms of the songs CD1 does
# not list (in CD1's genres); the Echo Nest terms of the songs the Last.fm tags do not label.
DEFAULT_RUNS = (Run(f"{CD1},{LASTFM_TAGS},echonest-terms", str(TAGTRAUM_NAMES),
                    ("lastfm-dataset", "echonest-terms"), "cd1"),
                Run(f"{LASTFM_TAGS},echonest-terms", None, ("echonest-terms",), "lastfm"))


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
    table = cleaning.clean(tablefiles.read(out), train_only=run.train_only,
                            split=cleaning.Split() if split else None)
    return table, seconds


def runs_of(labels, genre_names=None, train_only=TRAIN_ONLY):
    """DEFAULT_RUNS when ``labels`` is None, else a Run of each --labels value."""
    if labels is None:
        return DEFAULT_RUNS
    return tuple(Run(value, genre_names, tuple(train_only)) for value in labels)


def describe(table):
    """What a run's table holds, in one line: the scored songs, genres, artists, features, and
    the rows that only train."""
    crops = splitting.crop_mask(table).to_numpy()
    train_only = splitting.train_only_mask(table) & ~crops
    scored = table[~train_only & ~crops]
    genres = scored[tablefiles.LABEL].value_counts()
    return (f"{len(scored)} songs, {len(genres)} genres ({genres.index[0]} "
            f"{genres.iloc[0] / len(scored):.0%}), {scored['artist_id'].nunique()} artists, "
            f"{len(tablefiles.feature_names_of(table))} features"
            + (f"; {train_only.sum()} more songs with training-only labels" if train_only.any()
               else "")
            + (f"; {crops.sum()} crops of the scored songs (the MLP's only)" if crops.any()
               else ""))


def add_learning_options(parser, workdir):
    """--crops, --config, --workdir (default ``workdir``) and --threads, as the real-data
    benchmarks take them."""
    parser.add_argument("--crops", type=int, default=CROPS,
                        help="extract --crops: rows cut from each song that train the MLP "
                        "(30 s windows; 0: none)")
    parser.add_argument("--config", help="JSON of GenreClassifier parameters for the MLP "
                        "(train.py --config format; default: train.py's defaults)%(default).0s")
    parser.add_argument("--workdir", type=Path, default=Path(workdir),
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


def fold_means(results):
    """{metric: mean over the folds} of per-fold scores (scoring.scored_folds' list)."""
    return {metric: mean for metric, (mean, _) in scoring.mean_scores(results).items()}


def paired(results, reference, metric):
    """(mean, standard error) of the per-fold difference ``results`` - ``reference`` (per-fold
    scores on the same folds, in the same order) in ``metric``."""
    differences = np.array([mine[metric] - theirs[metric]
                            for mine, theirs in zip(results, reference, strict=True)])
    return differences.mean(), differences.std(ddof=1) / np.sqrt(len(differences))


def print_seconds(title, started):
    """``title``: the seconds since ``started``, on stderr (a long run's progress)."""
    print(f"  {title}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
