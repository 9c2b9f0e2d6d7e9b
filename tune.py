"""Search the classifier's parameters by artist-grouped cross-validation on the train+val rows.

Usage:
    python tune.py --data data/preprocessed_data.csv --trials 40 [--method random|grid|bayes] \
        --out runs/tune-NAME
    python train.py --config runs/tune-NAME/best.json --data data/preprocessed_data.csv

Needs Optuna (an optional extra: pip install -r requirements-tune.txt). Each trial draws
GenreClassifier parameters from options.SEARCH_SPACE (random sampling, a shuffled grid, or
Optuna's TPE for bayes) over the others' values (defaults < --config < the same options as
train.py's) and is scored by scoring.cross_validated over --folds folds of the train and val
rows, stratified by genre and grouped by artist (the test rows are never read; rows that may
only train, weaker labels and crops, are never scored); in each fold the classifier stops early
on artists held out of its training rows. --objective names the
mean scores it maximises (summed). Trials are kept in OUT/study.db (Optuna's SQLite storage) as they
end, so the same command continues a killed or interrupted search up to --trials. OUT/trials.csv
lists the finished trials and OUT/best.json, a --config file for train.py, holds the best one:
its searched values and the options given, so what they leave out (the batch size, auto by
default, and its learning-rate rule) train.py decides for the table it trains on.
Folds run one after another in this process (--threads torch threads, one by default): a small
MLP gains little from more threads, and worker processes would each take a terminal's Ctrl-C
for themselves.
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "the search")

import contextlib
import csv
import json
import sys
import time
from pathlib import Path

import torch

from dataset import cli
from dataset.errors import first_line
from dataset.outputs import OutputError, atomic_output, cannot_write
from genrelearn import options, scoring, tablefiles
from genrelearn.classifier import GenreClassifier
from genrelearn.options import SEARCH_SPACE, as_parameters, suggest

STUDY = "tune"
TRIAL_COLUMNS = ("trial", *SEARCH_SPACE,
                 *(f"{m}{s}" for m in scoring.METRICS for s in ("", "_std")), "scored_songs",
                 "seconds")


class TuneError(Exception):
    """A search that cannot run: Optuna missing, or a run folder of another search."""


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise TuneError("tune.py needs Optuna, an optional extra: "
                        "pip install -r requirements-tune.txt") from None
    # Quiet: a failed or interrupted trial would otherwise be logged with its traceback.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def sampler(optuna, method, seed):
    if method == "grid":
        return optuna.samplers.GridSampler({name: list(grid) for name, (grid, _, _)
                                            in SEARCH_SPACE.items()}, seed=seed)
    if method == "bayes":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def propose(trial, method):
    """The GenreClassifier parameters of an Optuna trial."""
    return suggest(trial, grid=method == "grid")


def open_study(optuna, out, method, seed, recorded):
    """The study in OUT/study.db, new or resumed; TuneError when OUT holds another search."""
    out.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name=STUDY, storage=f"sqlite:///{out / 'study.db'}",
                                sampler=sampler(optuna, method, seed), direction="maximize",
                                load_if_exists=True)
    settings = study.user_attrs.get("settings")
    if settings is None:
        study.set_user_attr("settings", recorded)
    elif settings != recorded:
        changed = sorted(key for key in recorded if settings.get(key) != recorded[key])
        raise TuneError(f"{out} holds a search with other settings ({', '.join(changed)}): "
                        "use another --out")
    return study


def objective_function(table, base, args):
    """Optuna's objective: the summed mean scores of --objective over the folds."""
    def objective(trial):
        interrupts.check()
        started = time.perf_counter()
        classifier = GenreClassifier(**{**base, **propose(trial, args.method)})
        folds = scoring.cross_validated(classifier, table, args.folds, seeds=(args.search_seed,))
        for metric, (mean, std) in scoring.mean_scores(folds).items():
            trial.set_user_attr(metric, mean)
            trial.set_user_attr(f"{metric}_std", std)
        trial.set_user_attr("scored_songs", int(sum(fold["songs"] for fold in folds)))
        trial.set_user_attr("seconds", time.perf_counter() - started)
        return sum(trial.user_attrs[metric] for metric in args.objective)
    return objective


def finished_trials(optuna, study):
    """Rows of the complete trials: number, parameters, mean scores and their stds, seconds."""
    return [{"trial": trial.number, **trial.params, **trial.user_attrs}
            for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))]


def write_results(out, rows, base, best_number):
    """OUT/trials.csv (every finished trial) and OUT/best.json (train.py --config)."""
    with atomic_output(out / "trials.csv") as temporary, open(temporary, "w",
                                                               newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=TRIAL_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    best = next(row for row in rows if row["trial"] == best_number)
    config = options.as_json({**base, **as_parameters({name: best[name]
                                                        for name in SEARCH_SPACE})})
    with atomic_output(out / "best.json") as temporary:
        temporary.write_text(json.dumps(config, indent=2) + "\n")


def format_progress(row, done, trials):
    """One line as each trial ends: a search of many trials shows it is moving."""
    return (f"trial {done}/{trials}: accuracy {row['accuracy']:.3f}, macro-F1 "
            f"{row['macro_f1']:.3f} over {row['scored_songs']} scored songs "
            f"({row['seconds']:.0f} s)")


def format_best(rows, best_first, shown=5):
    header = ("trial", "accuracy", "macro-F1", "± std", *SEARCH_SPACE)
    lines = ["  ".join(f"{title:>10}" for title in header)]
    for row in sorted(rows, key=best_first)[:shown]:
        cells = [str(row["trial"]), f"{row['accuracy']:.3f}", f"{row['macro_f1']:.3f}",
                 f"{row['macro_f1_std']:.3f}",
                 *(f"{row[name]:.3g}" if isinstance(row[name], float) else str(row[name])
                   for name in SEARCH_SPACE)]
        lines.append("  ".join(f"{cell:>10}" for cell in cells))
    return "\n".join(lines)


def build_parser():
    parser = cli.new_parser(__doc__)
    cli.add_data_option(parser)
    parser.add_argument("--trials", type=int, default=40, help="trials in the whole search")
    parser.add_argument("--method", choices=("random", "grid", "bayes"), default="random",
                        help="random sampling, a shuffled grid, or Optuna's TPE")
    cli.add_list_option(parser, "--objective", choices=scoring.METRICS, default=["macro_f1"],
                        metavar="METRIC", help="mean scores to maximise, summed when several: "
                        + ", ".join(scoring.METRICS))
    parser.add_argument("--out", type=Path, default=Path("runs/tune"), metavar="FOLDER",
                        help="the run folder: study.db, trials.csv, best.json")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds per trial")
    parser.add_argument("--search-seed", type=int, default=0,
                        help="seed of the folds and the proposals (--seed seeds the networks)")
    parser.add_argument("--show", type=int, default=5, metavar="TRIALS",
                        help="best trials shown at the end")
    options.add_threads_option(parser)
    options.add_parameter_options(parser)
    cli.add_renamed(parser, "--top", "--show")
    return parser


def parse_args(argv):
    """(script options, the GenreClassifier parameters the search starts from)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    options.check_threads(parser, args)
    for name in ("trials", "show"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    return args, options.chosen_parameters(parser, args)


def search(optuna, table, base, args):
    """Run the search's remaining trials, writing the results as each ends; (study, rows)."""
    study = open_study(optuna, args.out, args.method, args.search_seed, {
        "method": args.method, "objective": args.objective, "folds": args.folds,
        "search_seed": args.search_seed, "rows": len(table),
        "base": options.as_json(base), "space": list(SEARCH_SPACE)})
    objective = objective_function(table, base, args)
    remaining = args.trials - len(finished_trials(optuna, study))
    with interrupts.stop_on_interrupt():
        for _ in range(remaining):
            study.optimize(objective, n_trials=1)
            rows = finished_trials(optuna, study)
            write_results(args.out, rows, base, study.best_trial.number)
            print(format_progress(rows[-1], len(rows), args.trials), flush=True)
    return study, finished_trials(optuna, study)


@contextlib.contextmanager
def writing_study(optuna, out):
    """OutputError in one line when OUT or its study database cannot be written (a full disk,
    a read-only folder): Optuna's storage raises SQLAlchemy's errors for them."""
    from sqlalchemy import exc  # Optuna's storage layer, installed with it
    try:
        yield
    except OSError as err:
        raise cannot_write(out, err) from None
    except (exc.OperationalError, optuna.exceptions.StorageInternalError) as err:
        cause = err.orig if isinstance(err, exc.OperationalError) else err
        raise OutputError(f"{out / 'study.db'}: cannot write it: {first_line(cause)} (free "
                          "space or choose another --out)") from None


def main(argv=None):
    args, base = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        optuna = import_optuna()
        table = tablefiles.read_table(args.data)
        table = table[table[tablefiles.SPLIT] != "test"].reset_index(drop=True)
        started = time.perf_counter()
        with writing_study(optuna, args.out):
            study, rows = search(optuna, table, base, args)
    except (tablefiles.TableError, TuneError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are kept in {args.out / 'study.db'}; "
              "the same command resumes the search", file=sys.stderr)
        return 130
    scores = {row["trial"]: study.trials[row["trial"]].value for row in rows}
    print(f"{len(rows)} trials, {args.folds}-fold cross-validation grouped by artist on the "
          f"train+val rows ({time.perf_counter() - started:.0f} s this run); best by "
          f"{' + '.join(args.objective)}:")
    print(format_best(rows, lambda row: -scores[row["trial"]], args.show))
    print(f"wrote {args.out / 'trials.csv'} and {args.out / 'best.json'}: "
          f"python train.py --config {args.out / 'best.json'} --data {args.data}")
    return 0


def command():
    """The installed command, msd-tune: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "the search")


if __name__ == "__main__":
    sys.exit(command())
