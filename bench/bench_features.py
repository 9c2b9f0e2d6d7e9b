"""Benchmark: which segment feature families help genre classification on real songs.

Usage:
    python -m bench.bench_features [--data ../shared/data] [--models logistic_regression ...]
                                   [--ablation minus plus] [--labels cd1 lastfm]
                                   [--folds 5] [--seeds 3] [--jobs 1]

Runs the project's extract on the real song files of ``DATA/MillionSongSubset/data`` once per
label source (tagtraum CD1, and the Last.fm dataset's tags through the genre vocabulary), cleans
each SongCSV the way the project does (bench/real_songs.py's labelled_table: every song, no
crops, mismatched tracks kept), then cross-validates every model (the project's baselines,
scoring.baselines) on feature sets:
  - old: the song-level fields and the segment families SongCSV.csv had before families
    (timbre and pitch means and stds, segment loudness, event rates);
  - all: every family of dataset.features;
  - all - F (``--ablation minus``): every family but F, for each new family F;
  - old + F (``--ablation plus``): the old set and F.
Folds: scoring.cross_validated's (genre-stratified, artist-grouped), FOLDS folds for each of
SEEDS fold seeds. Prints per set accuracy, macro-F1 and balanced accuracy (mean ± std over
folds) and the paired difference to its reference (all for "all - F", old for the others) with
its standard error over folds. The folds of different seeds reuse the same songs, so these
errors are optimistic; read a difference under two of them as noise.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import joblib

from bench import SHARED_DATA, real_songs
from dataset import features
from genrelearn import scoring, tablefiles

LABEL_SOURCES = {"cd1": "tagtraum/msd_tagtraum_cd1.cls", "lastfm": "lastfm_subset"}
OLD_FAMILIES = ("timbre_stats", "pitch_stats", "segment_loudness", "event_rates")
MODELS = ("logistic_regression", "hist_gradient_boosting")  # of scoring.baselines


def training_table(data, source, workdir):
    """The cleaned table of every real song file labelled from ``source`` (extract, then
    cleaning.clean, as the real benchmark makes it)."""
    run = real_songs.Run(str(data / LABEL_SOURCES[source]), train_only=())
    table, _ = real_songs.labelled_table(data / "MillionSongSubset" / "data", run, None,
                                         workdir / source)
    return table


def feature_sets(names, ablation):
    """{set name: (feature columns, reference set name or None)} over the table's ``names``."""
    new = [family for family in features.FAMILIES if family not in OLD_FAMILIES]
    base = [family for family in dict.fromkeys(map(features.family_of, names))
            if family not in new]

    def columns(families):
        return [name for name in names if features.family_of(name) in families]

    sets = {"old": (columns(base), None), "all": (columns(base + new), "old")}
    if "plus" in ablation:
        sets.update({f"old + {family}": (columns(base + [family]), "old") for family in new})
    if "minus" in ablation:
        sets.update({f"all - {family}": (columns(base + [f for f in new if f != family]), "all")
                     for family in new})
    return sets


def with_features(table, columns):
    """``table`` with ``columns`` as its only feature columns (trace, label, split kept)."""
    others = set(tablefiles.feature_names_of(table)) - set(columns)
    return table[[name for name in table.columns if name not in others]]


def report_header(source, table):
    genres = table["genre"].value_counts()
    shares = ", ".join(f"{genre} {count / len(table):.0%}"
                       for genre, count in genres.head(3).items())
    print(f"\n## {source}: {len(table)} songs, {len(genres)} genres ({shares}, ...), "
          f"{table['artist_id'].nunique()} artists")


def run_source(data, source, workdir, args):
    table = training_table(data, source, workdir)
    report_header(source, table)
    sets = feature_sets(tablefiles.feature_names_of(table), args.ablation)
    for model_name in args.models:
        print(f"\n### {model_name} ({args.folds} folds x {args.seeds} seeds)\n")
        print("| features | columns | accuracy | macro-F1 | balanced accuracy "
              "| Δ accuracy ± se | Δ macro-F1 ± se | seconds |")
        print("|---|---|---|---|---|---|---|---|")
        results = {}
        for set_name, (columns, reference) in sets.items():
            started = time.perf_counter()
            # cross_validate's folds run in --jobs processes.
            with joblib.parallel_config(n_jobs=args.jobs):
                results[set_name] = scoring.cross_validated(
                    scoring.baselines(0)[model_name], with_features(table, columns),
                    n_folds=args.folds, seeds=range(args.seeds))
            cells = [f"{mean:.3f} ± {std:.3f}"
                     for mean, std in scoring.mean_scores(results[set_name]).values()]
            deltas = ["", ""]
            if reference is not None:
                deltas = ["{:+.3f} ± {:.3f}".format(*real_songs.paired(
                    results[set_name], results[reference], metric))
                          for metric in ("accuracy", "macro_f1")]
            print(f"| {set_name} | {len(columns)} | " + " | ".join(cells + deltas)
                  + f" | {time.perf_counter() - started:.0f} |", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA,
                        help="the shared real data folder (MillionSongSubset, tagtraum, ...)")
    parser.add_argument("--labels", nargs="+", choices=list(LABEL_SOURCES),
                        default=list(LABEL_SOURCES), help="label sources to run")
    parser.add_argument("--models", nargs="+", choices=list(scoring.BASELINE_TITLES),
                        default=list(MODELS), help="baselines (scoring.baselines) to score")
    parser.add_argument("--ablation", nargs="*", choices=("minus", "plus"),
                        default=["minus", "plus"],
                        help="besides old and all: all minus each new family, old plus each")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3, help="fold shuffles (0, 1, ...)")
    parser.add_argument("--jobs", type=int, default=1, help="folds fitted in parallel")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not (args.data / "MillionSongSubset" / "data").is_dir():
        print(f"error: no real song files under {args.data}/MillionSongSubset/data "
              "(--data names the shared data folder)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as workdir:
        for source in args.labels:
            run_source(args.data, source, Path(workdir), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
