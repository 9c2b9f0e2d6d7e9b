"""preprocess.py and genrelearn.cleaning: what is dropped, which columns are features, an
artist-disjoint stratified split."""
import numpy as np
import pandas as pd
import pytest
from songs import GENRE_SHARES, synthetic_songcsv

import preprocess
from genrelearn import cleaning, splitting, summaries, tablefiles


def test_drops_unlabelled_duplicate_rare_constant_and_text():
    raw = synthetic_songcsv()
    raw.loc[0, "genre"] = None
    raw = pd.concat([raw, raw.iloc[[5, 6]]], ignore_index=True)  # two duplicate songs
    raw.loc[len(raw)] = raw.iloc[7].to_dict() | {"track_id": "TRRARE", "song_id": "SORARE",
                                                "artist_id": "ARRARE", "genre": "Polka"}
    notes = []
    table = cleaning.clean(raw, min_per_genre=5, notes=notes)

    assert len(table) == 299  # 300 - unlabelled; duplicates and the lone Polka song gone
    assert table["track_id"].is_unique
    assert set(table["genre"]) == set(GENRE_SHARES)
    assert tablefiles.feature_names_of(table) == ["year", "duration", "tempo"] + [
        f"timbre_mean_{i}" for i in range(4)]
    assert table["year"].isna().any()  # gaps stay: the classifier imputes and flags them
    text = "\n".join(notes)
    for reason in ("without a genre", "duplicate", "Polka (1)", "danceability, energy",
                   "missing values", "(identifier or label): track_id, song_id, artist_id, genre",
                   "(text): artist_name, title"):
        assert reason in text


def test_every_numeric_column_of_a_foreign_table_is_a_feature():
    """The MSD genre dataset (msd_genre_dataset.txt) has 30 numeric features of its own."""
    rng = np.random.default_rng(1)
    n = 200
    foreign = pd.DataFrame({
        "genre": rng.choice(["metal", "jazz and blues", "pop"], n),
        "track_id": [f"TR{i:016d}" for i in range(n)],
        "artist_name": [f"Artist {i % 40}" for i in range(n)], "title": [f"T{i}" for i in range(n)],
        "loudness": rng.normal(-10, 3, n), "tempo": rng.uniform(60, 200, n),
        "time_signature": rng.integers(1, 7, n), "key": rng.integers(0, 12, n),
        "mode": rng.integers(0, 2, n), "duration": rng.uniform(100, 400, n),
        **{f"avg_timbre{i}": rng.normal(size=n) for i in range(1, 13)},
        **{f"var_timbre{i}": rng.gamma(2, size=n) for i in range(1, 13)},
    })
    notes = []
    table = cleaning.clean(foreign, notes=notes)
    features = tablefiles.feature_names_of(table)
    assert len(features) == 30 and {"avg_timbre12", "var_timbre1", "key"} <= set(features)
    assert "track_id" not in features and "artist_name, title" in "\n".join(notes)


@pytest.mark.parametrize("name", ["track_id", "song_id", "artist_id", "artist_mbid",
                                  "artist_7digitalid", "track_7digitalid", "artist_playmeid",
                                  "idx_segments_start", "shs_work", "Unnamed: 0", "id", "ID",
                                  "trackId", "TrackID", "index", "song.id"])
def test_identifiers_are_recognised(name):
    assert tablefiles.is_identifier(name)


@pytest.mark.parametrize("name", ["key", "mode", "tempo", "year", "duration", "loudness",
                                  "avg_timbre1", "artist_latitude", "acid", "valid",
                                  "timbre_mean_0", "segments_per_second"])
def test_features_are_not_mistaken_for_identifiers(name):
    assert not tablefiles.is_identifier(name)


def test_features_and_exclude_choose_columns_by_pattern():
    raw = synthetic_songcsv()
    only = cleaning.clean(raw, include=["timbre_*", "tempo"])
    assert tablefiles.feature_names_of(only) == ["tempo"] + [f"timbre_mean_{i}" for i in range(4)]
    without = cleaning.clean(raw, exclude=["timbre_mean_[23]", "year"])
    assert tablefiles.feature_names_of(without) == ["duration", "tempo", "timbre_mean_0",
                                                   "timbre_mean_1"]
    with pytest.raises(tablefiles.TableError, match="'pitch_\\*' matches no numeric feature"):
        cleaning.clean(raw, include=["pitch_*"])


def test_split_is_artist_disjoint_stratified_and_seeded():
    raw = synthetic_songcsv(n_songs=600)
    table = cleaning.clean(raw, split=cleaning.Split(seed=3))
    artists = {split: set(table.loc[table["split"] == split, "artist_id"])
               for split in splitting.SPLITS}
    assert not artists["train"] & artists["test"]
    assert not artists["train"] & artists["val"]
    assert not artists["val"] & artists["test"]
    shares = table["split"].value_counts(normalize=True)
    assert 0.6 < shares["train"] < 0.8 and 0.08 < shares["test"] < 0.22
    counts = splitting.split_counts(table)
    assert (counts.loc[list(GENRE_SHARES), list(splitting.SPLITS)] > 0).all().all()

    again = cleaning.clean(raw, split=cleaning.Split(seed=3))
    other = cleaning.clean(raw, split=cleaning.Split(seed=4))
    assert (again["split"] == table["split"]).all()
    assert (other["split"] != table["split"]).any()


def test_without_artist_id_split_is_by_song():
    table = cleaning.clean(synthetic_songcsv().drop(columns="artist_id"))
    assert "artist_id" not in table.columns
    assert set(table["split"]) == set(splitting.SPLITS)


def test_compact_lists_every_column_briefly():
    names = ["year"] + [f"timbre_mean_{i}" for i in range(12)] + ["pitch_mean_0", "tempo"]
    assert summaries.compact(names) == "year, timbre_mean_0…11, pitch_mean_0, tempo"


def test_cli_writes_table_and_prints_counts_and_features(tmp_path, capsys):
    source, output = tmp_path / "SongCSV.csv", tmp_path / "out" / "pre.csv"
    synthetic_songcsv().to_csv(source, index=False)
    assert preprocess.main(["--data", str(source), "--out", str(output),
                            "--exclude", "year"]) == 0
    printed = capsys.readouterr().out
    assert "danceability" in printed and "Pop_Rock" in printed and "train" in printed
    assert "features (6): duration, tempo, timbre_mean_0…3" in printed
    written = pd.read_csv(output)
    assert list(written.columns[:6]) == ["track_id", "artist_id", "genre", "genre_source",
                                         "split", "split_seed"]
    assert len(written) == 300
    assert list(output.parent.iterdir()) == [output]  # no temporary left behind


@pytest.mark.parametrize("change, options, message", [
    (lambda t: t.drop(columns="genre"), [], "no 'genre' column"),
    (lambda t: t.assign(genre="Rap"), [], "at least two genres"),
    (lambda t: t[["track_id", "artist_id", "title", "genre"]], [], "no numeric feature column"),
    (lambda t: t, ["--features", "tempi"], "'tempi' matches no numeric feature column"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, change, options, message):
    source = tmp_path / "SongCSV.csv"
    change(synthetic_songcsv()).to_csv(source, index=False)
    output = tmp_path / "pre.csv"
    assert preprocess.main(["--data", str(source), "--out", str(output), *options]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not output.exists()


def test_text_in_a_feature_column_makes_it_text_not_a_crash():
    raw = synthetic_songcsv().assign(tempo="fast")
    notes = []
    assert "tempo" not in tablefiles.feature_names_of(cleaning.clean(raw, notes=notes))
    assert "not features (text): artist_name, title, tempo" in notes


def test_cli_missing_file(tmp_path, capsys):
    assert preprocess.main(["--data", str(tmp_path / "absent.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_output_under_a_file_is_one_line_and_exit_2(tmp_path, capsys):
    source = tmp_path / "SongCSV.csv"
    synthetic_songcsv().to_csv(source, index=False)
    output = source / "pre.csv"
    assert preprocess.main(["--data", str(source), "--out", str(output)]) == 2
    error = capsys.readouterr().err
    assert f"{output}: cannot write it" in error and len(error.strip().splitlines()) == 1


def test_train_only_labels_never_validate_or_test_and_never_teach_a_held_out_artist():
    raw = synthetic_songcsv(n_songs=600)
    weak = raw.index % 4 == 0
    raw.loc[weak, "genre_source"] = "echonest-terms"
    notes = []
    table = cleaning.clean(raw, train_only=["echonest-*"], notes=notes)
    train_only = splitting.train_only_mask(table)
    assert train_only.any() and set(table.loc[train_only, "split"]) == {"train"}
    held_out = set(table.loc[table["split"] != "train", "artist_id"])
    assert not held_out & set(table.loc[train_only, "artist_id"])
    assert any("train-only songs (weaker labels) added to the train split" in n for n in notes)
    # The split itself is made of the other songs, as without train-only sources.
    others = cleaning.clean(raw[~weak])
    assert len(table[~train_only]) == len(others)

    features, genres, artists = splitting.split_rows(table)
    for train, test in splitting.fold_rows(genres, artists, train_only, 3, seed=0):
        assert not train_only[test].any()
        assert not set(artists[test]) & set(artists[train])
        assert train_only[train].any()


def test_train_only_songs_do_not_count_for_min_per_genre():
    raw = synthetic_songcsv(n_songs=300)
    raw.loc[:, "genre_source"] = "lastfm"
    extra = raw.iloc[:12].assign(genre="Polka", genre_source="echonest-terms",
                                 track_id=[f"TRX{i}" for i in range(12)],
                                 song_id=[f"SOX{i}" for i in range(12)])
    table = cleaning.clean(pd.concat([raw, extra], ignore_index=True),
                            train_only=["echonest-terms"])
    assert "Polka" not in set(table["genre"])


def with_crops(raw, count=2):
    """``raw``'s songs, each followed by ``count`` crops (extract --crops): the song's columns,
    another timbre."""
    rows = []
    for _, song in raw.iterrows():
        rows.append(song.to_dict() | {"crop": 0})
        rows += [song.to_dict() | {"crop": number,
                                   "timbre_mean_0": song["timbre_mean_0"] + 0.1 * number}
                 for number in range(1, count + 1)]
    return pd.DataFrame(rows)


def test_crops_only_train_with_their_song_and_never_reach_val_or_test():
    raw = synthetic_songcsv(n_songs=300)
    notes = []
    table = cleaning.clean(with_crops(raw), notes=notes)
    crops = splitting.crop_mask(table).to_numpy()
    train_only = splitting.train_only_mask(table)
    assert crops.any() and (train_only == crops).all()
    assert "crop" not in tablefiles.feature_names_of(table)
    # The songs split as they do without crops; each train song keeps its 2 crops, the
    # others lose theirs.
    songs = table[~crops]
    assert songs.drop(columns=["crop", "train_only"]).reset_index(drop=True).equals(
        cleaning.clean(raw))
    train_songs = set(songs.loc[songs["split"] == "train", "track_id"])
    assert set(table.loc[crops, "split"]) == {"train"}
    assert table.loc[crops, "track_id"].value_counts().to_dict() == dict.fromkeys(train_songs, 2)
    assert any(f"{2 * len(train_songs)} crops of songs added to the train split" in note
               for note in notes)
    # Cross-validation: a fold's test songs never have a crop among its training rows.
    _, genres, artists = splitting.split_rows(table)
    for train, test in splitting.fold_rows(genres, artists, train_only, 3, seed=0):
        assert not crops[test].any() and crops[train].any()
        assert not set(table["track_id"].iloc[test]) & set(table["track_id"].iloc[train])


def test_crops_are_no_duplicates_and_no_songs_for_min_per_genre():
    raw = synthetic_songcsv(n_songs=300)
    polka = raw.iloc[:4].assign(genre="Polka", track_id=[f"TRX{i}" for i in range(4)],
                                song_id=[f"SOX{i}" for i in range(4)])
    doubled = pd.concat([raw, polka, raw.iloc[:1]], ignore_index=True)  # one song twice
    notes = []
    table = cleaning.clean(with_crops(doubled, count=3), min_per_genre=10, notes=notes)
    assert "Polka" not in set(table["genre"])  # 4 songs + 12 crops are still 4 songs
    assert "dropped 1 duplicate songs (same track_id)" in notes
    counts = table.loc[splitting.crop_mask(table), "track_id"].value_counts()
    assert set(counts) == {3}


def test_crops_of_songs_with_training_only_labels_are_dropped():
    raw = synthetic_songcsv(n_songs=300)
    weak = raw.index % 4 == 0
    raw.loc[weak, "genre_source"] = "echonest-terms"
    notes = []
    table = cleaning.clean(with_crops(raw), train_only=["echonest-*"], notes=notes)
    crops = splitting.crop_mask(table)
    weak_songs = set(raw.loc[weak, "track_id"])
    assert crops.any() and not weak_songs & set(table.loc[crops, "track_id"])
    assert weak_songs & set(table.loc[~crops, "track_id"])  # the songs themselves still train
    assert f"dropped {2 * weak.sum()} crops of songs with training-only labels" in notes


def test_cli_counts_songs_and_crops_apart(tmp_path, capsys):
    source, output = tmp_path / "SongCSV.csv", tmp_path / "pre.csv"
    with_crops(synthetic_songcsv()).to_csv(source, index=False)
    assert preprocess.main(["--data", str(source), "--out", str(output)]) == 0
    printed = capsys.readouterr().out
    written = tablefiles.read_table(output)
    crops = splitting.crop_mask(written)
    train = (written.loc[~crops, "split"] == "train").sum()
    assert f"kept 300 songs and {2 * train} crops," in printed
    assert f"{2 * train} crops of songs added to the train split" in printed
    # The split table counts songs: its train column sums to the train songs, not their crops.
    counts = splitting.split_counts(written)
    assert counts.loc["all", "train"] == train and counts.loc["all", "all"] == 300
