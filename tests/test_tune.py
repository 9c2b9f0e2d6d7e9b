"""tune.py: cross-validated trials on train+val rows only, kept in Optuna's storage, resumable,
best.json for train.py."""
import csv
import json
import sys

import pandas as pd
import pytest
from songs import synthetic_songcsv

import train
import tune
from genrelearn import cleaning, options, tablefiles
from genrelearn.classifier import GenreClassifier

optuna = pytest.importorskip("optuna", reason="Optuna (optional extra) is not installed")

TINY = ["--trials", "2", "--folds", "2", "--epochs", "6", "--patience", "3"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=200)).to_csv(path, index=False)
    return path


def read_trials(out):
    with open(out / "trials.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_search_writes_trials_and_a_train_config(data, tmp_path, capsys):
    out = tmp_path / "tune"
    assert tune.main(["--data", str(data), "--out", str(out), *TINY, "--trials", "3"]) == 0
    printed = capsys.readouterr().out
    assert "best by macro_f1" in printed and "class_weight_power" in printed
    assert "trial 1/3: accuracy" in printed and "trial 3/3: accuracy" in printed
    trials = read_trials(out)
    assert [row["trial"] for row in trials] == ["0", "1", "2"]
    assert all(0 <= float(row["macro_f1"]) <= 1 for row in trials)
    best = max(trials, key=lambda row: float(row["macro_f1"]))
    config = json.loads((out / "best.json").read_text())
    assert config["lr"] == pytest.approx(float(best["lr"]))
    assert config["hidden"] == [int(width) for width in best["hidden"].split("-")]

    run = tmp_path / "run"
    assert train.main(["--data", str(data), "--out", str(run), "--config",
                       str(out / "best.json"), "--epochs", "3"]) == 0
    classifier = GenreClassifier.load(run / "model.pt")
    assert list(classifier.hidden) == config["hidden"] and classifier.epochs == 3


def test_best_json_leaves_the_batch_size_to_auto_unless_given(data, tmp_path):
    """A tuned model sizes its batch (and scales its learning rate) by the table it trains on,
    as an untuned one does, unless the user fixed the batch for the search."""
    searched, fixed = tmp_path / "searched", tmp_path / "fixed"
    assert tune.main(["--data", str(data), "--out", str(searched), *TINY]) == 0
    assert tune.main(["--data", str(data), "--out", str(fixed), *TINY,
                      "--batch-size", "64"]) == 0
    assert "batch_size" not in read_trials(searched)[0]
    assert "batch_size" not in json.loads((searched / "best.json").read_text())
    assert json.loads((fixed / "best.json").read_text())["batch_size"] == 64
    for out, batch_size in ((searched, "auto"), (fixed, 64)):
        run = tmp_path / f"run-{out.name}"
        assert train.main(["--data", str(data), "--out", str(run), "--config",
                           str(out / "best.json"), "--epochs", "2"]) == 0
        assert GenreClassifier.load(run / "model.pt").batch_size == batch_size


def test_test_rows_never_shape_a_score(data, tmp_path):
    table = tablefiles.read_table(data)
    garbled = table.copy()
    test = garbled["split"] == "test"
    garbled.loc[test, "timbre_mean_0"] = 1e6
    garbled.loc[test, "genre"] = "Jazz"
    garbled_path = tmp_path / "garbled.csv"
    garbled.to_csv(garbled_path, index=False)
    found = []
    for path, out in ((data, tmp_path / "a"), (garbled_path, tmp_path / "b")):
        assert tune.main(["--data", str(path), "--out", str(out), *TINY]) == 0
        found.append([{key: row[key] for key in row if key != "seconds"}
                      for row in read_trials(out)])
    assert found[0] == found[1]


def test_a_search_continues_up_to_its_trials(data, tmp_path, capsys):
    out = tmp_path / "tune"
    assert tune.main(["--data", str(data), "--out", str(out), *TINY]) == 0
    first = read_trials(out)
    assert tune.main(["--data", str(data), "--out", str(out), *TINY, "--trials", "3"]) == 0
    resumed = read_trials(out)
    assert len(resumed) == 3 and resumed[:2] == first  # the finished trials were kept
    assert "3 trials" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["grid", "bayes"])
def test_grid_and_bayes_methods(method, data, tmp_path):
    out = tmp_path / method
    assert tune.main(["--data", str(data), "--out", str(out), *TINY, "--method", method]) == 0
    trials = read_trials(out)
    assert len(trials) == 2
    if method == "grid":
        assert all(float(row["lr"]) in options.SEARCH_SPACE["lr"][0] for row in trials)


def test_other_settings_in_the_same_folder_exit_2(data, tmp_path, capsys):
    common = ["--data", str(data), "--out", str(tmp_path / "tune"), *TINY]
    assert tune.main(common) == 0
    assert tune.main(common + ["--folds", "3"]) == 2
    assert "other settings (folds)" in capsys.readouterr().err


def test_without_optuna_it_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what an install without the extra has
    assert tune.main(["--out", str(tmp_path / "t")]) == 2
    assert "pip install -r requirements-tune.txt" in capsys.readouterr().err


def test_rows_that_may_only_train_are_never_scored(data, tmp_path):
    """Weaker labels and songs' crops train in every fold but are never a fold's test song:
    each trial scores exactly the songs that may be scored, with or without them."""
    table = tablefiles.read_table(data)
    songs = table[table["split"] != "test"]
    extra = songs.sample(40, random_state=0).assign(train_only=True, genre="Jazz")
    crops = songs.sample(30, random_state=1).assign(train_only=True, crop=1)
    marked = pd.concat([table.assign(train_only=False, crop=0), extra, crops],
                       ignore_index=True)
    marked_path = tmp_path / "marked.csv"
    marked.to_csv(marked_path, index=False)
    for path, out in ((data, tmp_path / "plain"), (marked_path, tmp_path / "marked")):
        assert tune.main(["--data", str(path), "--out", str(out), *TINY]) == 0
        assert {int(row["scored_songs"]) for row in read_trials(out)} == {len(songs)}
