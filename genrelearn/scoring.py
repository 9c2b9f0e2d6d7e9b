"""How the project scores genre predictions, and the baselines it scores the MLP against.

Usage:
    from genrelearn import scoring
    scoring.scores(true_genres, predicted_genres)    # {"accuracy", "macro_f1", "balanced_accuracy"}
    scoring.cross_validated(estimator, table, n_folds=5, seeds=(0, 1, 2))

``scores`` is the one scoring function: training's per-epoch validation, evaluate.py, tune.py
and the benchmarks all call it (``scorer`` wraps it for scikit-learn's cross_validate).
``cross_validated`` takes a whole training table, so the rows it scores are decided by the
table's own marks (splitting.learning_rows): weaker labels and crops train, never score.
"""
import inspect

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genrelearn import splitting

METRICS = ("accuracy", "macro_f1", "balanced_accuracy")
BASELINE_TITLES = {"majority": "majority class", "logistic_regression": "logistic regression",
                   "hist_gradient_boosting": "HistGradientBoosting"}


def scores(true, predicted):
    """Accuracy, macro-F1 and balanced accuracy of genre labels, as scikit-learn defines them.

    Macro-F1 averages over genres present in either array, balanced accuracy over genres in
    ``true``. Computed from one confusion matrix: training calls this every epoch, where
    scikit-learn's three calls would cost more than the epoch's training steps.
    """
    true, predicted = np.asarray(true), np.asarray(predicted)
    if true.dtype.kind not in "iu" or predicted.dtype.kind not in "iu":
        _, codes = np.unique(np.concatenate([true, predicted]).astype(str), return_inverse=True)
        true, predicted = codes[:len(true)], codes[len(true):]
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


class LeakError(ValueError):
    """Scoring rows that must not be scored: songs the model learned from, or rows that may only
    train (weaker labels, songs' crops)."""


def refuse_unscoreable(estimator, features):
    """LeakError when ``features`` hold a row that may only train (their split_rows index says
    so) or a song ``estimator`` learned from (GenreClassifier.learned_from)."""
    identity = splitting.row_identity(features)
    if identity is not None and identity[2].any():
        raise LeakError(f"{identity[2].sum()} of the {len(features)} rows to score may only "
                        "train (weaker labels or songs' crops): score the songs with the main "
                        "label only (splitting.ArtistFolds, split_rows of val or test)")
    learned = (estimator.learned_from(features) if hasattr(estimator, "learned_from")
               else None)
    if learned is not None and (learned != "").any():
        raise LeakError(learned_message(learned))


def learned_message(learned):
    """What ``learned_from``'s answer for the rows to score says, in words."""
    trained, validated = int((learned == "train").sum()), int((learned == "val").sum())
    return (f"the model learned from {trained + validated} of the {len(learned)} songs it "
            f"would be scored on ({trained} trained on, {validated} validated on)")


def artist_intervals(true, predicted, artists, resamples=1000, seed=0, level=0.95):
    """{metric: (low, high)}: the ``level`` percentile interval of each of ``scores`` over
    ``resamples`` resamples of the artists, with replacement, each bringing all its songs: songs
    of one artist share a producer and a sound, so the artist, not the song, is what varies."""
    codes, _ = pd.factorize(np.concatenate([np.asarray(true), np.asarray(predicted)]).astype(str))
    true, predicted = codes[:len(true)], codes[len(true):]
    n_classes = max(codes.max(initial=0) + 1, 1)
    groups, _ = pd.factorize(np.asarray(artists))
    per_artist = np.zeros((groups.max(initial=-1) + 1, n_classes ** 2))
    np.add.at(per_artist, (groups, true * n_classes + predicted), 1)
    rng = np.random.default_rng(seed)
    draws = np.stack([np.bincount(rng.integers(0, len(per_artist), len(per_artist)),
                                  minlength=len(per_artist)) for _ in range(resamples)])
    confusion = (draws @ per_artist).reshape(resamples, n_classes, n_classes)
    tail = (1 - level) / 2 * 100
    return {metric: tuple(np.percentile(values, [tail, 100 - tail]).tolist())
            for metric, values in _confusion_scores(confusion).items()}


def _confusion_scores(confusion):
    """``scores`` of each of a stack of confusion matrices (..., true, predicted)."""
    hits = np.diagonal(confusion, axis1=-2, axis2=-1)
    actual, guessed = confusion.sum(axis=-1), confusion.sum(axis=-2)
    present, seen = (actual + guessed) > 0, actual > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * hits / (actual + guessed), 0.0)
        recall = np.where(seen, hits / actual, 0.0)
    return {"accuracy": hits.sum(axis=-1) / np.maximum(confusion.sum(axis=(-2, -1)), 1),
            "macro_f1": f1.sum(axis=-1) / np.maximum(present.sum(axis=-1), 1),
            "balanced_accuracy": recall.sum(axis=-1) / np.maximum(seen.sum(axis=-1), 1)}


def calibration(true, probabilities, classes, bins=15):
    """{"log_loss", "expected_calibration_error"} of genre probabilities (songs x ``classes``):
    the mean negative log-probability of the true genre (clipped at 1e-15), and the mean gap
    between the top probability and how often it was right, over ``bins`` equal-width bins of
    that probability, weighted by their songs."""
    column = {genre: i for i, genre in enumerate(classes)}
    truth = np.array([column[genre] for genre in true])
    rows = np.arange(len(truth))
    log_loss = float(-np.log(np.clip(probabilities[rows, truth], 1e-15, 1)).mean())
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == truth
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = sum(abs(right[which == b].mean() - confidence[which == b].mean()) * (which == b).sum()
              for b in range(bins) if (which == b).any())
    return {"log_loss": log_loss, "expected_calibration_error": float(gap / len(truth))}


def probabilities_by_genre(estimator, features, classes):
    """``estimator``'s probabilities with a column per genre of ``classes``, matched by name
    (two models' columns can then be added: a soft vote); 0 for a genre it never saw."""
    found = estimator.predict_proba(features)
    aligned = np.zeros((len(found), len(classes)))
    column = {genre: i for i, genre in enumerate(classes)}
    for i, genre in enumerate(estimator.classes_):
        if genre in column:
            aligned[:, column[genre]] = found[:, i]
    return aligned


def scorer(estimator, features, genres):
    """``scores`` of a fitted estimator's predictions, in scikit-learn's scoring signature;
    LeakError for rows it must not be scored on (``refuse_unscoreable``)."""
    refuse_unscoreable(estimator, features)
    return scores(genres, estimator.predict(features))


def baselines(seed=0):
    """Unfitted baselines by name; the linear and boosted ones weigh genres equally.

    Logistic regression imputes gaps with the train mean, flags them, and standardises, as the
    MLP does; gradient boosting handles gaps itself.
    """
    return {
        "majority": DummyClassifier(strategy="most_frequent"),
        "logistic_regression": make_pipeline(
            SimpleImputer(strategy="mean", keep_empty_features=True, add_indicator=True),
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=5000)),
        "hist_gradient_boosting": HistGradientBoostingClassifier(class_weight="balanced",
                                                                 random_state=seed),
    }


def training_table(estimator, table):
    """The rows of ``table`` that ``estimator`` learns from: all of them for an estimator that
    learns from crops (GenreClassifier), the songs without their crops for the baselines (they
    score lower with them)."""
    return table if getattr(estimator, "learns_from_crops", False) else (
        splitting.without_crops(table))


def cross_validated(estimator, table, n_folds=5, seeds=(0,)):
    """Per fold, the ``scores`` of ``estimator`` refitted on the other folds (a list of dicts).

    Folds are the project's (``splitting.fold_rows``: genre-stratified, artist-grouped) over the
    rows of ``table`` that may be scored, once per seed in ``seeds``; the rows that may only
    train (weaker labels, crops) join the training rows as splitting.learning_rows rules.
    """
    rows = training_table(estimator, table)
    features, genres, artists = splitting.split_rows(rows)
    train_only = splitting.train_only_mask(rows)
    results = []
    for seed in seeds:
        results += scored_folds(estimator, features, genres, artists,
                                list(splitting.fold_rows(genres, artists, train_only, n_folds,
                                                         seed)), train_only)
    return results


def scored_folds(estimator, features, genres, artists, folds, train_only):
    """Per (train rows, test rows) of ``folds``, the ``scores`` of ``estimator`` fitted on the
    train rows and tested on the test rows, and the number of test ``songs``. An estimator whose
    fit takes ``groups`` and ``train_only`` (GenreClassifier) gets them too, so it holds out
    whole artists, never weaker labels, for early stopping."""
    takes = inspect.signature(estimator.fit).parameters
    params = {name: value for name, value in (("groups", artists), ("train_only", train_only))
              if name in takes}
    found = cross_validate(estimator, features, genres, groups=artists, cv=folds,
                           scoring=scorer, error_score="raise", params=params)
    return [{**{metric: found[f"test_{metric}"][fold] for metric in METRICS},
             "songs": len(folds[fold][1])} for fold in range(len(folds))]


def mean_scores(results):
    """{metric: (mean, std)} over the fold results of ``cross_validated``."""
    return {metric: (float(np.mean([row[metric] for row in results])),
                     float(np.std([row[metric] for row in results])))
            for metric in METRICS}
