"""Honest by construction: a model knows the songs it learned from, so evaluate refuses a table
whose test songs it learned from and predict marks them; fit, the folds and the scorer follow
the rows rule whoever calls them, the documented scikit-learn recipe included."""
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA
from songs import synthetic_songcsv
from threadpoolctl import threadpool_limits

import evaluate
import predict
import preprocess
import train
from genrelearn import cleaning, featurecolumns, scoring, splitting, tablefiles
from genrelearn.classifier import GenreClassifier

DOCS = Path(__file__).resolve().parents[1] / "docs"
TINY = {"epochs": 3, "hidden": (8,), "ensemble": 1}
TINY_OPTIONS = ["--epochs", "5", "--hidden", "16", "16", "16", "--ensemble", "1"]


@pytest.fixture(autouse=True)
def one_thread():
    """Gradient boosting's OpenMP threads crawl when the CI machine's two cores are busy."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def marked_table():
    """A preprocessed table with weaker-label songs (echonest-terms) and two crops a song."""
    songs = synthetic_songcsv(n_songs=300).assign(crop=0)
    songs.loc[songs.sample(50, random_state=0).index, "genre_source"] = "echonest-terms"
    rng = np.random.default_rng(0)
    crops = []
    for number in (1, 2):
        crop = songs.assign(crop=number)
        for column in [name for name in songs.columns if name.startswith("timbre_mean")]:
            crop[column] += rng.normal(0, 0.3, len(crop))
        crops.append(crop)
    return cleaning.clean(pd.concat([songs] + crops, ignore_index=True),
                           train_only=["echonest-terms"])


def documented_recipe():
    """The scikit-learn recipe of docs/training.md, as a reader copies it."""
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "training.md").read_text(), re.DOTALL)
    recipes = [block for block in blocks if "cross_validate(" in block]
    assert len(recipes) == 1, "docs/training.md should hold one cross-validation recipe"
    return recipes[0]


def test_the_documented_recipe_scores_only_main_label_songs(marked_table, tmp_path):
    data = tmp_path / "preprocessed_data.csv"
    marked_table.to_csv(data, index=False)
    recipe = documented_recipe()
    assert '"data/preprocessed_data.csv"' in recipe
    namespace = {}
    exec(recipe.replace('"data/preprocessed_data.csv"', repr(str(data))), namespace)
    results, features, genres = (namespace[name] for name in ("results", "features", "genres"))
    assert len(results["test_accuracy"]) == 5 and min(results["test_accuracy"]) > 0.5
    # The recipe's folds: every song with the main label scored once, never a crop or a
    # weaker label, no artist on both sides.
    may_only_train = splitting.train_only_mask(marked_table)
    assert splitting.crop_mask(marked_table).any() and (
        may_only_train & ~splitting.crop_mask(marked_table).to_numpy()).any()
    scored = []
    for train_rows, test_rows in namespace["splitting"].ArtistFolds(5).split(features, genres):
        assert not may_only_train[test_rows].any()
        artists = marked_table["artist_id"].to_numpy()
        assert not set(artists[test_rows]) & set(artists[train_rows])
        scored += test_rows.tolist()
    assert sorted(scored) == np.flatnonzero(~may_only_train).tolist()


def test_fit_stops_early_on_whole_songs_never_on_crops_or_weaker_labels(marked_table):
    features, genres, _ = splitting.split_rows(marked_table, "train")
    classifier = GenreClassifier(**TINY).fit(features, genres)
    trained, validated = (classifier.learned_songs_[name] for name in ("train", "val"))
    # One row a validation song: no crop was held out with it, and none of its crops trained.
    assert classifier.metrics_["n_val"] == len(validated) > 0
    assert not trained.holds(validated.keys).any()
    weaker = marked_table[marked_table[tablefiles.SPLIT] == "train"]
    weaker = weaker[weaker["genre_source"] == "echonest-terms"]
    marks = classifier.learned_from(
        featurecolumns.numeric_features(weaker, classifier.feature_names_in_),
        weaker["track_id"].to_numpy())
    # Weaker labels train, unless their artist was held out to validate: then not at all.
    assert "val" not in marks and (marks == "train").sum() > len(weaker) / 2


def test_fit_without_groups_warns_that_it_holds_out_single_rows(marked_table):
    features, genres, _ = splitting.split_rows(marked_table, "train")
    with pytest.warns(UserWarning, match="holds out single rows"):
        GenreClassifier(**TINY).fit(features.to_numpy(), genres)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GenreClassifier(**TINY).fit(features, genres)


def test_the_scorer_refuses_crops_weaker_labels_and_learned_songs(marked_table):
    features, genres, _ = splitting.split_rows(marked_table, "train")
    classifier = GenreClassifier(**TINY).fit(features, genres)
    everything, all_genres, _ = splitting.split_rows(marked_table)
    with pytest.raises(scoring.LeakError, match="may only train"):
        scoring.scorer(classifier, everything, all_genres)
    songs = ~splitting.row_identity(features)[2]
    with pytest.raises(scoring.LeakError, match=r"learned from \d+ of the \d+ songs"):
        classifier.score(features[songs], genres[songs])
    # A model fitted on plain arrays knows its songs by their feature values.
    plain = GenreClassifier(**TINY, holdout_fraction=0.2).fit(
        features[songs].to_numpy(), genres[songs], groups=features[songs].index.get_level_values(
            "artist").to_numpy())
    with pytest.raises(scoring.LeakError, match="learned from"):
        scoring.scorer(plain, features[songs].to_numpy()[:10], genres[songs][:10])
    test, test_genres, _ = splitting.split_rows(marked_table, "test")
    assert 0 <= scoring.scorer(classifier, test, test_genres)["accuracy"] <= 1


@pytest.fixture(scope="module")
def real_tables(tmp_path_factory):
    """The subset's real song-level table labelled by tagtraum CD1, preprocessed with two split
    seeds, and a model trained on the first."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real MSD data not found at {SHARED_DATA} "
                    "(present in CI, absent in a fresh clone)")
    shared_data = SHARED_DATA
    folder = tmp_path_factory.mktemp("honest")
    songs = pd.read_csv(shared_data / "msd10k_songs.csv", index_col=0).drop(columns="genre")
    labels = pd.read_csv(shared_data / "tagtraum" / "msd_tagtraum_cd1.cls", sep="\t",
                         comment="#", header=None, usecols=[0, 1],
                         names=["track_id", "genre"])
    labelled = songs.merge(labels, on="track_id").assign(genre_source="cls:msd_tagtraum_cd1")
    labelled.to_csv(folder / "SongCSV.csv", index=False)
    for seed in (0, 1):
        assert preprocess.main(["--data", str(folder / "SongCSV.csv"), "--out",
                                str(folder / f"split{seed}.csv"), "--split-seed",
                                str(seed)]) == 0
    assert train.main(["--data", str(folder / "split0.csv"), "--out", str(folder / "run"),
                       *TINY_OPTIONS]) == 0
    return folder


def test_evaluate_refuses_a_re_split_table_and_scores_its_own(real_tables, capsys):
    checkpoint = real_tables / "run" / "model.pt"
    capsys.readouterr()
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data",
                          str(real_tables / "split1.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    learned, test_songs = map(int, re.search(r"learned from (\d+) of the (\d+) songs",
                                              err).groups())
    table = tablefiles.read_table(real_tables / "split1.csv")
    assert test_songs == (table[tablefiles.SPLIT] == "test").sum() and learned > 0
    assert f"trained on {real_tables / 'split0.csv'} (split seed 0)" in err
    assert evaluate.main(["--checkpoint", str(checkpoint), "--data",
                          str(real_tables / "split0.csv")]) == 0
    assert "MLP" in capsys.readouterr().out


def test_predict_marks_the_songs_the_model_learned_from(real_tables, capsys):
    out = real_tables / "predictions.csv"
    assert predict.main(["--checkpoint", str(real_tables / "run" / "model.pt"),
                         str(real_tables / "split0.csv"), "--out", str(out), "--quiet"]) == 0
    predictions = pd.read_csv(out, dtype={"learned_from": "string"})
    table = tablefiles.read_table(real_tables / "split0.csv")
    marks = predictions["learned_from"].fillna("").to_numpy()
    assert (marks == np.where(table[tablefiles.SPLIT] == "test", "",
                              table[tablefiles.SPLIT])).all()


def test_the_soft_vote_matches_the_trees_genres_by_name():
    """The trees' probability columns follow their own genres: a genre they never saw gets 0,
    not the next genre's share."""
    from sklearn.dummy import DummyClassifier
    trees = DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), ["Rap", "Rap", "Jazz", "Rap"])
    aligned = scoring.probabilities_by_genre(trees, np.zeros((1, 1)), ["Blues", "Jazz", "Rap"])
    assert aligned.tolist() == [[0.0, 0.25, 0.75]]
