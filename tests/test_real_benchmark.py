"""bench.real_benchmark: the real pipeline (extract -> preprocess -> cross-validated MLP and
baselines) on song files, its paired differences and its one-line option errors; the other
real-data benchmarks' folds and option errors."""
import importlib
import re

import numpy as np
import pandas as pd
import pytest

import scoring
import songtable
from bench import bench_features, learning_curve, real_benchmark, select_mlp
from classifier import GenreClassifier
from dataset.sample import generate_sample


def test_paired_difference_is_against_the_best_baseline_per_metric():
    results = {"MLP": [{"accuracy": 0.7, "macro_f1": 0.4}, {"accuracy": 0.8, "macro_f1": 0.6}],
               "a": [{"accuracy": 0.6, "macro_f1": 0.5}, {"accuracy": 0.6, "macro_f1": 0.5}],
               "b": [{"accuracy": 0.7, "macro_f1": 0.2}, {"accuracy": 0.7, "macro_f1": 0.2}]}
    best, mean, error = real_benchmark.paired_difference(results, "accuracy")
    assert best == "b" and mean == pytest.approx(0.05)
    assert error == pytest.approx(np.std([0.0, 0.1], ddof=1) / np.sqrt(2))
    assert real_benchmark.paired_difference(results, "macro_f1")[0] == "a"


def test_runs_the_pipeline_on_song_files(tmp_path, capsys):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    config = tmp_path / "mlp.json"
    config.write_text('{"epochs": 5, "hidden": [16, 8]}')
    assert real_benchmark.main([
        "--songs", str(tmp_path / "sample" / "data"),
        "--labels", str(tmp_path / "sample" / "sample_genres.cls"), "--mismatches", "",
        "--folds", "2", "--repeats", "1", "--config", str(config),
        "--workdir", str(tmp_path / "work")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"sample_genres.cls: \d+ songs, \d+ genres \(\w+ \d+%\), \d+ artists", printed)
    for title in ("MLP", "majority class", "logistic regression", "HistGradientBoosting",
                  "MLP - "):
        assert title in printed
    assert (tmp_path / "work" / "sample_genres" / "SongCSV.csv").exists()


@pytest.mark.parametrize("script, options, complaint", [
    ("real_benchmark", ["--folds", "1"], "--folds must be at least 2"),
    ("real_benchmark", ["--songs", "/nowhere"], "--songs /nowhere: no such folder"),
    ("real_benchmark", ["--crops", "-1"], "--crops must be at least 0"),
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
    outer_tests = [set(test) for _, test in songtable.fold_rows(
        genres, artists, train_only, 5, 0)]
    seen = [set(train) | set(test) for train, test in select_mlp.inner_folds(
        genres, artists, train_only, 5, 3)]
    assert len(seen) == 15
    for fold, outer_test in enumerate(outer_tests):
        assert all(not rows & outer_test for rows in seen[fold * 3:fold * 3 + 3])
    assert select_mlp.margin({"accuracy": 0.6, "macro_f1": 0.3},
                             {"lr": {"accuracy": 0.5, "macro_f1": 0.35},
                              "hgb": {"accuracy": 0.55, "macro_f1": 0.2}}) == pytest.approx(-0.05)


def test_crops_train_the_mlp_only_on_the_same_test_songs(tmp_path):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    table, _ = real_benchmark.labelled_table(
        tmp_path / "sample" / "data", real_benchmark.Run(
            str(tmp_path / "sample" / "sample_genres.cls")), None, tmp_path / "work", crops=2)
    crops = songtable.crop_mask(table).to_numpy()
    songs = table[~crops].reset_index(drop=True)
    # No split of its own (the folds are the split): every song keeps its crops.
    assert crops.sum() == 2 * len(songs) and set(table["split"]) == {"train"}

    def methods():
        return {"MLP": GenreClassifier(epochs=3, hidden=(8,), ensemble=1),
                "lr": scoring.baselines()["logistic_regression"]}

    with_crops = real_benchmark.compare(methods(), table, 2, 1)
    without = real_benchmark.compare(methods(), songs, 2, 1)
    assert with_crops["lr"] == without["lr"]  # the same test songs, no crop in its training
    assert with_crops["MLP"] != without["MLP"]  # the MLP learns from the crops


def test_learning_curve_keeps_a_share_of_each_folds_training_artists():
    genres = np.array(["a", "b"] * 60)
    artists = np.array([f"AR{i // 2}" for i in range(120)])
    folds = list(songtable.fold_rows(genres, artists, np.zeros(120, dtype=bool), 3, 0))
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
    table, _ = real_benchmark.labelled_table(
        tmp_path / "sample" / "data", real_benchmark.Run(
            str(tmp_path / "sample" / "sample_genres.cls")), None, tmp_path / "work")
    regression = scoring.baselines()["logistic_regression"]
    found = learning_curve.curve(regression, table, (0.5, 1.0), 2, 0)
    whole = real_benchmark.compare({"lr": regression}, table, 2, 1)["lr"]
    assert found[1.0][1]["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in whole]))
    assert found[0.5][0] < found[1.0][0]  # fewer training songs at half the artists
    shown = learning_curve.format_curves({"lr": found}, (0.5, 1.0))
    assert re.search(r"training artists +50% +100%\ntraining songs +\d+ +\d+", shown)


def test_selection_scores_the_baselines_without_crops(tmp_path):
    generate_sample(tmp_path / "sample", songs_per_genre=12, seed=1)
    table, _ = real_benchmark.labelled_table(
        tmp_path / "sample" / "data", real_benchmark.Run(
            str(tmp_path / "sample" / "sample_genres.cls")), None, tmp_path / "work", crops=2)
    regression = scoring.baselines()["logistic_regression"]
    assert select_mlp.inner_scores(regression, table, 2, 2) == select_mlp.inner_scores(
        regression, songtable.without_crops(table), 2, 2)


def test_feature_sets_keep_the_tables_other_columns():
    table = pd.DataFrame({"track_id": ["TR1"], "artist_id": ["AR1"], "genre": ["rock"],
                          "split": ["train"], "duration": [200.0], "timbre_mean_0": [1.0],
                          "timbre_cov_0_1": [0.5]})
    names = songtable.feature_names_of(table)
    sets = bench_features.feature_sets(names, ["minus"])
    assert sets["old"] == (["duration", "timbre_mean_0"], None)
    assert sets["all - timbre_covariance"] == (["duration", "timbre_mean_0"], "all")
    kept = bench_features.with_features(table, sets["old"][0])
    assert list(kept.columns) == ["track_id", "artist_id", "genre", "split", "duration",
                                  "timbre_mean_0"]
