"""The rows contract (splitting.learning_rows): rows that may only train, weaker labels and
songs' crops, train but are never held out, never validated, never scored; train-only rows of a
held-out artist do not train either. Cross-validation, fit's holdout and evaluate follow it."""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from songs import synthetic_songcsv

import evaluate
from genrelearn import cleaning, scoring, splitting, tablefiles
from genrelearn.classifier import GenreClassifier


class RecordingMajority(ClassifierMixin, BaseEstimator):
    """Predicts the most common genre, and remembers every row it was asked about."""
    seen = []

    def fit(self, X, y):
        values, counts = np.unique(y, return_counts=True)
        self.classes_, self.majority_ = values, values[counts.argmax()]
        RecordingMajority.seen.append(("fit", X["track_id_number"].to_numpy()))
        return self

    def predict(self, X):
        RecordingMajority.seen.append(("predict", X["track_id_number"].to_numpy()))
        return np.full(len(X), self.majority_)


@pytest.fixture(scope="module")
def table():
    """A training table with weaker-label songs and crops, each row numbered in a feature."""
    table = cleaning.clean(synthetic_songcsv(n_songs=300), split=None)
    weak = table.sample(40, random_state=0).assign(train_only=True, genre="Jazz")
    crops = table.sample(30, random_state=1).assign(train_only=True, crop=1)
    marked = pd.concat([table.assign(train_only=False, crop=0), weak, crops],
                       ignore_index=True)
    return marked.assign(track_id_number=np.arange(len(marked), dtype=float))


def test_the_rule_holds_out_only_rows_that_may_be_scored():
    train_only = np.array([False, False, True, True, False])
    artists = np.array(["a", "b", "a", "c", "c"])
    held = np.array([True, False, False, False, False])
    assert splitting.learning_rows(train_only, artists, held).tolist() == [
        False, True, False, True, True]  # artist a's weaker row goes with its held-out song
    with pytest.raises(tablefiles.TableError, match="cannot be held out"):
        splitting.learning_rows(train_only, artists, ~held)


def test_cross_validation_scores_only_rows_that_may_be_scored(table):
    RecordingMajority.seen.clear()
    folds = scoring.cross_validated(RecordingMajority(), table, n_folds=3, seeds=(0, 1))
    may_only_train = set(table.loc[splitting.train_only_mask(table), "track_id_number"])
    predicted = np.concatenate([rows for kind, rows in RecordingMajority.seen
                                if kind == "predict"])
    assert not may_only_train & set(predicted)
    assert sum(fold["songs"] for fold in folds) == 2 * (~splitting.train_only_mask(table)).sum()
    # A baseline learns from songs, never crops; the weaker-label songs do train it.
    trained = set(np.concatenate([rows for kind, rows in RecordingMajority.seen
                                  if kind == "fit"]))
    crops = set(table.loc[splitting.crop_mask(table), "track_id_number"])
    assert not crops & trained
    weaker = table["train_only"].astype(bool) & ~splitting.crop_mask(table)
    assert set(table.loc[weaker, "track_id_number"]) & trained


def test_fit_never_validates_on_rows_that_may_only_train(table):
    features, genres, artists = splitting.split_rows(table)
    train_only = splitting.train_only_mask(table)
    train, held = splitting.holdout_rows(np.unique(genres, return_inverse=True)[1], artists,
                                         train_only, 0.2, seed=0)
    assert not train_only[held].any() and len(held) > 0
    assert not set(artists[held]) & set(artists[train[train_only[train]]])
    classifier = GenreClassifier(epochs=2, hidden=(8,), ensemble=1, holdout_fraction=0.2).fit(
        features, genres, groups=artists, train_only=train_only)
    assert classifier.metrics_["n_val"] == len(held)


def test_evaluate_scores_only_test_songs():
    """A test-split row marked train-only (a hand-made table) is not scored."""
    table = cleaning.clean(synthetic_songcsv(n_songs=300))
    marked = table.assign(train_only=False)
    test = marked.index[marked["split"] == "test"]
    marked.loc[test[:5], "train_only"] = True
    _, genres, _ = splitting.split_rows(marked, "test")
    assert len(genres) == len(test) - 5
    classifier = GenreClassifier(epochs=2, hidden=(8,), ensemble=1).fit(
        *splitting.split_rows(marked, "train")[:2])
    assert evaluate.evaluate(classifier, marked)["n_test"] == len(test) - 5
