"""The model card: train.py writes MODEL_CARD.md from the checkpoint's record, evaluate.py adds
the test scores with intervals from resampling artists, per genre, the confusion matrix and
calibration; the intervals and calibration are right."""
import re

import numpy as np
import pytest
from sklearn.metrics import log_loss
from songs import synthetic_songcsv
from threadpoolctl import threadpool_limits

import evaluate
import train
from genrelearn import cleaning, scoring, tablefiles
from genrelearn.classifier import GenreClassifier

FAST = ["--epochs", "10", "--hidden", "16", "8", "--ensemble", "2"]


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("card")
    cleaning.clean(synthetic_songcsv(n_songs=300)).to_csv(folder / "pre.csv", index=False)
    assert train.main(["--data", str(folder / "pre.csv"), "--out", str(folder / "run"),
                       *FAST]) == 0
    return folder


def sections(card):
    return re.findall(r"^## (.+)$", card, re.MULTILINE)


def test_train_writes_the_card_from_the_checkpoints_record(run):
    card = (run / "run" / "MODEL_CARD.md").read_text()
    assert sections(card) == ["Data", "Configuration", "Validation", "Code", "Limits"]
    assert card.startswith("# Model card: run\n")  # the run's name, not its temporary folder's
    classifier = GenreClassifier.load(run / "run" / "model.pt")
    table = classifier.provenance_["table"]
    assert f"`{table['path']}`, {table['rows']:,} rows" in card and "split seed 0" in card
    assert "synthetic 2" in card  # the label source and its songs
    for genre, count in classifier.metrics_["train_genres"].items():
        assert re.search(rf"^\| {genre} \| {count:,} \|", card, re.MULTILINE)
    assert "| hidden | (16, 8) |" in card and "| ensemble | 2 |" in card
    assert f"Accuracy {classifier.metrics_['val_accuracy']:.3f}" in card
    assert classifier.provenance_["code"]["python"] in card
    assert "producer" in card and "Test" not in sections(card)


def test_evaluate_adds_the_test_with_artist_intervals_once(run, capsys):
    for _ in range(2):  # a second evaluation replaces the first, never a second section
        assert evaluate.main(["--checkpoint", str(run / "run" / "model.pt"), "--data",
                              str(run / "pre.csv")]) == 0
    card = (run / "run" / "MODEL_CARD.md").read_text()
    assert sections(card)[-1].startswith("Test (evaluate.py")
    assert card.count("## Test") == 1 and card.startswith("# Model card: run")
    table = tablefiles.read_table(run / "pre.csv")
    test = table[table["split"] == "test"]
    assert f"{len(test):,} test songs of {test['artist_id'].nunique():,} artists" in card
    row = re.search(r"^\| MLP \(this model\) \| ([\d.]+) \[([\d.]+), ([\d.]+)\]", card,
                    re.MULTILINE)
    accuracy, low, high = map(float, row.groups())
    assert low <= accuracy <= high and high - low > 0
    for title in ("majority class", "logistic regression", "HistGradientBoosting", "log-loss",
                  "expected calibration error", "### Per genre", "### Confusion matrix"):
        assert title in card


def test_intervals_widen_when_an_artists_songs_go_together():
    """Songs of one artist are right or wrong together (a producer's sound): resampling the
    artists gives a wider interval than resampling the songs one by one would."""
    rng = np.random.default_rng(0)
    artists = np.arange(600) // 20
    right = rng.random(600) < rng.beta(2, 1, 30)[artists]  # each artist its own accuracy
    true = rng.integers(0, 3, 600)
    predicted = np.where(right, true, (true + 1) % 3)
    by_artist = scoring.artist_intervals(true, predicted, artists)
    by_song = scoring.artist_intervals(true, predicted, np.arange(600))
    point = scoring.scores(true, predicted)["accuracy"]
    assert by_artist["accuracy"][0] < point < by_artist["accuracy"][1]
    assert np.diff(by_artist["accuracy"]) > 1.5 * np.diff(by_song["accuracy"])


def test_calibration_matches_scikit_learn_and_a_perfect_forecast():
    rng = np.random.default_rng(1)
    true = rng.integers(0, 4, 400)
    probabilities = rng.dirichlet(np.ones(4), 400)
    found = scoring.calibration(true, probabilities, [0, 1, 2, 3])
    assert found["log_loss"] == pytest.approx(log_loss(true, probabilities, labels=[0, 1, 2, 3]))
    certain = np.eye(4)[true]
    assert scoring.calibration(true, certain, [0, 1, 2, 3])["expected_calibration_error"] == 0
