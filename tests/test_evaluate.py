"""evaluate.py: correct scores, the MLP beside the baselines, the JSON and the figure."""
import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from songs import synthetic_songcsv
from threadpoolctl import threadpool_limits

import evaluate
import train
from genrelearn import cleaning, scoring, tablefiles


@pytest.fixture(autouse=True)
def one_thread():
    """Gradient boosting's OpenMP threads crawl when the CI machine's two cores are busy."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    data = folder / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=400)).to_csv(data, index=False)
    assert train.main(["--data", str(data), "--out", str(folder / "run"), "--epochs", "30",
                       "--patience", "5"]) == 0
    return data, folder / "run" / "model.pt"


def test_scores_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    for _ in range(50):
        true = rng.integers(0, 6, 40)
        predicted = np.where(rng.random(40) < 0.5, true, rng.integers(0, 7, 40))
        got = scoring.scores(true, predicted)
        assert got["accuracy"] == pytest.approx(accuracy_score(true, predicted))
        assert got["macro_f1"] == pytest.approx(
            f1_score(true, predicted, average="macro", zero_division=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
            expected = balanced_accuracy_score(true, predicted)
        assert got["balanced_accuracy"] == pytest.approx(expected)
        names = np.array(["Jazz", "Pop_Rock", "Rap", "Soul", "Blues", "Latin", "Folk"])
        assert scoring.scores(names[true], names[predicted]) == pytest.approx(got)  # or names


def test_report_compares_mlp_with_baselines(trained, tmp_path, capsys):
    data, checkpoint = trained
    metrics = tmp_path / "metrics.json"
    figure = tmp_path / "confusion.png"
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data", str(data),
                          "--out", str(metrics), "--figure", str(figure), "--soft-vote"]) == 0
    printed = capsys.readouterr().out
    for title in ("MLP", "majority class", "logistic regression", "HistGradientBoosting",
                  evaluate.SOFT_VOTE_TITLE, "Pop_Rock", "precision"):
        assert title in printed
    assert figure.read_bytes()[:4] == b"\x89PNG"

    report = json.loads(metrics.read_text())
    assert set(report) == {"model", "soft_vote", "baselines", "n_test", "classes",
                           "baseline_train_songs", "train_songs"}
    assert set(report["baselines"]) == {"majority", "logistic_regression",
                                        "hist_gradient_boosting"}
    assert set(report["model"]) == {"accuracy", "macro_f1", "balanced_accuracy"}
    test = tablefiles.read_table(data).query("split == 'test'")
    assert report["n_test"] == len(test)
    assert report["classes"] == ["Jazz", "Pop_Rock", "Rap"]
    majority_share = test["genre"].value_counts(normalize=True)["Pop_Rock"]
    assert report["baselines"]["majority"]["accuracy"] == pytest.approx(majority_share)
    # Genres are separable in the synthetic timbre: every learner beats the majority class.
    assert report["model"]["macro_f1"] > report["baselines"]["majority"]["macro_f1"] + 0.3
    assert report["soft_vote"]["macro_f1"] > report["baselines"]["majority"]["macro_f1"] + 0.3


def test_baselines_learn_from_a_sample_of_a_large_train_split(trained, tmp_path, capsys):
    data, checkpoint = trained
    metrics = tmp_path / "metrics.json"
    train_songs = (tablefiles.read_table(data)["split"] == "train").sum()
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data", str(data), "--out",
                          str(metrics), "--baseline-songs", "120"]) == 0
    assert f"baselines fitted on 120 of the train split's {train_songs} songs" in (
        capsys.readouterr().out)
    report = json.loads(metrics.read_text())
    assert (report["baseline_train_songs"], report["train_songs"]) == (120, train_songs)
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data", str(data), "--out",
                          str(metrics), "--baseline-songs", "0"]) == 0
    assert "baselines fitted on the same train split" in capsys.readouterr().out
    assert json.loads(metrics.read_text())["baseline_train_songs"] == train_songs


def test_default_figure_goes_beside_the_checkpoint(trained, capsys):
    data, checkpoint = trained
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data", str(data)]) == 0
    assert (checkpoint.parent / "confusion_matrix.png").exists()


def test_bad_checkpoint_and_mismatched_data_exit_2(trained, tmp_path, capsys):
    data, checkpoint = trained
    assert evaluate.main(["--checkpoint", str(tmp_path / "none.pt"), "--data", str(data)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    not_a_checkpoint = tmp_path / "text.pt"
    not_a_checkpoint.write_text("hello")
    assert evaluate.main(["--checkpoint", str(not_a_checkpoint), "--data", str(data)]) == 2
    assert "not a checkpoint" in capsys.readouterr().err
    fewer = tmp_path / "fewer.csv"
    tablefiles.read_table(data).drop(columns="tempo").to_csv(fewer, index=False)
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data", str(fewer)]) == 2
    assert "missing feature columns: tempo" in capsys.readouterr().err
