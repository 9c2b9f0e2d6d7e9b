"""Tables on disk: CSV, a Parquet file and a folder of Parquet parts read alike (features as one
float32 block, splits as slices), written whole; preprocess and train on Parquet as on CSV."""
import numpy as np
import pandas as pd
import pytest
import torch
from songs import synthetic_songcsv

import preprocess
import train
from genrelearn import cleaning, featurecolumns, splitting, tablefiles
from genrelearn.classifier import GenreClassifier

pytest.importorskip("pyarrow", reason="Parquet needs requirements-scale.txt installed")


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """A SongCSV with crops as a CSV, a Parquet file and a folder of two Parquet parts."""
    folder = tmp_path_factory.mktemp("tables")
    table = synthetic_songcsv(n_songs=200).assign(crop=0)
    crops = table.assign(crop=1, duration=table["duration"] / 2)
    table = pd.concat([table, crops], ignore_index=True)
    table.loc[5, "year"] = np.nan
    table.to_csv(folder / "SongCSV.csv", index=False)
    table.to_parquet(folder / "SongCSV.parquet")
    (folder / "parts.parquet").mkdir()
    table.iloc[:150].to_parquet(folder / "parts.parquet" / "part-00000.parquet")
    table.iloc[150:].to_parquet(folder / "parts.parquet" / "part-00001.parquet")
    return folder


@pytest.mark.parametrize("name", ["SongCSV.csv", "SongCSV.parquet", "parts.parquet"])
def test_every_format_reads_as_one_float32_block_after_the_text(songs, name):
    table = tablefiles.read(songs / name)
    numbers = [column for column in table.columns if table[column].dtype == np.float32]
    assert numbers == ["year", "duration", "tempo", "danceability", "energy",
                       "timbre_mean_0", "timbre_mean_1", "timbre_mean_2", "timbre_mean_3"]
    assert list(table.columns[-len(numbers):]) == numbers
    block = table[numbers].to_numpy()
    assert np.shares_memory(block, table.iloc[10:20][numbers].to_numpy())  # a slice, no copy
    expected = pd.read_csv(songs / "SongCSV.csv")
    assert table["track_id"].tolist() == expected["track_id"].tolist()
    assert np.array_equal(block, expected[numbers].to_numpy(np.float32), equal_nan=True)
    assert table.attrs["file_rows"] == len(expected)


def test_splits_come_grouped_and_crops_can_stay_on_disk(tmp_path):
    table = cleaning.clean(synthetic_songcsv(n_songs=200))
    table.to_parquet(tmp_path / "pre.parquet")
    read = tablefiles.read(tmp_path / "pre.parquet", splits=("train", "test"))
    assert read["split"].tolist() == sorted(read["split"].tolist(), key=("train", "test").index)
    assert len(read) == (table["split"] != "val").sum()
    assert read.attrs["file_rows"] == len(table)
    features, genres, _ = splitting.split_rows(read, "train")
    assert np.shares_memory(features.to_numpy(), read.iloc[:, -1].to_numpy())


def test_only_the_text_columns_asked_for_are_read_the_others_named(songs):
    table = tablefiles.read(songs / "parts.parquet", text=cleaning.CLEANING_COLUMNS)
    assert "title" not in table.columns and "artist_name" in table.attrs["unread"]
    _, others = featurecolumns.candidate_features(table)
    assert others["title"] == "text" and others["song_id"] == "identifier or label"


def test_a_folder_without_parts_and_a_damaged_part_are_one_line_errors(tmp_path):
    (tmp_path / "empty.parquet").mkdir()
    with pytest.raises(tablefiles.TableError, match="no Parquet file in this folder"):
        tablefiles.read(tmp_path / "empty.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(tablefiles.TableError, match="not a readable Parquet table"):
        tablefiles.read(tmp_path / "bad.parquet")


def test_preprocess_and_train_on_parquet_as_on_csv(songs, tmp_path, capsys):
    for source, output in (("SongCSV.csv", "pre.csv"), ("parts.parquet", "pre.parquet")):
        assert preprocess.main(["--data", str(songs / source), "--out",
                                str(tmp_path / output)]) == 0
    from_csv = pd.read_csv(tmp_path / "pre.csv")
    from_parquet = pd.read_parquet(tmp_path / "pre.parquet")
    assert list(from_parquet.columns) == list(from_csv.columns)
    numbers = tablefiles.feature_names_of(from_csv)
    assert (from_parquet[numbers].dtypes == np.float32).all()
    assert np.array_equal(from_parquet[numbers].to_numpy(),
                          from_csv[numbers].to_numpy(np.float32), equal_nan=True)
    assert from_parquet["split"].tolist() == from_csv["split"].tolist()
    options = ["--epochs", "5", "--hidden", "16", "--ensemble", "1"]
    for name in ("csv", "parquet"):
        assert train.main(["--data", str(tmp_path / f"pre.{name}"), "--out",
                           str(tmp_path / name), *options]) == 0
    models = [GenreClassifier.load(tmp_path / name / "model.pt").network_
              for name in ("csv", "parquet")]
    assert all(torch.equal(*pair) for pair in zip(*(model.parameters() for model in models)))


def test_fit_overwrites_a_tables_features_only_when_told(tmp_path):
    """train.py lets fit turn the table's train rows into the inputs in place (a million
    songs' table held once): the same model as with a copy, and by default X is left alone."""
    table = cleaning.clean(synthetic_songcsv(n_songs=200))
    table.to_parquet(tmp_path / "pre.parquet")
    models = []
    for copy_X in (True, False):
        read = tablefiles.read(tmp_path / "pre.parquet", splits=("train", "val"))
        features, genres, _ = splitting.split_rows(read, "train")
        before = features.to_numpy().copy()
        models.append(GenreClassifier(epochs=3, hidden=(8,), ensemble=1).fit(
            features, genres, eval_set=splitting.split_rows(read, "val")[:2], copy_X=copy_X))
        assert np.array_equal(features.to_numpy(), before, equal_nan=True) == copy_X
    assert all(torch.equal(*pair) for pair in zip(*(model.network_.parameters()
                                                     for model in models)))
