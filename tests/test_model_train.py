"""model.py and train.py: the network's shape, a self-contained checkpoint, reproducible runs."""
import csv

import numpy as np
import pytest
import torch

import model
import preprocess
import train
from evaluate import scores
from test_preprocess import load_real_benchmark, synthetic_songcsv

FAST = ["--epochs", "40", "--patience", "5", "--batch-size", "32"]


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pre.csv"
    preprocess.preprocess(synthetic_songcsv(n_songs=400)).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run(table_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    assert train.main(["--data", str(table_path), "--out", str(out), "--seed", "1"] + FAST) == 0
    return out


def test_default_network_is_four_linear_layers_sized_by_data():
    network = model.GenreMLP(n_features=7, n_classes=3)
    linear = [layer for layer in network.modules() if isinstance(layer, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linear] == [
        (7, 128), (128, 64), (64, 32), (32, 3)]
    assert not any(isinstance(layer, torch.nn.Dropout) for layer in network.modules())
    with_dropout = model.GenreMLP(7, 3, hidden=(16, 8, 4), dropout=0.3)
    assert sum(isinstance(layer, torch.nn.Dropout) for layer in with_dropout.modules()) == 3


def test_run_folder_has_checkpoint_history_and_curve(run, capsys):
    assert {path.name for path in run.iterdir()} == {"model.pt", "history.csv",
                                                     "learning_curve.png"}
    checkpoint = torch.load(run / "model.pt", weights_only=True)
    assert set(model.CHECKPOINT_KEYS) <= set(checkpoint)
    assert checkpoint["classes"] == ["Jazz", "Pop_Rock", "Rap"]
    assert "year_missing" in checkpoint["feature_names"]
    assert checkpoint["config"]["seed"] == 1 and checkpoint["config"]["batch_size"] == 32
    with open(run / "history.csv", newline="") as stream:
        history = list(csv.DictReader(stream))
    assert list(history[0]) == list(train.HISTORY_COLUMNS)
    assert all(float(row["seconds"]) > 0 for row in history)
    assert (run / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_keeps_best_epoch_and_learns(run, table_path):
    checkpoint = model.load_checkpoint(run / "model.pt")
    with open(run / "history.csv", newline="") as stream:
        history = list(csv.DictReader(stream))
    best = min(history, key=lambda row: float(row["val_loss"]))
    assert checkpoint["metrics"]["best_epochs"] == [int(best["epoch"])]
    assert len(history) <= int(best["epoch"]) + 5  # stopped by patience or the epoch cap

    table = preprocess.read_table(table_path)
    features, labels = preprocess.split_arrays(table, "val", checkpoint["feature_names"],
                                               checkpoint["classes"])
    predicted = model.predict_proba(checkpoint, features).argmax(axis=1)
    # The rebuilt model reproduces the best epoch's validation accuracy: its weights were kept.
    assert np.mean(predicted == labels) == pytest.approx(float(best["val_accuracy"]))
    assert np.mean(predicted == labels) > 0.8  # genres are separable in the synthetic timbre


def test_standardisation_ignores_test_rows(table_path, tmp_path):
    table = preprocess.read_table(table_path)
    shifted = table.copy()
    test = shifted["split"] == "test"
    shifted.loc[test, "tempo"] = 1e6
    first, _ = train.train_checkpoint(table, train.TrainConfig(epochs=2))
    second, _ = train.train_checkpoint(shifted, train.TrainConfig(epochs=2))
    assert torch.equal(first["mean"], second["mean"]) and torch.equal(first["std"], second["std"])
    features = preprocess.feature_frame(table[table["split"] == "train"], first["feature_names"])
    assert first["mean"].numpy() == pytest.approx(features.mean().to_numpy(), rel=1e-5)


def test_same_seed_same_numbers_other_seed_other_numbers(run, table_path, tmp_path):
    again = tmp_path / "again"
    other = tmp_path / "other"
    assert train.main(["--data", str(table_path), "--out", str(again), "--seed", "1"] + FAST) == 0
    assert train.main(["--data", str(table_path), "--out", str(other), "--seed", "2"] + FAST) == 0

    def losses(folder):
        with open(folder / "history.csv", newline="") as stream:
            return [(row["train_loss"], row["val_loss"]) for row in csv.DictReader(stream)]

    assert losses(again) == losses(run)
    assert losses(other) != losses(run)
    first = model.load_checkpoint(run / "model.pt")
    second = model.load_checkpoint(again / "model.pt")
    assert all(torch.equal(first["model"][name], second["model"][name]) for name in first["model"])


def test_input_noise_is_seeded_and_changes_training(run, table_path, tmp_path):
    def losses(folder):
        with open(folder / "history.csv", newline="") as stream:
            return [row["train_loss"] for row in csv.DictReader(stream)]

    noisy = [tmp_path / "noisy", tmp_path / "noisy-again"]
    for out in noisy:
        assert train.main(["--data", str(table_path), "--out", str(out), "--seed", "1",
                           "--input-noise", "0.5"] + FAST) == 0
    assert losses(noisy[0]) == losses(noisy[1])
    assert losses(noisy[0]) != losses(run)


def test_prior_correction_takes_back_the_class_weighting():
    probabilities = torch.tensor([[0.5, 0.5], [0.3, 0.7]])
    prior = torch.tensor([0.8, 0.2])
    assert torch.equal(model.correct_prior(probabilities, prior, 0.0), probabilities)
    corrected = model.correct_prior(probabilities, prior, 1.0)
    assert corrected.sum(dim=1).tolist() == pytest.approx([1.0, 1.0])
    assert corrected[0].tolist() == pytest.approx([0.8, 0.2])
    assert corrected.argmax(dim=1).tolist() == [0, 0]


def test_checkpoint_keeps_train_genre_shares_and_prior_correction(table_path, tmp_path):
    out = tmp_path / "corrected"
    assert train.main(["--data", str(table_path), "--out", str(out),
                       "--prior-correction", "0.25"] + FAST) == 0
    checkpoint = model.load_checkpoint(out / "model.pt")
    assert checkpoint["prior_correction"] == 0.25
    table = preprocess.read_table(table_path)
    shares = table.loc[table["split"] == "train", "genre"].value_counts(normalize=True)
    assert checkpoint["class_prior"].tolist() == pytest.approx(
        shares[checkpoint["classes"]].tolist())


def test_checkpoint_of_an_older_train_py_is_named_as_such(run, tmp_path):
    checkpoint = model.load_checkpoint(run / "model.pt")
    old = {key: value for key, value in checkpoint.items()
           if key not in ("class_prior", "prior_correction")}
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(model.CheckpointError, match="older train.py .* train it again"):
        model.load_checkpoint(tmp_path / "old.pt")


def test_class_weights_balance_genres():
    weights = train.class_weights(np.array([0] * 6 + [1] * 3 + [2]), 3)
    assert weights.tolist() == pytest.approx([10 / 18, 10 / 9, 10 / 3])


def test_bad_data_exits_2(tmp_path, capsys):
    assert train.main(["--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    raw = tmp_path / "raw.csv"
    synthetic_songcsv().to_csv(raw, index=False)
    assert train.main(["--data", str(raw), "--out", str(tmp_path / "run")]) == 2
    assert "output of preprocess.py" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option", [["--momentum", "-1"], ["--device", "foo"],
                                    ["--prior-correction", "0.9"], ["--input-noise", "-0.1"],
                                    ["--input-noise", "nan"]])
def test_bad_option_is_one_line_not_a_traceback(option, table_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data", str(table_path), "--out", str(tmp_path / "run"), *option])
    assert exit_info.value.code == 2
    assert ": error: " in capsys.readouterr().err.strip().splitlines()[-1]


def test_default_run_learns_genre_on_real_data(shared_data):
    table = preprocess.preprocess(load_real_benchmark().build_songcsv(shared_data))
    checkpoint, history = train.train_checkpoint(table, train.TrainConfig())
    assert len(history) < train.TrainConfig().epochs  # early stopping ended it
    features, labels = preprocess.split_arrays(table, "test", checkpoint["feature_names"],
                                               checkpoint["classes"])
    got = scores(labels, model.predict_proba(checkpoint, features).argmax(axis=1))
    majority = scores(labels, np.full_like(labels, np.bincount(labels).argmax()))
    assert got["macro_f1"] > 2 * majority["macro_f1"]
    assert got["balanced_accuracy"] > 2 * majority["balanced_accuracy"]
    # Correcting less than the default gives rare genres more songs, more than it fewer.
    pop_rock = checkpoint["classes"].index("Pop_Rock")
    pop_rock_songs = [
        np.sum(model.predict_proba({**checkpoint, "prior_correction": correction},
                                   features).argmax(axis=1) == pop_rock)
        for correction in (0.0, checkpoint["prior_correction"], 1.0)]
    assert pop_rock_songs[0] < pop_rock_songs[2]
    assert pop_rock_songs == sorted(pop_rock_songs)
