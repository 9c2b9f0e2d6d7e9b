"""Benchmark: which segment feature families help genre classification on real songs.

Usage:
    python bench/bench_features.py [--data ../shared/data] [--models logistic_regression ...]
                                   [--ablation minus plus] [--labels cd1 lastfm]
                                   [--folds 5] [--seeds 3] [--jobs 1]

Runs the project's extract on the real song files of ``DATA/MillionSongSubset/data`` once per
label source (tagtraum CD1, and the Last.fm dataset's tags through the genre vocabulary), cleans
each SongCSV the way the project does, then cross-validates every model on feature sets:
  - old: the song-level fields and the segment families SongCSV.csv had before families
    (timbre and pitch means and stds, segment loudness, event rates);
  - all: every family of dataset.features;
  - all - F (``--ablation minus``): every family but F, for each new family F;
  - old + F (``--ablation plus``): the old set and F.
Folds: genre-stratified, artist-grouped (sklearn StratifiedGroupKFold, groups = artist_id),
FOLDS folds for each of SEEDS shuffles. Prints per set accuracy, macro-F1 and balanced accuracy
(mean ± std over folds) and the paired difference to its reference (all for "all - F", old for
the others) with its standard error over folds. The folds of different seeds reuse the same
songs, so these errors are optimistic; read a difference under two of them as noise.
"""
import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataset import features  # noqa: E402

# The project's cleaning step, in one place: it is moving from preprocess.py into a library
# module (songtable.clean) in the learning-core refactor; take whichever this checkout has.
try:
    from songtable import clean as clean_songs, read_csv  # noqa: E402
except ImportError:
    from preprocess import preprocess as clean_songs, read_csv  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
LABEL_SOURCES = {"cd1": "tagtraum/msd_tagtraum_cd1.cls", "lastfm": "lastfm_subset"}
OLD_FAMILIES = ("timbre_stats", "pitch_stats", "segment_loudness", "event_rates")
MISSING_SUFFIX = "_missing"  # preprocess.py's flag columns <name>_missing, where it makes them


# Unfitted models by name: class-balanced, as the project's baselines. One more estimator is
# one more entry (e.g. the MLP: lambda: model.GenreClassifier()).
MODELS = {
    "logistic_regression": lambda: make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=5000)),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(class_weight="balanced",
                                                                     random_state=0),
}
METRICS = {"accuracy": accuracy_score, "macro_f1": lambda t, p: f1_score(t, p, average="macro"),
           "balanced_accuracy": balanced_accuracy_score}


def extract_songs(data, source, out):
    """SongCSV.csv of every real song file labelled from ``source``, by the project's CLI."""
    command = [sys.executable, "-m", "dataset.extract", str(data / "MillionSongSubset" / "data"),
               "--labels", str(data / LABEL_SOURCES[source]), "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


def training_table(songcsv):
    """The cleaned table: one row per labelled song of a genre with enough songs."""
    return clean_songs(read_csv(songcsv))


def feature_sets(names, ablation):
    """{set name: (feature columns, reference set name or None)} over the table's ``names``."""
    by_family = {}
    for name in names:
        by_family.setdefault(features.family_of(name.removesuffix(MISSING_SUFFIX)), []).append(name)
    new = [family for family in features.FAMILIES if family not in OLD_FAMILIES]
    base = [family for family in by_family if family not in new]

    def columns(families):
        return [name for name in names
                if features.family_of(name.removesuffix(MISSING_SUFFIX)) in families]

    sets = {"old": (columns(base), None), "all": (columns(base + new), "old")}
    if "plus" in ablation:
        sets.update({f"old + {family}": (columns(base + [family]), "old") for family in new})
    if "minus" in ablation:
        sets.update({f"all - {family}": (columns(base + [f for f in new if f != family]), "all")
                     for family in new})
    return sets


def fold_scores(model, features_array, genres, artists, folds, seeds, jobs):
    """Per fold (seeds x folds), {metric: score} of ``model`` refitted on the other folds."""
    scoring = {name: _scorer(metric) for name, metric in METRICS.items()}
    rows = []
    for seed in range(seeds):
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # genres with fewer songs than folds
            found = cross_validate(model, features_array, genres, groups=artists, cv=splitter,
                                   scoring=scoring, n_jobs=jobs, error_score="raise")
        rows += [{name: found[f"test_{name}"][fold] for name in METRICS} for fold in range(folds)]
    return {name: np.array([row[name] for row in rows]) for name in METRICS}


def _scorer(metric):
    return lambda estimator, x, y: metric(y, estimator.predict(x))


def paired(scores, reference):
    """(mean, standard error) of the per-fold difference ``scores - reference``."""
    difference = scores - reference
    return difference.mean(), difference.std(ddof=1) / np.sqrt(len(difference))


def report_header(source, table):
    genres = table["genre"].value_counts()
    shares = ", ".join(f"{genre} {count / len(table):.0%}"
                       for genre, count in genres.head(3).items())
    print(f"\n## {source}: {len(table)} songs, {len(genres)} genres ({shares}, ...), "
          f"{table['artist_id'].nunique()} artists")


def run_source(data, source, workdir, args):
    songcsv = extract_songs(data, source, workdir / f"SongCSV_{source}.csv")
    table = training_table(songcsv)
    report_header(source, table)
    names = [name for name in table.columns
             if name not in ("track_id", "artist_id", "genre", "split")]
    genres, artists = table["genre"].to_numpy(), table["artist_id"].astype(str).to_numpy()
    sets = feature_sets(names, args.ablation)
    for model_name in args.models:
        print(f"\n### {model_name} ({args.folds} folds x {args.seeds} seeds)\n")
        print("| features | columns | accuracy | macro-F1 | balanced accuracy "
              "| Δ accuracy ± se | Δ macro-F1 ± se | seconds |")
        print("|---|---|---|---|---|---|---|---|")
        results = {}
        for set_name, (columns, reference) in sets.items():
            started = time.perf_counter()
            scores = fold_scores(MODELS[model_name](), table[columns].to_numpy(dtype=float),
                                 genres, artists, args.folds, args.seeds, args.jobs)
            results[set_name] = scores
            cells = [f"{scores[m].mean():.3f} ± {scores[m].std():.3f}" for m in METRICS]
            deltas = ["", ""]
            if reference is not None:
                deltas = ["{:+.3f} ± {:.3f}".format(*paired(scores[m], results[reference][m]))
                          for m in ("accuracy", "macro_f1")]
            print(f"| {set_name} | {len(columns)} | " + " | ".join(cells + deltas)
                  + f" | {time.perf_counter() - started:.0f} |", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the shared real data folder (MillionSongSubset, tagtraum, ...)")
    parser.add_argument("--labels", nargs="+", choices=list(LABEL_SOURCES),
                        default=list(LABEL_SOURCES), help="label sources to run")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
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
