"""Choose the MLP's settings on training folds only: an Optuna search scored by cross-validation
inside the training rows of the real benchmark's folds, never on their test rows.

Usage:
    python bench/select_mlp.py [--trials 30] [--workdir data/select_mlp] [--labels SOURCE ...]
    python bench/select_mlp.py --sweep [CONFIG.json]    # the defaults at each prior correction

For each label source (as bench/real_benchmark.py: real song files -> extract -> clean), each of
the --folds outer folds (fold seed 0, the first of the benchmark's repeats) keeps its test rows
aside; the --inner folds of its training rows (stratified by genre, grouped by artist) score
every candidate, so a choice never sees the outer test rows it is then measured on. The
baselines are scored the same way. A trial is a set of GenreClassifier parameters; its score,
maximised, is the smallest margin over the label sources of the MLP's inner-CV accuracy over the
best baseline's and its macro-F1 over the best baseline's (the MLP choosing its prior correction
on its own validation rows). The study is kept in WORKDIR/select.db (resumable);
the end prints the best trials and writes WORKDIR/best.json (train.py --config format).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

# bench/ holds scripts; the project's modules live one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import real_benchmark  # noqa: E402
import scoring  # noqa: E402
import songtable  # noqa: E402
from sklearn.base import clone  # noqa: E402

from model import AUTO_CORRECTIONS, GenreClassifier, read_parameters, suggest  # noqa: E402

FIXED = {"input_transform": "quantile", "optimizer": "adamw", "stop_on": "score", "ensemble": 5,
         "prior_correction": "auto"}
# The first trial: settings that did well in a first look at these inner folds.
START = {"hidden": "256-128-64", "lr": 0.001, "weight_decay": 0.01, "dropout": 0.36,
         "label_smoothing": 0.05, "class_weight_power": 0.78, "input_noise": 0.2,
         "batch_size": 32}


def propose(trial):
    """A candidate's GenreClassifier parameters (besides FIXED): model.SEARCH_SPACE."""
    return suggest(trial)


def inner_folds(genres, artists, train_only, outer, inner):
    """(train rows, test rows) of --inner folds inside each outer fold's training rows
    (train-only rows train, never test)."""
    for rest, _ in songtable.fold_rows(genres, artists, train_only, outer, 0):
        for train, test in songtable.fold_rows(genres[rest], artists[rest], train_only[rest],
                                               inner, 0):
            yield rest[train], rest[test]


def inner_scores(estimator, data, outer, inner):
    """Mean scores of ``estimator`` over the inner folds."""
    features, genres, artists, train_only = data
    found = []
    for train, test in inner_folds(genres, artists, train_only, outer, inner):
        fit = ({"groups": artists[train], "train_only": train_only[train]}
               if isinstance(estimator, GenreClassifier) else {})
        fitted = clone(estimator).fit(features.iloc[train], genres[train], **fit)
        found.append(scoring.scores(genres[test], fitted.predict(features.iloc[test])))
    return {metric: float(np.mean([row[metric] for row in found])) for metric in scoring.METRICS}


def baseline_scores(datasets, args):
    """{source: {baseline: scores}}, computed once and kept in WORKDIR/baselines.json."""
    path = args.workdir / "baselines.json"
    settings = {"outer": args.folds, "inner": args.inner,
                "runs": [list(run) for run in real_benchmark.runs_of(args.labels)],
                "weak_songs_in_every_fold": True}
    if path.exists() and json.loads(path.read_text())["settings"] == settings:
        return json.loads(path.read_text())["scores"]
    found = {source: {name: inner_scores(scoring.baselines(0)[name], data, args.folds,
                                         args.inner)
                      for name in ("logistic_regression", "hist_gradient_boosting")}
             for source, data in datasets.items()}
    path.write_text(json.dumps({"settings": settings, "scores": found}, indent=2) + "\n")
    return found


def share_sweep(classifier, data, outer, inner):
    """{share: mean scores over the inner folds} of ``classifier`` fitted once per fold and
    predicting with each fixed prior-correction share of AUTO_CORRECTIONS, and with the share
    each fit chose ("auto")."""
    features, genres, artists, train_only = data
    found = {share: [] for share in (*AUTO_CORRECTIONS, "auto")}
    for train, test in inner_folds(genres, artists, train_only, outer, inner):
        fitted = clone(classifier).fit(features.iloc[train], genres[train],
                                       groups=artists[train], train_only=train_only[train])
        found["auto"].append(scoring.scores(genres[test], fitted.predict(features.iloc[test])))
        for share in AUTO_CORRECTIONS:
            fitted.prior_correction_ = share  # the fitted networks, another correction
            found[share].append(scoring.scores(genres[test], fitted.predict(features.iloc[test])))
    return {share: {metric: float(np.mean([row[metric] for row in rows]))
                    for metric in scoring.METRICS} for share, rows in found.items()}


def print_sweep(classifier, datasets, baselines, args):
    """Inner-CV accuracy and macro-F1 at each prior-correction share, beside the best
    baseline's: where the MLP's trade-off between the two passes the baselines."""
    print(f"prior-correction sweep (inner CV) of {classifier.get_params()}")
    for source, data in datasets.items():
        best = {metric: max(scores[metric] for scores in baselines[source].values())
                for metric in ("accuracy", "macro_f1")}
        print(f"{source}: best baseline accuracy {best['accuracy']:.3f}, macro-F1 "
              f"{best['macro_f1']:.3f}")
        for share, found in share_sweep(classifier, data, args.folds, args.inner).items():
            print(f"  share {share!s:>4}: accuracy {found['accuracy']:.3f} "
                  f"({found['accuracy'] - best['accuracy']:+.3f})  macro-F1 "
                  f"{found['macro_f1']:.3f} ({found['macro_f1'] - best['macro_f1']:+.3f})",
                  flush=True)


def margin(mlp, baselines):
    """The smaller of the MLP's accuracy and macro-F1 margins over the best baseline's."""
    return min(mlp[metric] - max(scores[metric] for scores in baselines.values())
               for metric in ("accuracy", "macro_f1"))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--trials", type=int, default=30, help="trials in the whole search")
    parser.add_argument("--labels", nargs="+",
                        help="label sources (extract --labels values; default: "
                        "real_benchmark's two runs)%(default).0s")
    parser.add_argument("--folds", type=int, default=5, help="outer folds (fold seed 0)")
    parser.add_argument("--inner", type=int, default=3, help="inner folds per outer fold")
    parser.add_argument("--crops", type=int, default=real_benchmark.CROPS,
                        help="extract --crops: rows cut from each song that train the MLP only")
    parser.add_argument("--sweep", metavar="CONFIG", nargs="?", const="",
                        help="instead of searching: the inner-CV scores of train.py's defaults "
                             "(or a JSON CONFIG of parameters) at each prior-correction share")
    parser.add_argument("--workdir", type=Path, default=Path("data/select_mlp"),
                        help="extracted tables, baselines.json, select.db, best.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(1)
    args.workdir.mkdir(parents=True, exist_ok=True)
    datasets, song_datasets = {}, {}  # the MLP's rows; the baselines' (without crops)
    for run in real_benchmark.runs_of(args.labels):
        name = real_benchmark.workdir_name(run)
        table, _ = real_benchmark.labelled_table(
            real_benchmark.SHARED_DATA / "MillionSongSubset" / "data", run,
            real_benchmark.SHARED_DATA / "sid_mismatches.txt", args.workdir / name, args.crops)
        for found, rows in ((datasets, table), (song_datasets, songtable.without_crops(table))):
            found[name] = (*songtable.split_rows(rows), songtable.train_only_mask(rows))
    with threadpool_limits(limits=1):
        baselines = baseline_scores(song_datasets, args)
    if args.sweep is not None:
        print_sweep(GenreClassifier(**(read_parameters(args.sweep) if args.sweep else {})),
                    datasets, baselines, args)
        return 0
    study = optuna.create_study(study_name="select", storage=f"sqlite:///{args.workdir}/select.db",
                                sampler=optuna.samplers.TPESampler(seed=0), direction="maximize",
                                load_if_exists=True)

    def objective(trial):
        classifier = GenreClassifier(**FIXED, **propose(trial))
        found = {source: inner_scores(classifier, data, args.folds, args.inner)
                 for source, data in datasets.items()}
        trial.set_user_attr("scores", found)
        return min(margin(found[source], baselines[source]) for source in found)

    started = time.perf_counter()
    if not study.trials:
        study.enqueue_trial(START)
    done = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    study.optimize(objective, n_trials=max(args.trials - done, 0),
                   callbacks=[lambda study, trial: print(
                       f"trial {trial.number}: {trial.value:+.3f} {trial.params} "
                       f"{trial.user_attrs}", flush=True)])
    print(f"baselines (inner CV): {json.dumps(baselines)}")
    print(f"{args.trials} trials ({time.perf_counter() - started:.0f} s this run); best margins:")
    trials = sorted(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)),
                    key=lambda trial: -trial.value)
    for trial in trials[:5]:
        print(f"  {trial.value:+.3f} {trial.params} {trial.user_attrs['scores']}")
    config = {**FIXED, **propose(optuna.trial.FixedTrial(trials[0].params))}
    config["hidden"] = list(config["hidden"])
    (args.workdir / "best.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {args.workdir / 'best.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
