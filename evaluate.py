"""Score a trained classifier on the test split beside the baselines a user would reach for instead.

Usage:
    python evaluate.py --checkpoint runs/NAME/model.pt --data data/preprocessed_data.csv \
        [--out runs/NAME/metrics.json] [--figure runs/NAME/confusion_matrix.png] [--soft-vote]

Prints accuracy, macro-F1 and balanced accuracy of the MLP and of three baselines fitted on the
same train split (without songs' crops, which lower their scores; at most --baseline-songs of
its songs, a sample, on a table of a million) and features (majority class,
logistic regression, HistGradientBoosting, both class-balanced), the MLP's per-genre
precision/recall/F1, and draws its confusion matrix. An ensemble checkpoint (train.py
--ensemble) is scored like any other. --soft-vote adds the mean of the MLP's and
HistGradientBoosting's genre probabilities as one more method. --data is the table the model
was trained on (its test split is scored): a table whose test songs the model learned from
(split with another seed, or another table of the same songs) is refused in one line, as is a
checkpoint that holds no record of its songs. --device cpu (the default) or cuda: where the MLP
predicts.
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "evaluation")

import json
import sys
from pathlib import Path

import torch
from sklearn.metrics import classification_report, confusion_matrix
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from dataset import cli
from dataset.outputs import OutputError, atomic_output
from genrelearn import (featurecolumns, modelcard, options, plots, scoring, splitting, summaries,
                        tablefiles)
from genrelearn.checkpoint import CheckpointError
from genrelearn.classifier import GenreClassifier

MODEL_TITLE = "MLP"
# Songs the baselines learn from at most: HistGradientBoosting on a million songs' train split
# (700,000 songs, 200 features) takes 12 minutes on a core; on 100,000, under two.
BASELINE_SONGS = 100_000
RESAMPLES = 1000  # of the test artists, for the model card's intervals
SOFT_VOTE_TITLE = "MLP + HGB soft vote"


def evaluate(classifier, table, baseline_seed=0, soft_vote=False, baseline_songs=BASELINE_SONGS):
    """Test-split report of ``classifier`` and of baselines fitted on the train split (at most
    ``baseline_songs`` of its songs, a sample stratified by genre; None: all).

    Returns {"model", "baselines", "n_test", "classes", "per_genre", "confusion",
    "baseline_train_songs", "train_songs", "intervals", "calibration", "test_artists",
    "resamples"}: scores of the MLP, scores of each baseline by name, scikit-learn's per-genre
    report dict, the MLP's confusion matrix (true x predicted genre), the songs the baselines
    learned from and the train split's songs, each method's 95 % intervals from resampling
    the test artists (scoring.artist_intervals), the MLP's calibration; with ``soft_vote``,
    also "soft_vote": the scores of the mean of the MLP's and HistGradientBoosting's
    probabilities.
    """
    names = list(classifier.feature_names_in_)
    baselines = scoring.baselines(baseline_seed)
    # Songs' crops (extract --crops) train the MLP only: the baselines score lower with them.
    train_x, train_y, _ = splitting.split_rows(
        scoring.training_table(baselines["logistic_regression"], table), "train")
    test_x, test_y, test_artists = splitting.split_rows(table, "test")
    if len(test_y) == 0:
        raise tablefiles.TableError("no test rows (split == 'test')")
    unknown = sorted(set(test_y) - set(classifier.classes_))
    if unknown:
        raise tablefiles.TableError("the test split has genres the model was not trained on: "
                                   + summaries.summarise(unknown))
    train_x = featurecolumns.numeric_features(train_x, names)
    test_x = featurecolumns.numeric_features(test_x, names)
    refuse_learned_songs(classifier, test_x)
    train_songs = len(train_y)
    if baseline_songs is not None and baseline_songs < train_songs:
        train_x, _, train_y, _ = train_test_split(train_x, train_y, train_size=baseline_songs,
                                                  stratify=train_y, random_state=baseline_seed)
    probabilities = classifier.predict_proba(test_x)
    predicted = classifier.classes_[probabilities.argmax(axis=1)]
    fitted = {}
    for name, estimator in baselines.items():
        # Boosted trees on a thousand songs take a while: say what is running.
        print(f"fitting {scoring.BASELINE_TITLES[name]} ...", file=sys.stderr, flush=True)
        fitted[name] = estimator.fit(train_x, train_y)
    classes = list(classifier.classes_)
    report = {"model": scoring.scores(test_y, predicted),
              "baselines": {name: scoring.scores(test_y, estimator.predict(test_x))
                            for name, estimator in fitted.items()},
              "n_test": len(test_y), "classes": classes,
              "baseline_train_songs": len(train_y), "train_songs": train_songs,
              "per_genre": classification_report(test_y, predicted, labels=classes,
                                                 zero_division=0, output_dict=True),
              "confusion": confusion_matrix(test_y, predicted, labels=classes)}
    predictions = {"model": predicted, **{name: estimator.predict(test_x)
                                          for name, estimator in fitted.items()}}
    if soft_vote:
        boosted = scoring.probabilities_by_genre(fitted["hist_gradient_boosting"], test_x, classes)
        predictions["soft_vote"] = classifier.classes_[(probabilities + boosted).argmax(axis=1)]
        report["soft_vote"] = scoring.scores(test_y, predictions["soft_vote"])
    report.update(
        intervals={name: scoring.artist_intervals(test_y, values, test_artists, RESAMPLES,
                                                  baseline_seed)
                   for name, values in predictions.items()},
        calibration=scoring.calibration(test_y, probabilities, classes),
        test_artists=len(set(test_artists)), resamples=RESAMPLES)
    return report


def refuse_learned_songs(classifier, test_features):
    """scoring.LeakError when the model learned from a test song (a table split otherwise than
    the one it trained on) or cannot tell which songs it learned from."""
    if classifier.learned_songs_ is None:
        raise scoring.LeakError("the checkpoint holds no record of the songs it learned from "
                                "(an older train.py wrote it): train it again to evaluate it")
    scoring.refuse_unscoreable(classifier, test_features)


def format_comparison(report):
    """The side-by-side table of the MLP and the baselines."""
    rows = [(MODEL_TITLE, report["model"])]
    if "soft_vote" in report:
        rows.append((SOFT_VOTE_TITLE, report["soft_vote"]))
    rows += [(scoring.BASELINE_TITLES[name], values)
             for name, values in report["baselines"].items()]
    width = max(24, *(len(title) + 2 for title, _ in rows))
    lines = [f"{'method':<{width}}{'accuracy':>10}{'macro-F1':>10}{'balanced acc':>14}"]
    for title, values in rows:
        lines.append(f"{title:<{width}}{values['accuracy']:>10.3f}{values['macro_f1']:>10.3f}"
                     f"{values['balanced_accuracy']:>14.3f}")
    return "\n".join(lines)


def format_per_genre(report):
    lines = [f"{'genre':<16}{'precision':>10}{'recall':>10}{'F1':>10}{'songs':>8}"]
    for genre in report["classes"]:
        row = report["per_genre"][genre]
        lines.append(f"{genre:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}"
                     f"{row['f1-score']:>10.3f}{int(row['support']):>8d}")
    return "\n".join(lines)


def baseline_rows(report):
    """Which train songs the baselines learned from, in words."""
    if report["baseline_train_songs"] == report["train_songs"]:
        return "the same train split"
    return (f"{report['baseline_train_songs']:,} of the train split's {report['train_songs']:,} "
            "songs (a sample stratified by genre: --baseline-songs)")


def trained_on(classifier, data):
    """What to do about a refused table, naming the table the model was trained on."""
    table = classifier.provenance_.get("table") or {}
    if not table:
        return ""
    seed = table.get("split_seed")
    return (f": it was trained on {table['path']}" + ("" if seed is None else
                                                       f" (split seed {seed})")
            + f"; evaluate it on that table, or train a model on {data}")


def build_parser():
    parser = cli.new_parser(__doc__)
    options.add_checkpoint_option(parser)
    cli.add_data_option(parser)
    parser.add_argument("--out", metavar="JSON",
                        help="also write the scores to this JSON file (metrics.json)")
    parser.add_argument("--figure", metavar="PNG", help="the confusion matrix "
                        "(default: confusion_matrix.png beside the checkpoint)")
    parser.add_argument("--baseline-seed", type=int, default=0,
                        help="seed of the baselines and of their sample of train songs")
    parser.add_argument("--baseline-songs", type=int, default=BASELINE_SONGS, metavar="SONGS",
                        help="the baselines learn from at most this many train songs (a sample "
                        "stratified by genre); 0: all of them")
    parser.add_argument("--soft-vote", action="store_true",
                        help="also score the mean probability of the MLP and HistGradientBoosting")
    options.add_threads_option(parser)
    options.add_device_option(parser)
    cli.add_renamed(parser, "--json", "--out")
    cli.add_renamed(parser, "--seed", "--baseline-seed")
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    options.check_threads(parser, args)
    options.check_device(parser, args)
    if args.baseline_songs < 0:
        parser.error("--baseline-songs must be 0 (all) or more")
    return args


def main(argv=None):
    args = parse_args(argv)
    figure = args.figure or Path(args.checkpoint).with_name("confusion_matrix.png")
    card = Path(args.checkpoint).with_name(modelcard.CARD)
    torch.set_num_threads(args.threads)
    try:
        classifier = GenreClassifier.load(args.checkpoint).predict_on(args.device)
        with threadpool_limits(args.threads):
            # What evaluate reads: the test songs, and the train songs the baselines learn from.
            table = tablefiles.read_table(args.data, splits=("train", "test"), crops=False)
            report = evaluate(classifier, table, args.baseline_seed, args.soft_vote,
                              args.baseline_songs or None)
        plots.confusion_matrix(figure, report["confusion"], report["classes"],
                               f"MLP on the test split ({report['n_test']} songs)")
        modelcard.write(card, classifier, report, args.data)
        if args.out:
            summary = {key: report[key] for key in ("model", "soft_vote", "baselines", "n_test",
                                                     "classes", "baseline_train_songs",
                                                     "train_songs") if key in report}
            with atomic_output(args.out) as temporary:
                temporary.write_text(json.dumps(summary, indent=2) + "\n")
    except scoring.LeakError as err:
        print(f"error: {args.checkpoint}: {err}{trained_on(classifier, args.data)}",
              file=sys.stderr)
        return 2
    except (CheckpointError, tablefiles.TableError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"test split of {args.data}: {report['n_test']} songs, {len(report['classes'])} genres; "
          f"baselines fitted on {baseline_rows(report)} and features")
    print(format_comparison(report))
    print()
    print("MLP per genre:")
    print(format_per_genre(report))
    print(f"wrote {figure}, {card} (its test section: 95 % intervals from resampling artists)")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def command():
    """The installed command, msd-evaluate: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "evaluation")


if __name__ == "__main__":
    sys.exit(command())
