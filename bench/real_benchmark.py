"""The real benchmark: tagtraum-labelled MSD subset songs, the MLP beside the baselines.

Usage:
    python bench/real_benchmark.py [--shared-data ../shared/data] [--workdir data/real_benchmark]
    python bench/real_benchmark.py --cv 5

Joins msd10k_songs.csv (song-level fields), msd10k_segment_means.csv (timbre and pitch means) and
the tagtraum CD1 majority genre into a SongCSV-style CSV, then preprocesses it, trains the MLP
with train.py's defaults and scores it on the artist-disjoint test split beside the baselines,
writing every step's output under --workdir. With --cv K it instead runs K-fold cross-validation
grouped by artist and stratified by genre (each fold is the test split once; a validation split
for early stopping is held out of the rest), as in ../shared/data/README.md.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

# bench/ holds scripts; the project's modules live one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evaluate  # noqa: E402
import preprocess  # noqa: E402
import train  # noqa: E402
import tune  # noqa: E402
from dataset import features  # noqa: E402
from model import save_checkpoint  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
METHODS = ("model",) + tuple(evaluate.BASELINE_TITLES)


def read_tagtraum(path):
    """The tagtraum CD1 majority genre per track: DataFrame (track_id, genre)."""
    return pd.read_csv(path, sep="\t", comment="#", header=None, usecols=[0, 1],
                       names=["track_id", "genre"], dtype="string")


def build_songcsv(shared_data=SHARED_DATA):
    """Labelled subset songs with segment means, as a SongCSV-style DataFrame (1,136 rows)."""
    songs = pd.read_csv(shared_data / "msd10k_songs.csv", dtype={"track_id": "string"},
                        low_memory=False)
    songs = songs[[name for name in features.columns(segments=False) if name in songs.columns]]
    songs["year"] = songs["year"].where(songs["year"] > 0)  # 0 is unknown: empty in SongCSV
    means = pd.read_csv(shared_data / "msd10k_segment_means.csv").drop(columns="song_id")
    genres = read_tagtraum(shared_data / "tagtraum" / "msd_tagtraum_cd1.cls")
    table = songs.merge(means, on="track_id").merge(genres, on="track_id")
    return table.assign(genre_source="tagtraum_cd1")


def cross_validate(table, config, folds=5, val_fraction=0.15, seed=0):
    """Per fold, the report of ``evaluate.evaluate`` with that fold as the test split."""
    reports = []
    # tune.folds_of takes the validation share of each fold's remaining rows, not of all rows.
    for split in tune.folds_of(table, folds, val_fraction / (1 - 1 / folds), seed):
        fold = table.assign(**{preprocess.SPLIT: split})
        checkpoint, _ = train.train_checkpoint(fold, config)
        reports.append(evaluate.evaluate(checkpoint, fold, seed))
    return reports


def format_cv(reports):
    lines = [f"{'method':<24}{'accuracy':>16}{'macro-F1':>16}{'balanced acc':>16}"]
    for method in METHODS:
        title = "MLP" if method == "model" else evaluate.BASELINE_TITLES[method]
        cells = []
        for metric in ("accuracy", "macro_f1", "balanced_accuracy"):
            values = [_scores(report, method)[metric] for report in reports]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        lines.append(f"{title:<24}" + "".join(f"{cell:>16}" for cell in cells))
    return "\n".join(lines)


def _scores(report, method):
    return report["model"] if method == "model" else report["baselines"][method]


def run_holdout(raw, workdir, config, seed):
    """preprocess -> train -> evaluate on one split, writing each step's output to ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    with preprocess.atomic_output(workdir / "SongCSV.csv") as temporary:
        raw.to_csv(temporary, index=False)
    table = preprocess.preprocess(raw, seed=seed)
    with preprocess.atomic_output(workdir / "preprocessed_data.csv") as temporary:
        table.to_csv(temporary, index=False)
    print(preprocess.split_counts(table).to_string())
    started = time.perf_counter()
    checkpoint, history = train.train_checkpoint(table, config)
    seconds = time.perf_counter() - started
    save_checkpoint(workdir / "run" / "model.pt", checkpoint)
    train.write_history(workdir / "run" / "history.csv", history)
    metrics = checkpoint["metrics"]
    print(f"MLP: best epoch(s) {', '.join(map(str, metrics['best_epochs']))} of "
          f"{metrics['epochs_run']} run, "
          f"{seconds:.1f} s to train; files in {workdir}")
    return evaluate.evaluate(checkpoint, table, seed)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=SHARED_DATA,
                        help="folder of the real MSD material")
    parser.add_argument("--workdir", type=Path, default=Path("data/real_benchmark"),
                        help="where the CSVs and the run go (holdout mode)")
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="K-fold artist-grouped cross-validation instead of one split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split(s) and the MLP")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch and scikit-learn")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not (args.shared_data / "msd10k_songs.csv").is_file():
        print(f"error: real data not found in {args.shared_data}", file=sys.stderr)
        return 2
    if args.cv == 1 or args.cv < 0:
        print("error: --cv needs at least 2 folds", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        return benchmark(args)


def benchmark(args):
    raw = build_songcsv(args.shared_data)
    config = train.TrainConfig(seed=args.seed)
    print(f"{len(raw)} labelled songs with segment means")
    if args.cv:
        table = preprocess.preprocess(raw, seed=args.seed)
        started = time.perf_counter()
        reports = cross_validate(table, config, args.cv, seed=args.seed)
        print(f"{len(table)} songs, {table['genre'].nunique()} genres, {args.cv}-fold "
              f"cross-validation grouped by artist ({time.perf_counter() - started:.0f} s); "
              "mean ± std over folds:")
        print(format_cv(reports))
        return 0
    report = run_holdout(raw, args.workdir, config, args.seed)
    print(f"test split: {report['n_test']} songs (artist-disjoint from train)")
    print(evaluate.format_comparison(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
