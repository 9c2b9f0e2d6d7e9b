"""bench.real_cv, the cross-validation benchmark: every method scored on the same test songs,
never on a training-only row or a crop; a table row per method (skipped when its package is
absent); slow methods on fewer folds, paired on the folds both ran; folds written by one run
and read by another give the same table; a learner from a file outside the repository joins it.
"""
import re
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest

from bench import real_cv, real_songs
from dataset.sample import generate_sample
from genrelearn import scoring, splitting
from genrelearn.classifier import GenreClassifier

SUBSET = ("A/A", "A/B", "A/C")  # 160 real song files: 3 Last.fm genres of 10+ songs
TINY_MLP = '{"epochs": 3, "hidden": [16], "ensemble": 1}'


@pytest.fixture
def few_songs(shared_data, tmp_path):
    """A folder of links to a few dozen of the real song files."""
    songs = tmp_path / "songs"
    for folder in SUBSET:
        for path in (shared_data / "MillionSongSubset" / "data" / folder).rglob("*.h5"):
            link = songs / path.relative_to(shared_data / "MillionSongSubset" / "data")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return songs


@pytest.fixture
def fitted(monkeypatch):
    """[(estimator, its rows' (track id, may only train), [test rows' (track id, may only
    train) per fold])] of each scoring.scored_folds call."""
    calls = []
    scored_folds, scorer = scoring.scored_folds, scoring.scorer

    def recording_scored_folds(estimator, features, *args, **kwargs):
        identity = splitting.row_identity(features)
        calls.append((estimator, list(zip(identity[1], identity[2])), []))
        return scored_folds(estimator, features, *args, **kwargs)

    def recording_scorer(estimator, features, genres):
        identity = splitting.row_identity(features)
        calls[-1][2].append(set(zip(identity[1], identity[2])))
        return scorer(estimator, features, genres)

    monkeypatch.setattr(scoring, "scored_folds", recording_scored_folds)
    monkeypatch.setattr(scoring, "scorer", recording_scorer)
    return calls


def small_run(few_songs, tmp_path, *options):
    """real_cv.main's arguments for the Last.fm run of ``few_songs`` in 2 folds, a tiny MLP."""
    config = tmp_path / "mlp.json"
    config.write_text(TINY_MLP)
    return ["--songs", str(few_songs), "--sources", "lastfm", "--crops", "2",
            "--config", str(config), "--workdir", str(tmp_path / "work"), *options]


def table_row(printed, title):
    """The cells after ``title`` in its row of a printed table."""
    row = re.search(rf"^{re.escape(title)}  +(.*)$", printed, re.MULTILINE)
    assert row, f"no row for {title}"
    return row.group(1)


def figures(markdown):
    """The table rows of a --out page without their wall times."""
    return [re.sub(r"\| \d+ s \|$", "|", line) for line in markdown.splitlines()
            if line.startswith("| ")]


def test_every_method_scores_the_same_songs_never_a_crop_or_training_only_row(
        few_songs, fitted, tmp_path, monkeypatch, capsys):
    realmlp = real_cv.METHODS["realmlp"]
    monkeypatch.setitem(real_cv.METHODS, "realmlp", realmlp._replace(  # a short RealMLP
        make=lambda args: realmlp.make(args).set_params(realmlp_td_classifier__n_epochs=4)))
    out = tmp_path / "results.md"
    assert real_cv.main(small_run(few_songs, tmp_path, "--folds", "2", "--repeats", "2",
                                  "--slow-folds", "2", "--catboost-iterations", "5",
                                  "--out", str(out))) == 0
    table = real_songs.labelled_table(few_songs, real_cv.SOURCES["lastfm"],
                                      real_songs.MISMATCHES, tmp_path / "again", crops=2)[0]
    may_not_score = splitting.crop_mask(table) | splitting.train_only_mask(table)
    assert may_not_score.any(), "the subset should hold crops and training-only rows"
    scored = {(track, False) for track in table.loc[~may_not_score, "track_id"]}
    folds = fitted[0][2]
    assert len(folds) == 4 and not folds[0] & folds[1] and folds[0] | folds[1] == scored
    assert folds[2] | folds[3] == scored and folds[2] != folds[0]
    default_methods = [method for name, method in real_cv.METHODS.items()
                       if name not in real_cv.EXPLORATORY]
    installed = [method for method in default_methods
                 if not method.package or find_spec(method.package)]
    assert len(fitted) == len(installed)
    for (_, _, method_folds), method in zip(fitted, installed, strict=True):
        # CatBoost, slow at its defaults, on the first 2 of the 4 folds only.
        assert method_folds == (folds[:2] if method.slow else folds)
    printed = capsys.readouterr().out
    for method in default_methods:
        shown = (r"(2 of 4|4) +\d\.\d{3} ± \d\.\d{3}" if method in installed
                 else re.escape(real_cv.SKIPPED))
        assert re.match(shown, table_row(printed, method.title))
    written = out.read_text()
    assert "Command: `python -m bench.real_cv --songs" in written
    assert "| lastfm | MLP (default) | 4 | " in written and "fold seeds [0, 1]" in written


def test_folds_written_by_one_run_read_back_by_another_give_the_same_table(
        few_songs, tmp_path, capsys):
    folds_file, first, second = (tmp_path / name for name in ("folds.csv", "a.md", "b.md"))
    methods = ["--methods", "default", "majority", "logistic", "hgb"]
    assert real_cv.main(small_run(few_songs, tmp_path, "--folds", "2", "--repeats", "1",
                                  *methods, "--write-folds", str(folds_file),
                                  "--out", str(first))) == 0
    folds = pd.read_csv(folds_file)
    assert list(folds.columns) == ["track_id", "source", "fold_seed", "fold"]
    assert set(folds["source"]) == {"lastfm"} and set(folds["fold_seed"]) == {0}
    assert set(folds["fold"]) == {0, 1} and folds["track_id"].is_unique
    table = pd.read_csv(tmp_path / "work" / "lastfm" / "SongCSV.csv")
    songs = table[table["crop"] == 0]
    assert set(folds["track_id"]) < set(songs["track_id"])  # the training-only songs left out
    assert real_cv.main(small_run(few_songs, tmp_path, *methods, "--read-folds", str(folds_file),
                                  "--out", str(second))) == 0
    assert f"read from {folds_file}" in capsys.readouterr().out
    assert figures(first.read_text()) == figures(second.read_text())
    assert len(figures(first.read_text())) == 1 + 4  # the header, a row a method


def test_an_estimator_from_a_file_outside_the_repository_appears_in_the_table(
        few_songs, fitted, tmp_path, capsys):
    learners = tmp_path / "elsewhere" / "my_learners.py"
    learners.parent.mkdir()
    learners.write_text(
        "from sklearn.dummy import DummyClassifier\n"
        "from sklearn.impute import SimpleImputer\n"
        "from sklearn.neighbors import KNeighborsClassifier\n"
        "from sklearn.pipeline import make_pipeline\n\n\n"
        "def neighbours():\n"
        "    return make_pipeline(SimpleImputer(), KNeighborsClassifier(3))\n\n\n"
        "class CropLearner(DummyClassifier):\n"
        "    learns_from_crops = True\n")
    assert real_cv.main(small_run(few_songs, tmp_path, "--folds", "2", "--repeats", "1",
                                  "--methods", "default",
                                  "--estimator", f"{learners}:neighbours",
                                  "--estimator", f"{learners}:CropLearner")) == 0
    printed = capsys.readouterr().out
    for title in ("my_learners.py:neighbours", "my_learners.py:CropLearner"):
        assert re.match(r"2 +(\d\.\d{3} ± \d\.\d{3} +){3}[+-]\d\.\d{3} ± \d\.\d{3}",
                        table_row(printed, title))
    mlp, neighbours, crop_learner = fitted
    assert neighbours[2] == mlp[2]  # the same test songs
    # The neighbours learn from the songs, the crop learner from the MLP's rows, crops too.
    assert len(neighbours[1]) < len(crop_learner[1]) == len(mlp[1])


def test_a_slow_method_is_paired_on_the_folds_both_ran():
    default = [{"accuracy": a, "macro_f1": f, "balanced_accuracy": 0.5, "fold_seed": 0,
                "fold": fold} for fold, (a, f) in enumerate([(0.7, 0.4), (0.8, 0.6),
                                                               (0.9, 0.1), (0.6, 0.2)])]
    slow = [{**row, "accuracy": row["accuracy"] + gain} for row, gain in
            zip(default[:2], (0.1, 0.3))]
    rows = real_cv.table_rows({"default": (default, 10.0), "slow": (slow, 99.0)}, 4)
    header, _, slow_row = rows
    cells = dict(zip(header, slow_row))
    assert cells["folds"] == "2 of 4" and cells["wall time"] == "99 s"
    assert cells["accuracy − default"] == "+0.200 ± {:.3f}".format(np.std([0.1, 0.3], ddof=1)
                                                                   / np.sqrt(2))
    assert cells["macro-F1 − default"] == "+0.000 ± 0.000"


def test_a_fold_file_must_hold_the_tables_scored_songs():
    table = pd.DataFrame({"track_id": ["T1", "T2", "T3", "T3"], "crop": [0, 0, 0, 1],
                          "train_only": [False, False, True, True]})
    folds = pd.DataFrame({"track_id": ["T1", "T2"], "source": "s", "fold_seed": 0,
                          "fold": [0, 1]})
    assert real_cv.folds_of(folds, "s", table, "f.csv") is not None
    with pytest.raises(real_cv.FoldsError, match="f.csv holds no folds of source t"):
        real_cv.folds_of(folds, "t", table, "f.csv")
    with pytest.raises(real_cv.FoldsError, match="lists 0 tracks the table does not score and "
                       "leaves out 1 that it scores"):
        real_cv.folds_of(folds[:1], "s", table, "f.csv")


def test_runs_the_pipeline_on_generated_song_files(tmp_path, capsys):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    config = tmp_path / "mlp.json"
    config.write_text('{"epochs": 5, "hidden": [16, 8]}')
    assert real_cv.main([
        "--songs", str(tmp_path / "sample" / "data"),
        "--labels", str(tmp_path / "sample" / "sample_genres.cls"), "--mismatches", "",
        "--folds", "2", "--repeats", "1", "--config", str(config),
        "--methods", "default", "majority", "logistic", "hgb",
        "--workdir", str(tmp_path / "work")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"sample_genres: labels .*sample_genres.cls: \d+ songs, \d+ genres "
                     r"\(\w+ \d+%\), \d+ artists", printed)
    for title in ("MLP (default)", "majority class", "logistic regression",
                  "HistGradientBoosting"):
        table_row(printed, title)
    assert (tmp_path / "work" / "sample_genres" / "SongCSV.csv").exists()


def test_crops_train_the_mlp_only_on_the_same_test_songs(tmp_path):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    table, _ = real_songs.labelled_table(
        tmp_path / "sample" / "data", real_songs.Run(
            str(tmp_path / "sample" / "sample_genres.cls")), None, tmp_path / "work", crops=2)
    crops = splitting.crop_mask(table).to_numpy()
    songs = table[~crops].reset_index(drop=True)
    # No split of its own (the folds are the split): every song keeps its crops.
    assert crops.sum() == 2 * len(songs) and set(table["split"]) == {"train"}
    folds = real_cv.make_folds(table, "sample", 2, [0])
    assert folds.equals(real_cv.make_folds(songs, "sample", 2, [0]))

    mlp = GenreClassifier(epochs=3, hidden=(8,), ensemble=1)
    regression = scoring.baselines()["logistic_regression"]
    # The same test songs, no crop in logistic regression's training: the same scores.
    assert (real_cv.scored_on_folds(regression, table, folds)
            == real_cv.scored_on_folds(regression, songs, folds))
    assert (real_cv.scored_on_folds(mlp, table, folds)
            != real_cv.scored_on_folds(mlp, songs, folds))  # the MLP learns from the crops


@pytest.mark.parametrize("options, complaint", [
    (["--sources", "lastfm", "--labels", "x.cls"], "--sources and --labels: give one of them"),
    (["--catboost-iterations", "0"], "--catboost-iterations must be at least 1"),
    (["--methods", "xgboost"], "invalid choice: 'xgboost'"),
    (["--vote-trees-weight", "1.5"], "--vote-trees-weight must be in [0, 1]"),
    (["--folds", "1"], "--folds must be at least 2"),
    (["--slow-folds", "1"], "--slow-folds must be 0 (all) or at least 2"),
    (["--songs", "/nowhere"], "--songs /nowhere: no such folder"),
    (["--crops", "-1"], "--crops must be at least 0"),
    (["--read-folds", "f.csv", "--repeats", "2"], "--read-folds: the folds are the file's"),
    (["--read-folds", "/nowhere.csv"], "--read-folds /nowhere.csv: not a readable CSV file"),
    (["--read-folds", "a.csv", "--write-folds", "b.csv"], "not allowed with argument"),
    (["--estimator", "sklearn.svm"], "--estimator sklearn.svm: give MODULE:CALLABLE"),
    (["--estimator", "sklearn.svm:NoSuch"], "AttributeError: module 'sklearn.svm' has no"),
    (["--estimator", "/nowhere/learner.py:make"], "FileNotFoundError"),
    (["--estimator", "numpy:zeros_like"], "TypeError"),
    (["--estimator", "builtins:object"], "returned a object, not a scikit-learn classifier"),
])
def test_bad_options_are_one_line_before_any_work(options, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        real_cv.main(options)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_votes_trees_can_learn_from_the_rows_that_may_be_scored_alone():
    rng = np.random.default_rng(0)
    genres = np.repeat(["blues", "jazz", "rock"], 40)
    features = rng.normal(size=(len(genres), 4)) + (genres == "jazz")[:, None]
    train_only = genres == "rock"  # rock: weaker labels alone
    vote = real_cv.MLPTreesVote(trees_weight=0.5, trees_scored_rows_only=True,
                                mlp={"epochs": 2, "hidden": (8,), "ensemble": 1})
    vote.fit(features, genres, train_only=train_only)
    assert list(vote.trees_.classes_) == ["blues", "jazz"]
    probabilities = vote.predict_proba(features)
    assert probabilities.shape == (len(genres), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    # rock's probability is the MLP's alone, halved
    np.testing.assert_allclose(probabilities[:, 2], vote.mlp_.predict_proba(features)[:, 2] / 2,
                               rtol=1e-5)
