"""preprocess.py: what is dropped, what is kept, and an artist-disjoint stratified split."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import preprocess

GENRE_SHARES = {"Pop_Rock": 0.6, "Rap": 0.25, "Jazz": 0.15}


def synthetic_songcsv(n_songs=300, seed=0, songs_per_artist=5):
    """A SongCSV-style table whose genres are learnable from timbre_mean_0..3.

    Each artist sings one genre; year is missing for a third of the songs; danceability and
    energy are 0 everywhere, as in the real data.
    """
    rng = np.random.default_rng(seed)
    n_artists = n_songs // songs_per_artist
    artist_genres = rng.choice(list(GENRE_SHARES), size=n_artists, p=list(GENRE_SHARES.values()))
    artist = np.repeat(np.arange(n_artists), songs_per_artist)
    genres = artist_genres[artist]
    centres = {genre: rng.normal(0, 3, 4) for genre in GENRE_SHARES}
    table = pd.DataFrame({
        "track_id": [f"TR{i:016d}" for i in range(len(artist))],
        "song_id": [f"SO{i:016d}" for i in range(len(artist))],
        "artist_id": [f"AR{a:016d}" for a in artist],
        "artist_name": [f"Artist {a}" for a in artist],
        "title": [f"Song {i}" for i in range(len(artist))],
        "year": np.where(rng.random(len(artist)) < 0.33, np.nan,
                         rng.integers(1960, 2010, len(artist))),
        "duration": rng.uniform(120, 400, len(artist)),
        "tempo": rng.uniform(60, 180, len(artist)),
        "danceability": 0.0,
        "energy": 0.0,
    })
    for i in range(4):
        table[f"timbre_mean_{i}"] = [centres[g][i] + rng.normal() for g in genres]
    table["genre"] = genres
    table["genre_source"] = "synthetic"
    return table


def test_drops_unlabelled_duplicate_rare_constant_and_text(capsys):
    raw = synthetic_songcsv()
    raw.loc[0, "genre"] = None
    raw = pd.concat([raw, raw.iloc[[5, 6]]], ignore_index=True)  # two duplicate songs
    raw.loc[len(raw)] = raw.iloc[7].to_dict() | {"track_id": "TRRARE", "song_id": "SORARE",
                                                "artist_id": "ARRARE", "genre": "Polka"}
    notes = []
    table = preprocess.preprocess(raw, min_per_genre=5, notes=notes)

    assert len(table) == 299  # 300 - unlabelled; duplicates and the lone Polka song gone
    assert table["track_id"].is_unique
    assert set(table["genre"]) == set(GENRE_SHARES)
    features = preprocess.feature_names_of(table)
    assert "danceability" not in features and "energy" not in features
    assert not {"song_id", "artist_name", "title", "genre_source", "track_id", "artist_id"} \
        & set(features)
    assert {"year", "year_missing", "duration", "timbre_mean_0"} <= set(features)
    assert (table["year_missing"] == table["year"].isna()).all()
    text = "\n".join(notes)
    for reason in ("without a genre", "duplicate", "Polka (1)", "danceability, energy",
                   "year"):
        assert reason in text


def test_split_is_artist_disjoint_stratified_and_seeded():
    raw = synthetic_songcsv(n_songs=600)
    table = preprocess.preprocess(raw, seed=3)
    artists = {split: set(table.loc[table["split"] == split, "artist_id"])
               for split in preprocess.SPLITS}
    assert not artists["train"] & artists["test"]
    assert not artists["train"] & artists["val"]
    assert not artists["val"] & artists["test"]
    shares = table["split"].value_counts(normalize=True)
    assert 0.6 < shares["train"] < 0.8 and 0.08 < shares["test"] < 0.22
    counts = preprocess.split_counts(table)
    assert (counts.loc[list(GENRE_SHARES), list(preprocess.SPLITS)] > 0).all().all()

    again = preprocess.preprocess(raw, seed=3)
    other = preprocess.preprocess(raw, seed=4)
    assert (again["split"] == table["split"]).all()
    assert (other["split"] != table["split"]).any()


def test_without_artist_id_split_is_by_song():
    table = preprocess.preprocess(synthetic_songcsv().drop(columns="artist_id"))
    assert "artist_id" not in table.columns
    assert set(table["split"]) == set(preprocess.SPLITS)


def test_cli_writes_table_and_prints_counts(tmp_path, capsys):
    source, output = tmp_path / "SongCSV.csv", tmp_path / "out" / "pre.csv"
    synthetic_songcsv().to_csv(source, index=False)
    assert preprocess.main(["--input", str(source), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "danceability" in printed and "Pop_Rock" in printed and "train" in printed
    written = pd.read_csv(output)
    assert list(written.columns[:4]) == ["track_id", "artist_id", "genre", "split"]
    assert len(written) == 300
    assert list(output.parent.iterdir()) == [output]  # no temporary left behind


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="genre"), "no 'genre' column"),
    (lambda t: t.assign(genre="Rap"), "at least two genres"),
    (lambda t: t[["track_id", "artist_id", "title", "genre"]], "no numeric feature column"),
    (lambda t: t.assign(tempo="fast"), "'tempo' is not numeric"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, change, message):
    source = tmp_path / "SongCSV.csv"
    change(synthetic_songcsv()).to_csv(source, index=False)
    output = tmp_path / "pre.csv"
    assert preprocess.main(["--input", str(source), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not output.exists()


def test_cli_missing_file(tmp_path, capsys):
    assert preprocess.main(["--input", str(tmp_path / "absent.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_output_under_a_file_is_one_line_and_exit_2(tmp_path, capsys):
    source = tmp_path / "SongCSV.csv"
    synthetic_songcsv().to_csv(source, index=False)
    output = source / "pre.csv"
    assert preprocess.main(["--input", str(source), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert f"{output}: cannot write it" in error and len(error.strip().splitlines()) == 1


def load_real_benchmark():
    """bench/real_benchmark.py as a module (bench/ is a folder of scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "bench" / "real_benchmark.py"
    spec = importlib.util.spec_from_file_location("real_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_benchmark_table(shared_data):
    raw = load_real_benchmark().build_songcsv(shared_data)
    assert len(raw) == 1136
    table = preprocess.preprocess(raw)
    assert len(table) == 1126 and table["genre"].nunique() == 11
    features = preprocess.feature_names_of(table)
    assert {"timbre_mean_11", "pitch_mean_0", "tempo"} <= set(features)
    assert "danceability" not in features
    train_artists = set(table.loc[table["split"] == "train", "artist_id"])
    assert not train_artists & set(table.loc[table["split"] == "test", "artist_id"])
