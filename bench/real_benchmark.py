"""The real benchmark: tagtraum-labelled MSD subset songs, the MLP beside the baselines.

Usage:
    python bench/real_benchmark.py [--shared-data ../shared/data] [--workdir data/real_benchmark]
    python bench/real_benchmark.py --hidden 1024 512 256 --dropout 0.5 --ensemble 5 \
        [--cv 5 [--repeats 3]]

Joins msd10k_songs.csv (song-level fields), msd10k_segment_means.csv (timbre and pitch means) and
the tagtraum CD1 majority genre into a SongCSV-style CSV, then preprocesses it, trains the MLP
(train.py's defaults unless given) and scores it on the artist-disjoint test split beside the
baselines, writing every step's output under --workdir. With --cv K it instead runs K-fold
cross-validation grouped by artist and stratified by genre (each fold is the test split once; a
validation split for early stopping is held out of the rest), as in ../shared/data/README.md.
Either way it also prints the trained MLP's test scores at other --prior-correction values: the
accuracy / macro-F1 trade-off that setting moves along.
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
from model import correct_prior, predict_proba, save_checkpoint  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
METHODS = ("model",) + tuple(evaluate.BASELINE_TITLES)
PRIOR_CORRECTIONS = (0.0, 0.2, 0.4, 0.6, 0.8)


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


def cv_splits(table, folds=5, seed=0, val_fraction=0.15):
    """Split columns of K-fold CV grouped by artist: each fold is the test rows once, and
    ``val_fraction`` of all rows (whole artists) is held out of the rest for early stopping."""
    if folds < 2:
        raise preprocess.PreprocessError(f"cross-validation needs at least 2 folds, not {folds}")
    # tune.folds_of takes the validation share of each fold's remaining rows, not of all rows.
    return tune.folds_of(table, folds, val_fraction / (1 - 1 / folds), seed)


def cross_validate(table, config, folds=5, seed=0, repeats=1):
    """Per fold, (report of ``evaluate.evaluate``, prior-correction sweep) with that fold as
    the test split; ``repeats`` times over, with fold seeds seed, seed+1, ..."""
    results = []
    for split in (split for repeat in range(repeats)
                  for split in cv_splits(table, folds, seed + repeat)):
        fold = table.assign(**{preprocess.SPLIT: split})
        checkpoint, _ = train.train_checkpoint(fold, config)
        results.append((evaluate.evaluate(checkpoint, fold, seed),
                        prior_sweep(checkpoint, fold)))
    return results


def prior_sweep(checkpoint, table):
    """{prior correction: test scores} of one trained checkpoint, at PRIOR_CORRECTIONS and its
    own: the trade-off between accuracy and macro-F1 that --prior-correction picks a point of,
    without training again."""
    features, labels = preprocess.split_arrays(table, "test", checkpoint["feature_names"],
                                               checkpoint["classes"])
    uncorrected = torch.from_numpy(predict_proba({**checkpoint, "prior_correction": 0.0},
                                                 features))
    corrections = sorted({*PRIOR_CORRECTIONS, checkpoint["prior_correction"]})
    return {correction: evaluate.scores(labels, correct_prior(
                uncorrected, checkpoint["class_prior"], correction).argmax(dim=1).numpy())
            for correction in corrections}


def format_sweep(sweeps, default):
    """One line per prior correction: mean accuracy / macro-F1 over the sweeps (folds)."""
    lines = [f"{'prior correction':<18}{'accuracy':>10}{'macro-F1':>10}"]
    for correction in sweeps[0]:
        values = [sweep[correction] for sweep in sweeps]
        mark = "  (default)" if correction == default else ""
        lines.append(f"{correction:<18.2f}{np.mean([v['accuracy'] for v in values]):>10.3f}"
                     f"{np.mean([v['macro_f1'] for v in values]):>10.3f}{mark}")
    return "\n".join(lines)


def format_cv(reports, model_title="MLP"):
    """Mean ± std over folds of each method's test scores."""
    width = max(24, len(model_title) + 2)
    lines = [f"{'method':<{width}}{'accuracy':>16}{'macro-F1':>16}{'balanced acc':>16}"]
    for method in METHODS:
        title = model_title if method == "model" else evaluate.BASELINE_TITLES[method]
        cells = []
        for metric in ("accuracy", "macro_f1", "balanced_accuracy"):
            values = [_scores(report, method)[metric] for report in reports]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        lines.append(f"{title:<{width}}" + "".join(f"{cell:>16}" for cell in cells))
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
    return evaluate.evaluate(checkpoint, table, seed), prior_sweep(checkpoint, table)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=SHARED_DATA,
                        help="folder of the real MSD material")
    parser.add_argument("--workdir", type=Path, default=Path("data/real_benchmark"),
                        help="where the CSVs and the run go (holdout mode)")
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="K-fold artist-grouped cross-validation instead of one split")
    parser.add_argument("--repeats", type=int, default=1,
                        help="with --cv: repeat it with this many fold seeds (less noise)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split(s) and the MLP")
    defaults = train.TrainConfig()
    parser.add_argument("--ensemble", type=int, default=defaults.ensemble, metavar="N",
                        help="train.py --ensemble: networks averaged into one MLP")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(defaults.hidden),
                        help="train.py --hidden")
    parser.add_argument("--dropout", type=float, default=defaults.dropout,
                        help="train.py --dropout")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch and scikit-learn")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    problem = option_problem(args)
    if not problem and not (args.shared_data / "msd10k_songs.csv").is_file():
        problem = f"real data not found in {args.shared_data}"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        return benchmark(args)


def option_problem(args):
    """What is wrong with the options, in one line, or None."""
    if args.cv == 1 or args.cv < 0:
        return "--cv needs at least 2 folds"
    if args.repeats < 1 or (args.repeats > 1 and not args.cv):
        return "--repeats needs --cv and must be at least 1"
    if args.ensemble < 1 or any(width < 1 for width in args.hidden):
        return "--ensemble and --hidden widths must be at least 1"
    if not 0 <= args.dropout < 1:
        return "--dropout must be in [0, 1)"
    return None


def benchmark(args):
    raw = build_songcsv(args.shared_data)
    config = train.TrainConfig(seed=args.seed, ensemble=args.ensemble,
                               hidden=tuple(args.hidden), dropout=args.dropout)
    title = f"MLP {'-'.join(map(str, config.hidden))}" + (
        f", ensemble of {args.ensemble}" if args.ensemble > 1 else "")
    print(f"{len(raw)} labelled songs with segment means")
    if args.cv:
        table = preprocess.preprocess(raw, seed=args.seed)
        started = time.perf_counter()
        reports, sweeps = zip(*cross_validate(table, config, args.cv, args.seed, args.repeats),
                              strict=True)
        repeated = f", {args.repeats} times (fold seeds {args.seed}..)" if args.repeats > 1 else ""
        print(f"{len(table)} songs, {table['genre'].nunique()} genres, {args.cv}-fold "
              f"cross-validation grouped by artist{repeated} "
              f"({time.perf_counter() - started:.0f} s); mean ± std over folds:")
        print(format_cv(reports, title))
    else:
        report, sweep = run_holdout(raw, args.workdir, config, args.seed)
        sweeps = [sweep]
        print(f"test split: {report['n_test']} songs (artist-disjoint from train)")
        print(evaluate.format_comparison(report, title))
    print(f"{title} with other prior corrections (the same trained networks):")
    print(format_sweep(sweeps, config.prior_correction))
    return 0


if __name__ == "__main__":
    sys.exit(main())
