"""Score a trained MLP on the test split beside the baselines a user would reach for instead.

Usage:
    python evaluate.py --checkpoint runs/NAME/model.pt --data data/preprocessed_data.csv \
        [--json metrics.json] [--figure runs/NAME/confusion_matrix.png] [--stack]

Prints accuracy, macro-F1 and balanced accuracy of the MLP and of three baselines trained on the
same train split and features (majority class, logistic regression, HistGradientBoosting, both
class-balanced), the MLP's per-genre precision/recall/F1, and draws its confusion matrix. An
ensemble checkpoint (train.py --ensemble) is scored like any other. --stack adds a soft-voting
ensemble: the mean of the MLP's and HistGradientBoosting's genre probabilities.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model import CheckpointError, load_checkpoint, predict_proba
from preprocess import OutputError, PreprocessError, atomic_output, read_table, split_arrays

BASELINE_TITLES = {"majority": "majority class", "logistic_regression": "logistic regression",
                   "hist_gradient_boosting": "HistGradientBoosting"}
STACK_TITLE = "MLP + HGB soft vote"


def scores(true, predicted):
    """Accuracy, macro-F1 and balanced accuracy of genre indices, as scikit-learn defines them.

    Macro-F1 averages over genres present in either array, balanced accuracy over genres in
    ``true``. Computed from one confusion matrix: train.py calls this every epoch, where
    scikit-learn's three calls would cost more than the epoch's training steps.
    """
    true, predicted = np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    n_classes = int(max(true.max(initial=0), predicted.max(initial=0))) + 1
    confusion = np.bincount(true * n_classes + predicted, minlength=n_classes ** 2)
    confusion = confusion.reshape(n_classes, n_classes)
    hits, actual, guessed = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    present = (actual + guessed) > 0
    # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (actual + guessed); 0 for a genre never hit.
    f1 = 2 * hits[present] / (actual + guessed)[present]
    return {"accuracy": float(hits.sum() / max(len(true), 1)),
            "macro_f1": float(f1.mean()) if f1.size else 0.0,
            "balanced_accuracy": float((hits[actual > 0] / actual[actual > 0]).mean())
            if (actual > 0).any() else 0.0}


def make_baselines(seed=0):
    """Unfitted baselines by name; the linear and boosted ones weigh genres equally.

    Logistic regression imputes gaps with the train mean and standardises, as the MLP does;
    gradient boosting handles gaps itself.
    """
    return {
        "majority": DummyClassifier(strategy="most_frequent"),
        "logistic_regression": make_pipeline(
            SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
            LogisticRegression(class_weight="balanced", max_iter=5000)),
        "hist_gradient_boosting": HistGradientBoostingClassifier(class_weight="balanced",
                                                                 random_state=seed),
    }


def fit_baselines(features, labels, seed=0):
    """The baselines of ``make_baselines`` fitted on (features, labels)."""
    return {name: estimator.fit(features, labels)
            for name, estimator in make_baselines(seed).items()}


def soft_vote(*probabilities):
    """Genre indices of the mean of several (songs x genres) probability arrays."""
    return np.mean(probabilities, axis=0).argmax(axis=1)


def evaluate(checkpoint, table, seed=0, stack=False):
    """Test-split report of the checkpoint's MLP and of baselines fitted on the train split.

    Returns {"model", "baselines", "n_test", "classes", "per_genre", "confusion"}: scores
    dicts, scikit-learn's per-genre report dict and the MLP's confusion matrix (true x
    predicted); with ``stack``, also "stack": scores of the MLP + HistGradientBoosting soft vote.
    """
    feature_names, classes = checkpoint["feature_names"], checkpoint["classes"]
    train_x, train_y = split_arrays(table, "train", feature_names, classes)
    test_x, test_y = split_arrays(table, "test", feature_names, classes)
    if len(test_y) == 0:
        raise PreprocessError("no test rows (split == 'test')")
    probabilities = predict_proba(checkpoint, test_x)
    predicted = probabilities.argmax(axis=1)
    baselines = fit_baselines(train_x, train_y, seed)
    labels = list(range(len(classes)))
    report = {
        "model": scores(test_y, predicted),
        "baselines": {name: scores(test_y, estimator.predict(test_x))
                      for name, estimator in baselines.items()},
        "n_test": len(test_y),
        "classes": list(classes),
        "per_genre": classification_report(test_y, predicted, labels=labels,
                                           target_names=classes, zero_division=0,
                                           output_dict=True),
        "confusion": confusion_matrix(test_y, predicted, labels=labels),
    }
    if stack:
        # Train genres are exactly the checkpoint's classes, so the column orders agree.
        boosted = baselines["hist_gradient_boosting"].predict_proba(test_x)
        report["stack"] = scores(test_y, soft_vote(probabilities, boosted))
    return report


def format_comparison(report, model_title="MLP"):
    """The side-by-side table of the MLP and the baselines."""
    rows = [(model_title, report["model"])]
    if "stack" in report:
        rows.append((STACK_TITLE, report["stack"]))
    rows += [(BASELINE_TITLES[name], values) for name, values in report["baselines"].items()]
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


def json_summary(report):
    """The --json document: headline scores, test size and genre names."""
    return {key: report[key] for key in ("model", "stack", "baselines", "n_test", "classes")
            if key in report}


def pyplot():
    """matplotlib's pyplot, drawing to files only (the Agg backend)."""
    # Imported here: only the figures need matplotlib, and Agg must be chosen before pyplot.
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    return plt


def plot_confusion(path, report):
    plt = pyplot()
    counts = report["confusion"]
    recall = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2 + 0.6 * len(report["classes"])
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            axes.text(column, row, str(count), ha="center", va="center",
                      color="white" if recall[row, column] > 0.5 else "black", fontsize=8)
    ticks = range(len(report["classes"]))
    axes.set_xticks(ticks, report["classes"], rotation=45, ha="right")
    axes.set_yticks(ticks, report["classes"])
    axes.set(xlabel="predicted genre", ylabel="true genre",
             title=f"MLP on the test split ({report['n_test']} songs)")
    figure.colorbar(image, label="share of the true genre (recall)")
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoint", default="runs/main/model.pt", help="written by train.py")
    parser.add_argument("--data", default="data/preprocessed_data.csv",
                        help="the table the checkpoint was trained on (its test split is scored)")
    parser.add_argument("--json", help="also write the headline scores to this JSON file")
    parser.add_argument("--figure", help="confusion-matrix PNG "
                        "(default: confusion_matrix.png beside the checkpoint)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the baselines")
    parser.add_argument("--stack", action="store_true",
                        help="also score the soft vote of the MLP and HistGradientBoosting")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    figure = args.figure or Path(args.checkpoint).with_name("confusion_matrix.png")
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        report = evaluate(checkpoint, read_table(args.data), args.seed, args.stack)
        plot_confusion(figure, report)
        if args.json:
            with atomic_output(args.json) as temporary:
                temporary.write_text(json.dumps(json_summary(report), indent=2) + "\n")
    except (CheckpointError, PreprocessError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"test split of {args.data}: {report['n_test']} songs, {len(report['classes'])} genres; "
          "baselines fitted on the same train split and features")
    print(format_comparison(report))
    print()
    print("MLP per genre:")
    print(format_per_genre(report))
    print(f"wrote {figure}")
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
