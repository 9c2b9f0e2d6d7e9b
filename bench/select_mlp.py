"""Choose the MLP's settings on training folds only: an Optuna search scored by cross-validation
inside the training rows of the real benchmark's folds, never on their test rows.

Usage:
    python -m bench.select_mlp [--trials 30] [--workdir data/select_mlp] [--labels SOURCE ...]
    python -m bench.select_mlp --sweep [CONFIG.json]    # the defaults at each prior correction

For each label source (as bench/real_cv.py: real song files -> extract -> clean), each of the
--folds outer folds (fold seed 0, the first of the benchmark's repeats) keeps its test rows
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

import torch
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from bench import real_songs
from genrelearn import scoring, splitting
from genrelearn.classifier import AUTO_CORRECTIONS, GenreClassifier
from genrelearn.options import as_json, as_parameters, read_parameters, suggest

FIXED = {"input_transform": "quantile", "optimizer": "adamw", "stop_on": "score", "ensemble": 5,
         "prior_correction": "auto"}
# The first trial: settings that did well in a first look at these inner folds.
START = {"hidden": "256-128-64", "lr": 0.001, "weight_decay": 0.01, "dropout": 0.36,
         "label_smoothing": 0.05, "class_weight_power": 0.78, "input_noise": 0.2}


def inner_folds(genres, artists, train_only, outer, inner):
    """(train rows, test rows) of --inner folds inside each outer fold's training rows
    (train-only rows train, never test)."""
    for rest, _ in splitting.fold_rows(genres, artists, train_only, outer, 0):
        for train, test in splitting.fold_rows(genres[rest], artists[rest], train_only[rest],
                                               inner, 0):
            yield rest[train], rest[test]


def learning_data(estimator, table):
    """(features, genres, artists, train-only mask) of the rows of ``table`` that ``estimator``
    learns from (scoring.training_table: the baselines without the crops)."""
    rows = scoring.training_table(estimator, table)
    return (*splitting.split_rows(rows), splitting.train_only_mask(rows))


def inner_scores(estimator, table, outer, inner):
    """Mean scores of ``estimator`` over the inner folds of ``table``."""
    features, genres, artists, train_only = learning_data(estimator, table)
    folds = list(inner_folds(genres, artists, train_only, outer, inner))
    return real_songs.fold_means(scoring.scored_folds(estimator, features, genres, artists,
                                                      folds, train_only))


def baseline_scores(tables, args):
    """{source: {baseline: scores}}, computed once and kept in WORKDIR/baselines.json."""
    path = args.workdir / "baselines.json"
    settings = {"outer": args.folds, "inner": args.inner,
                "runs": [list(run) for run in real_songs.runs_of(args.labels)],
                "weak_songs_in_every_fold": True}
    if path.exists() and json.loads(path.read_text())["settings"] == settings:
        return json.loads(path.read_text())["scores"]
    found = {source: {name: inner_scores(scoring.baselines(0)[name], table, args.folds,
                                         args.inner)
                      for name in ("logistic_regression", "hist_gradient_boosting")}
             for source, table in tables.items()}
    path.write_text(json.dumps({"settings": settings, "scores": found}, indent=2) + "\n")
    return found


def share_sweep(classifier, table, outer, inner):
    """{share: mean scores over the inner folds of ``table``} of ``classifier`` fitted once per
    fold and predicting with each fixed prior-correction share of AUTO_CORRECTIONS, and with the
    share each fit chose ("auto")."""
    features, genres, artists, train_only = learning_data(classifier, table)
    found = {share: [] for share in (*AUTO_CORRECTIONS, "auto")}
    for train, test in inner_folds(genres, artists, train_only, outer, inner):
        fitted = clone(classifier).fit(features.iloc[train], genres[train],
                                       groups=artists[train], train_only=train_only[train])
        found["auto"].append(scoring.scores(genres[test], fitted.predict(features.iloc[test])))
        for share in AUTO_CORRECTIONS:
            fitted.prior_correction_ = share  # the fitted networks, another correction
            found[share].append(scoring.scores(genres[test], fitted.predict(features.iloc[test])))
    return {share: real_songs.fold_means(rows) for share, rows in found.items()}


def print_sweep(classifier, tables, baselines, args):
    """Inner-CV accuracy and macro-F1 at each prior-correction share, beside the best
    baseline's: where the MLP's trade-off between the two passes the baselines."""
    print(f"prior-correction sweep (inner CV) of {classifier.get_params()}")
    for source, table in tables.items():
        best = {metric: max(scores[metric] for scores in baselines[source].values())
                for metric in ("accuracy", "macro_f1")}
        print(f"{source}: best baseline accuracy {best['accuracy']:.3f}, macro-F1 "
              f"{best['macro_f1']:.3f}")
        for share, found in share_sweep(classifier, table, args.folds, args.inner).items():
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
                        "real_cv's two runs)%(default).0s")
    parser.add_argument("--folds", type=int, default=5, help="outer folds (fold seed 0)")
    parser.add_argument("--inner", type=int, default=3, help="inner folds per outer fold")
    parser.add_argument("--crops", type=int, default=real_songs.CROPS,
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
    tables = {}
    for run in real_songs.runs_of(args.labels):
        tables[run.source], _ = real_songs.labelled_table(
            real_songs.SONGS, run, real_songs.MISMATCHES, args.workdir / run.source, args.crops)
    with threadpool_limits(limits=1):
        baselines = baseline_scores(tables, args)
    if args.sweep is not None:
        print_sweep(GenreClassifier(**(read_parameters(args.sweep) if args.sweep else {})),
                    tables, baselines, args)
        return 0
    study = optuna.create_study(study_name="select", storage=f"sqlite:///{args.workdir}/select.db",
                                sampler=optuna.samplers.TPESampler(seed=0), direction="maximize",
                                load_if_exists=True)

    def objective(trial):
        classifier = GenreClassifier(**FIXED, **suggest(trial))
        found = {source: inner_scores(classifier, table, args.folds, args.inner)
                 for source, table in tables.items()}
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
    config = as_json({**FIXED, **as_parameters(trials[0].params)})
    (args.workdir / "best.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {args.workdir / 'best.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
