"""bench.real_songs and the real-data benchmarks built on it besides bench.real_cv (its own
tests: test_real_cv.py): the learning curve, the MLP's selection, the feature families and the
training-speed benchmark; their folds and one-line option errors."""
import importlib
import re

import numpy as np
import pandas as pd
import pytest

from bench import bench_features, learning_curve, real_songs, select_mlp
from dataset.sample import generate_sample
from genrelearn import scoring, splitting, tablefiles


def test_a_runs_source_name_is_its_own_or_its_first_label_sources():
    assert [run.source for run in real_songs.DEFAULT_RUNS] == ["cd1", "lastfm"]
    assert real_songs.Run("/x/msd_tagtraum_cd1.cls,echonest-terms").source == "msd_tagtraum_cd1"
    assert real_songs.runs_of(None) == real_songs.DEFAULT_RUNS


def test_paired_difference_is_per_fold():
    mine = [{"accuracy": 0.7}, {"accuracy": 0.8}]
    reference = [{"accuracy": 0.6}, {"accuracy": 0.6}]
    mean, error = real_songs.paired(mine, reference, "accuracy")
    assert mean == pytest.approx(0.15)
    assert error == pytest.approx(np.std([0.1, 0.2], ddof=1) / np.sqrt(2))


@pytest.mark.parametrize("script, options, complaint", [
    ("learning_curve", ["--crops", "-1"], "--crops must be at least 0"),
    ("learning_curve", ["--shares", "0.5", "1.5"], "--shares must be in (0, 1]"),
    ("learning_curve", ["--config", "/nowhere.json"], "/nowhere.json: not a readable JSON file"),
    ("bench_train", ["--synthetic-seeds", "0"], "--synthetic-seeds must be at least 1"),
    ("bench_train", ["--songs", "150"], "--songs must be 0 (none) or at least 200"),
])
def test_bad_options_are_one_line_before_any_work(script, options, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(f"bench.{script}").main(options)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err.strip().splitlines()[-1]


def test_selection_never_scores_an_outer_test_row():
    rng = np.random.default_rng(0)
    genres = rng.choice(["a", "b", "c"], 300)
    artists = np.array([f"AR{i // 3}" for i in range(300)])
    train_only = np.arange(300) % 10 == 0
    outer_tests = [set(test) for _, test in splitting.fold_rows(
        genres, artists, train_only, 5, 0)]
    seen = [set(train) | set(test) for train, test in select_mlp.inner_folds(
        genres, artists, train_only, 5, 3)]
    assert len(seen) == 15
    for fold, outer_test in enumerate(outer_tests):
        assert all(not rows & outer_test for rows in seen[fold * 3:fold * 3 + 3])
    assert select_mlp.margin({"accuracy": 0.6, "macro_f1": 0.3},
                             {"lr": {"accuracy": 0.5, "macro_f1": 0.35},
                              "hgb": {"accuracy": 0.55, "macro_f1": 0.2}}) == pytest.approx(-0.05)


def test_learning_curve_keeps_a_share_of_each_folds_training_artists():
    genres = np.array(["a", "b"] * 60)
    artists = np.array([f"AR{i // 2}" for i in range(120)])
    folds = list(splitting.fold_rows(genres, artists, np.zeros(120, dtype=bool), 3, 0))
    cut = learning_curve.artist_shares(folds, artists, (0.25, 1.0), 0)
    for (train, test), (quarter, quarter_test), (whole, whole_test) in zip(
            folds, cut[0.25], cut[1.0], strict=True):
        assert np.array_equal(test, quarter_test) and np.array_equal(test, whole_test)
        assert np.array_equal(whole, train)
        kept = set(artists[quarter])
        assert len(kept) == round(0.25 * len(set(artists[train])))
        # Whole artists: every training song of a kept artist stays.
        assert set(quarter) == {row for row in train if artists[row] in kept}
    # The same artists whatever else the table holds (the MLP's table adds crops).
    doubled = np.concatenate([artists, artists])
    folds_doubled = [(np.concatenate([train, train + 120]), test) for train, test in folds]
    cut_doubled = learning_curve.artist_shares(folds_doubled, doubled, (0.25,), 0)
    for (quarter, _), (quarter_doubled, _) in zip(cut[0.25], cut_doubled[0.25], strict=True):
        assert set(artists[quarter]) == set(doubled[quarter_doubled])


def test_learning_curve_at_the_whole_share_is_the_benchmarks_cross_validation(tmp_path):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    table, _ = real_songs.labelled_table(
        tmp_path / "sample" / "data", real_songs.Run(
            str(tmp_path / "sample" / "sample_genres.cls")), None, tmp_path / "work")
    regression = scoring.baselines()["logistic_regression"]
    found = learning_curve.curve(regression, table, (0.5, 1.0), 2, 0)
    whole = scoring.cross_validated(regression, table, n_folds=2, seeds=[0])
    assert found[1.0][1]["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in whole]))
    assert found[0.5][0] < found[1.0][0]  # fewer training songs at half the artists
    shown = learning_curve.format_curves({"lr": found}, (0.5, 1.0))
    assert re.search(r"training artists +50% +100%\ntraining songs +\d+ +\d+", shown)


def test_selection_scores_the_baselines_without_crops(tmp_path):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    table, _ = real_songs.labelled_table(
        tmp_path / "sample" / "data", real_songs.Run(
            str(tmp_path / "sample" / "sample_genres.cls")), None, tmp_path / "work", crops=2)
    regression = scoring.baselines()["logistic_regression"]
    assert select_mlp.inner_scores(regression, table, 2, 2) == select_mlp.inner_scores(
        regression, splitting.without_crops(table), 2, 2)


def test_feature_sets_keep_the_tables_other_columns():
    table = pd.DataFrame({"track_id": ["TR1"], "artist_id": ["AR1"], "genre": ["rock"],
                          "split": ["train"], "duration": [200.0], "timbre_mean_0": [1.0],
                          "timbre_cov_0_1": [0.5]})
    names = tablefiles.feature_names_of(table)
    sets = bench_features.feature_sets(names, ["minus"])
    assert sets["old"] == (["duration", "timbre_mean_0"], None)
    assert sets["all - timbre_covariance"] == (["duration", "timbre_mean_0"], "all")
    kept = bench_features.with_features(table, sets["old"][0])
    assert list(kept.columns) == ["track_id", "artist_id", "genre", "split", "duration",
                                  "timbre_mean_0"]
