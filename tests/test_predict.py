"""predict.py: genres for .h5 files, folders and CSVs, computed the same way from each."""
import numpy as np
import pandas as pd
import pytest

import predict
import songtable
import train
from dataset.songfiles import read_song_file
from dataset.sample import write_song_file
from test_extract import UNTOUCHED, real_subset
from songs import synthetic_songcsv


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    data = folder / "pre.csv"
    songtable.clean(synthetic_songcsv(n_songs=300)).to_csv(data, index=False)
    assert train.main(["--data", str(data), "--out", str(folder / "run"), "--epochs", "10"]) == 0
    return folder / "run" / "model.pt"


@pytest.fixture
def song_folder(tmp_path):
    """Three single-track .h5 files in a nested folder (one without a year)."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "songs" / "A"
    folder.mkdir(parents=True)
    for i, year in enumerate((1999, 0, 1975)):
        write_song_file(folder / f"TRTEST{i}.h5", [{
            "track_id": f"TRTEST{i}", "artist_id": f"ARTEST{i}", "title": f"Song {i}",
            "duration": 200.0 + i, "tempo": 100.0 + 10 * i, "year": year,
            "segments_start": np.arange(30.0), "segments_timbre": rng.normal(0, 3, (30, 12)),
            "segments_pitches": rng.random((30, 12)),
        }])
    return tmp_path / "songs"


def run_predict(capsys, checkpoint_path, *inputs):
    code = predict.main(["--checkpoint", str(checkpoint_path), *map(str, inputs)])
    captured = capsys.readouterr()
    rows = [line.split() for line in captured.out.strip().splitlines()[1:]]
    return code, {row[0]: (row[1], float(row[2])) for row in rows}, captured.err


def test_folder_of_h5_files_and_their_csv_agree(checkpoint_path, song_folder, tmp_path, capsys):
    code, from_h5, _ = run_predict(capsys, checkpoint_path, song_folder)
    assert code == 0
    assert set(from_h5) == {"TRTEST0", "TRTEST1", "TRTEST2"}
    assert all(genre in {"Jazz", "Pop_Rock", "Rap"} and 0 < p <= 1
               for genre, p in from_h5.values())
    # The same songs as the extract step writes them: same features, same answers.
    rows = [row for path in sorted(song_folder.rglob("*.h5")) for row in read_song_file(path)]
    songcsv = tmp_path / "SongCSV.csv"
    pd.DataFrame(rows).to_csv(songcsv, index=False)
    code, from_csv, _ = run_predict(capsys, checkpoint_path, songcsv)
    assert code == 0 and from_csv == from_h5


def test_raw_songcsv_and_its_training_table_agree(checkpoint_path, tmp_path, capsys):
    raw = synthetic_songcsv(n_songs=300)
    assert raw["year"].isna().any()
    raw_path, table_path = tmp_path / "raw.csv", tmp_path / "table.csv"
    raw.to_csv(raw_path, index=False)
    songtable.clean(raw).to_csv(table_path, index=False)
    _, from_raw, _ = run_predict(capsys, checkpoint_path, raw_path)
    _, from_table, _ = run_predict(capsys, checkpoint_path, table_path)
    assert len(from_raw) == 300 and from_raw == from_table


def test_unreadable_file_is_skipped_and_named(checkpoint_path, song_folder, capsys):
    (song_folder / "A" / "broken.h5").write_bytes(b"not hdf5")
    code, predictions, err = run_predict(capsys, checkpoint_path, song_folder)
    assert code == 1
    assert len(predictions) == 3
    assert "skipped" in err and "broken.h5" in err


def test_csv_without_model_features_names_them(checkpoint_path, tmp_path, capsys):
    lacking = tmp_path / "lacking.csv"
    synthetic_songcsv().drop(columns=["tempo", "timbre_mean_2"]).to_csv(lacking, index=False)
    code, _, err = run_predict(capsys, checkpoint_path, lacking)
    assert code == 2
    assert err.strip() == "error: missing feature columns: tempo, timbre_mean_2"


def test_missing_path_and_checkpoint_exit_2(checkpoint_path, tmp_path, capsys):
    code, _, err = run_predict(capsys, checkpoint_path, tmp_path / "nowhere")
    assert code == 2 and "no such file or folder" in err
    code, _, err = run_predict(capsys, tmp_path / "none.pt", tmp_path)
    assert code == 2 and "no such checkpoint" in err


def test_real_song_files(checkpoint_path, shared_data, tmp_path, capsys):
    # The unpacked subset's layout with its 5 untouched song files and the summary file.
    subset = real_subset(shared_data, tmp_path / "MillionSongSubset")
    code, predictions, err = run_predict(capsys, checkpoint_path, subset)
    assert code == 0
    assert sorted(predictions) == UNTOUCHED
    assert "passed over" in err and "subset_msd_summary_file.h5" in err
