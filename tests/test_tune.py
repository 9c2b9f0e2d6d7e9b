"""tune.py: cross-validated trials on train+val only, stored as they end, resumable, best.json."""
import json
import sys

import pytest

import model
import preprocess
import train
import tune
from test_preprocess import synthetic_songcsv

TINY = train.TrainConfig(epochs=6, patience=3)
SCORED = ("trial", *tune.SPACE, "macro_f1", "accuracy", "epochs")


@pytest.fixture(scope="module")
def table():
    return preprocess.preprocess(synthetic_songcsv(n_songs=200))


def run_search(table, out, trials, **options):
    options = {"folds": 2, "workers": 1, "base": TINY, "progress": False, **options}
    return tune.search(table, out, trials, **options)


def scored(finished):
    return {number: {name: row[name] for name in SCORED} for number, row in finished.items()}


def test_cli_search_in_two_processes_writes_trials_and_a_train_config(table, tmp_path, capsys):
    data = tmp_path / "pre.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "tune"
    assert tune.main(["--data", str(data), "--trials", "3", "--folds", "2", "--epochs", "6",
                      "--patience", "3", "--workers", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "best by macro-F1" in printed and "class_weight_power" in printed
    finished = tune.read_trials(out / "trials.csv")
    assert sorted(finished) == [0, 1, 2]
    assert all(0 <= row["macro_f1"] <= 1 for row in finished.values())
    best = max(finished.values(), key=lambda row: row["macro_f1"])
    config = json.loads((out / "best.json").read_text())
    assert config["lr"] == pytest.approx(best["lr"], rel=1e-5)
    assert config["hidden"] == list(best["hidden"])

    run = tmp_path / "run"
    assert train.main(["--data", str(data), "--out", str(run), "--config",
                       str(out / "best.json"), "--epochs", "3"]) == 0
    settings = model.load_checkpoint(run / "model.pt")["config"]
    assert settings["hidden"] == list(best["hidden"]) and settings["epochs"] == 3
    assert settings["batch_size"] == best["batch_size"]


def test_test_rows_never_shape_a_score(table, tmp_path):
    garbled = table.copy()
    test = garbled["split"] == "test"
    garbled.loc[test, "timbre_mean_0"] = 1e6
    garbled.loc[test, "genre"] = "Jazz"
    assert scored(run_search(table, tmp_path / "a", 2)) == scored(
        run_search(garbled, tmp_path / "b", 2))


def test_killed_search_resumes_with_the_same_remaining_trials(table, tmp_path):
    whole = run_search(table, tmp_path / "whole", 3)
    out = tmp_path / "resumed"
    run_search(table, out, 2)
    with open(out / "trials.csv", "a") as stream:
        stream.write("2,0.01,0.9")  # the line a kill cut short
    resumed = run_search(table, out, 3)
    assert scored(resumed) == scored(whole)
    assert len(tune.read_trials(out / "trials.csv")) == 3


def test_proposals_depend_on_seed_and_number_only():
    assert tune.random_trial(7, seed=1) == tune.random_trial(7, seed=1)
    assert tune.random_trial(7, seed=1) != tune.random_trial(8, seed=1)
    points = [tune.grid_trial(number, seed=0) for number in range(20)]
    assert len({json.dumps(point, sort_keys=True) for point in points}) == 20
    assert all(point["hidden"] in tune.SPACE["hidden"].grid for point in points)


def test_other_settings_in_the_same_folder_exit_2(table, tmp_path, capsys):
    data = tmp_path / "pre.csv"
    table.to_csv(data, index=False)
    common = ["--data", str(data), "--trials", "1", "--epochs", "2", "--workers", "1",
              "--out", str(tmp_path / "tune")]
    assert tune.main(common + ["--folds", "2"]) == 0
    assert tune.main(common + ["--folds", "3"]) == 2
    assert "other settings (folds)" in capsys.readouterr().err


def test_bayes_without_optuna_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what an install without the extra has
    assert tune.main(["--method", "bayes", "--out", str(tmp_path / "t")]) == 2
    assert "pip install optuna" in capsys.readouterr().err


def test_bayes_search_with_optuna(table, tmp_path):
    pytest.importorskip("optuna", reason="Optuna (optional extra) is not installed")
    finished = run_search(table, tmp_path / "bayes", 3, method="bayes")
    assert sorted(finished) == [0, 1, 2]
    resumed = run_search(table, tmp_path / "bayes", 4, method="bayes")
    assert scored(resumed)[1] == scored(finished)[1] and 3 in resumed


def test_songs_without_an_artist_id_are_folded_as_their_own_artists(table):
    unknown = table.copy()
    unknown.loc[::7, "artist_id"] = None
    splits = tune.folds_of(unknown, 2, 0.15, seed=0)
    assert len(splits) == 2
    assert all(set(split) == {"train", "val", "test"} for split in splits)


def test_a_run_folder_with_a_damaged_search_record_is_refused(table, tmp_path):
    out = tmp_path / "tune"
    out.mkdir()
    (out / tune.SETTINGS_FILE).write_text("[1")
    with pytest.raises(tune.TuneError, match="not a search record"):
        run_search(table, out, 1)
