"""Ensembles and --config: one checkpoint of K networks, read by evaluate/predict like any other."""
import csv
import json

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import evaluate
import model
import predict
import preprocess
import train
from test_preprocess import synthetic_songcsv

FAST = ["--epochs", "15", "--patience", "5", "--hidden", "16", "8"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ensemble")
    path = folder / "pre.csv"
    preprocess.preprocess(synthetic_songcsv(n_songs=300)).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ensemble(data):
    out = data.parent / "ensemble"
    assert train.main(["--data", str(data), "--out", str(out), "--ensemble", "3", "--seed", "4"]
                      + FAST) == 0
    return out / "model.pt"


def member_checkpoint(checkpoint, member):
    return {**checkpoint, "model": checkpoint["model"][member]}


def test_ensemble_is_one_plain_checkpoint_averaging_its_members(ensemble, data):
    checkpoint = torch.load(ensemble, weights_only=True)
    assert len(checkpoint["model"]) == 3
    assert checkpoint["config"]["ensemble"] == 3
    first, second = checkpoint["model"][0], checkpoint["model"][1]
    assert not all(torch.equal(first[name], second[name]) for name in first)  # other seeds

    table = preprocess.read_table(data)
    features, _ = preprocess.split_arrays(table, "test", checkpoint["feature_names"],
                                         checkpoint["classes"])
    # Soft vote of the members' probabilities, then the prior correction of the whole.
    uncorrected = {**checkpoint, "prior_correction": 0.0}
    members = [model.predict_proba(member_checkpoint(uncorrected, i), features)
               for i in range(3)]
    expected = model.correct_prior(torch.tensor(np.mean(members, axis=0)),
                                   checkpoint["class_prior"], checkpoint["prior_correction"])
    assert model.predict_proba(checkpoint, features) == pytest.approx(expected.numpy(), abs=1e-6)
    # Member 0 is exactly the single network trained with the ensemble's first seed.
    single, _ = train.train_checkpoint(table, train.TrainConfig(
        epochs=15, patience=5, hidden=(16, 8), seed=4))
    assert all(torch.equal(single["model"][name], first[name]) for name in first)


def test_history_names_each_member(ensemble):
    with open(ensemble.parent / "history.csv", newline="") as stream:
        members = {row["member"] for row in csv.DictReader(stream)}
    assert members == {"0", "1", "2"}


def test_bootstrap_members_see_other_rows(data):
    table = preprocess.read_table(data)
    config = train.TrainConfig(epochs=3, hidden=(8,), ensemble=2, seed=4)
    plain, _ = train.train_checkpoint(table, config)
    resampled, _ = train.train_checkpoint(table, train.TrainConfig(
        epochs=3, hidden=(8,), ensemble=2, seed=4, bootstrap=True))
    assert resampled["config"]["bootstrap"] is True
    weights = "net.0.weight"
    assert not torch.equal(plain["model"][0][weights], resampled["model"][0][weights])


def test_evaluate_and_predict_take_an_ensemble(ensemble, data, tmp_path, capsys):
    metrics = tmp_path / "metrics.json"
    with threadpool_limits(limits=1):
        assert evaluate.main(["--checkpoint", str(ensemble), "--data", str(data), "--stack",
                              "--json", str(metrics), "--figure", str(tmp_path / "c.png")]) == 0
    assert evaluate.STACK_TITLE in capsys.readouterr().out
    report = json.loads(metrics.read_text())
    assert report["stack"]["macro_f1"] > report["baselines"]["majority"]["macro_f1"] + 0.3

    songs = preprocess.read_csv(data).head(5)
    songs_csv = tmp_path / "songs.csv"
    songs.to_csv(songs_csv, index=False)
    assert predict.main(["--checkpoint", str(ensemble), str(songs_csv)]) == 0
    printed = capsys.readouterr().out
    assert all(track in printed for track in songs["track_id"])


def test_config_file_sets_options_and_command_line_wins(data, tmp_path):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"lr": 0.01, "hidden": [12], "batch_size": 16,
                                  "bootstrap": True, "epochs": 4}))
    out = tmp_path / "run"
    assert train.main(["--data", str(data), "--out", str(out), "--config", str(config),
                       "--lr", "0.02"]) == 0
    settings = model.load_checkpoint(out / "model.pt")["config"]
    assert settings["hidden"] == [12] and settings["batch_size"] == 16
    assert settings["bootstrap"] is True and settings["lr"] == 0.02


@pytest.mark.parametrize("text, message", [
    ('{"learning_rate": 0.1}', "'learning_rate' is not a train.py option"),
    ("[1, 2]", "not a JSON object"),
    ("{oops", "not a readable JSON file"),
])
def test_bad_config_file_exits_2(data, tmp_path, capsys, text, message):
    config = tmp_path / "bad.json"
    config.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data", str(data), "--config", str(config)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
