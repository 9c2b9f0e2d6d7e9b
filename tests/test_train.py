"""train.py: a run folder with a loadable checkpoint, options from GenreClassifier's parameters,
--config files, one-line errors."""
import csv
import json

import pytest
from songs import synthetic_songcsv

import train
from genrelearn import cleaning, tablefiles
from genrelearn.classifier import GenreClassifier
from genrelearn.options import HIDDEN_PARAMETERS, PARAMETER_HELP
from genrelearn.training import HISTORY_COLUMNS

FAST = ["--epochs", "15", "--patience", "5", "--hidden", "16", "8"]


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=300)).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run(table_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    assert train.main(["--data", str(table_path), "--out", str(out), "--seed", "1",
                       "--ensemble", "2"] + FAST) == 0
    return out


def test_run_folder_has_checkpoint_history_and_curve(run, table_path, capsys):
    assert {path.name for path in run.iterdir()} == {"model.pt", "history.csv",
                                                     "learning_curve.png", "MODEL_CARD.md"}
    classifier = GenreClassifier.load(run / "model.pt")
    assert classifier.seed == 1 and classifier.hidden == (16, 8) and classifier.ensemble == 2
    with open(run / "history.csv", newline="") as stream:
        history = list(csv.DictReader(stream))
    assert list(history[0]) == list(HISTORY_COLUMNS)
    assert {row["member"] for row in history} == {"0", "1"}
    assert all(float(row["seconds"]) > 0 for row in history)
    assert (run / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Stopped on the table's val rows: as many as the val split has.
    table = tablefiles.read_table(table_path)
    assert classifier.metrics_["n_val"] == (table["split"] == "val").sum()


def test_every_classifier_parameter_is_an_option_with_its_default_in_help(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    printed = "".join(capsys.readouterr().out.split())
    for name, default in GenreClassifier().get_params().items():
        if name in HIDDEN_PARAMETERS:
            continue
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else str(default)
        assert f"--{name.replace('_', '-')}" in printed
        assert "".join(f"{PARAMETER_HELP[name]} (default: {shown})".split()) in printed


def test_config_file_sets_options_and_command_line_wins(table_path, tmp_path):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"lr": 0.01, "hidden": [12], "batch_size": 16,
                                  "bootstrap": True, "epochs": 4}))
    out = tmp_path / "run"
    assert train.main(["--data", str(table_path), "--out", str(out), "--config", str(config),
                       "--lr", "0.02"]) == 0
    classifier = GenreClassifier.load(out / "model.pt")
    assert classifier.hidden == (12,) and classifier.batch_size == 16
    assert classifier.bootstrap is True and classifier.lr == 0.02 and classifier.epochs == 4


@pytest.mark.parametrize("text, message", [
    ('{"learning_rate": 0.1}', "'learning_rate' is not a train.py option"),
    ('{"bootstrap": "yes"}', "'bootstrap' should be like False, not 'yes'"),
    ("[1, 2]", "not a JSON object"),
    ("{oops", "not a readable JSON file"),
])
def test_bad_config_file_exits_2(table_path, tmp_path, capsys, text, message):
    config = tmp_path / "bad.json"
    config.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data", str(table_path), "--config", str(config)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("option, complaint", [
    (["--momentum", "-1"], "--momentum must be a finite number, not negative"),
    (["--device", "foo"], "--device is not a torch device"),
    (["--prior-correction", "1.5"], "--prior-correction must be in [0, 1]"),
    (["--input-noise", "nan"], "--input-noise must be a finite number"),
    (["--hidden", "0"], "--hidden widths must be at least 1"),
    (["--threads", "0"], "--threads must be at least 1"),
])
def test_bad_option_is_one_line_not_a_traceback(option, complaint, table_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data", str(table_path), "--out", str(tmp_path / "run"), *option])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert ": error: " in last and complaint in last
    assert not (tmp_path / "run").exists()


def test_bad_data_exits_2(tmp_path, capsys):
    assert train.main(["--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    raw = tmp_path / "raw.csv"
    synthetic_songcsv().to_csv(raw, index=False)
    assert train.main(["--data", str(raw), "--out", str(tmp_path / "run")]) == 2
    assert "output of preprocess.py" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_without_val_rows_whole_train_artists_are_held_out(table_path, tmp_path):
    table = tablefiles.read_table(table_path)
    no_val = tmp_path / "no_val.csv"
    table[table["split"] != "val"].to_csv(no_val, index=False)
    out = tmp_path / "run"
    assert train.main(["--data", str(no_val), "--out", str(out), *FAST]) == 0
    metrics = GenreClassifier.load(out / "model.pt").metrics_
    assert metrics["n_train"] + metrics["n_val"] == (table["split"] == "train").sum()


def test_the_curve_marks_the_epoch_the_checkpoint_keeps(table_path, tmp_path):
    """Stopping on the score keeps an epoch that is often not the lowest validation loss; the
    curve's dotted line stands at the kept epoch, for each member."""
    from genrelearn import plots

    out = tmp_path / "run"
    assert train.main(["--data", str(table_path), "--out", str(out), "--stop-on", "score",
                       "--ensemble", "2", "--seed", "3", *FAST]) == 0
    classifier = GenreClassifier.load(out / "model.pt")
    with open(out / "history.csv", newline="") as stream:
        history = [{key: int(value) if key in ("member", "epoch") else float(value)
                    for key, value in row.items()} for row in csv.DictReader(stream)]
    kept = classifier.metrics_["best_epochs"]
    figure = plots.curve_figure(history, kept)
    for axes in figure.axes:
        marked = sorted({line.get_xdata()[0] for line in axes.get_lines()
                         if line.get_linestyle() == ":"})
        assert marked == sorted(set(kept))


def test_a_new_run_replaces_the_earlier_one_as_a_whole(table_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(["--data", str(table_path), "--out", str(out), "--seed", "1"] + FAST) == 0
    (out / "metrics.json").write_text("{}")  # the earlier model's evaluation
    first = (out / "model.pt").read_bytes()
    assert train.main(["--data", str(table_path), "--out", str(out), "--seed", "2"] + FAST) == 0
    # The new model with its own history and curve, the old one's evaluation gone with it.
    assert {path.name for path in out.iterdir()} == set(train.RUN_FILES)
    assert (out / "model.pt").read_bytes() != first
    assert GenreClassifier.load(out / "model.pt").seed == 2
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_folder_of_other_files_is_not_replaced(table_path, tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    assert train.main(["--data", str(table_path), "--out", str(out)] + FAST) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "thesis.tex" in err and "another --out" in err
    assert [path.name for path in out.iterdir()] == ["thesis.tex"]
