"""predict.py: genres for .h5 files, folders, summary files and CSV/Parquet tables, computed the
same way from each, in chunks, kept in a CSV a user can load."""
import numpy as np
import pandas as pd
import pytest
from songs import make_song, synthetic_songcsv
from test_extract import UNTOUCHED, real_subset

import predict
import train
from dataset import features
from dataset.sample import write_song_file
from dataset.songfiles import read_song_file
from genrelearn import cleaning

TIMBRE_MEANS = [f"timbre_mean_{i}" for i in range(4)]


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    data = folder / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=300)).to_csv(data, index=False)
    assert train.main(["--data", str(data), "--out", str(folder / "run"), "--epochs", "10"]) == 0
    return folder / "run" / "model.pt"


@pytest.fixture(scope="module")
def song_level_checkpoint_path(tmp_path_factory):
    """A model of song-level features only (no segment statistics), as summary files give."""
    folder = tmp_path_factory.mktemp("predict_song_level")
    data = folder / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=300).drop(columns=TIMBRE_MEANS)).to_csv(
        data, index=False)
    assert train.main(["--data", str(data), "--out", str(folder / "run"), "--epochs", "3"]) == 0
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
    cleaning.clean(raw).to_csv(table_path, index=False)
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


def run_to_csv(capsys, checkpoint_path, *arguments):
    """(exit status, stdout, stderr) of predict.py with ``arguments`` (inputs and options)."""
    code = predict.main(["--checkpoint", str(checkpoint_path), *map(str, arguments)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_top_genres(predictions, top, classes=("Jazz", "Pop_Rock", "Rap")):
    """Each row: ``top`` distinct known genres, probabilities descending and summing to <= 1."""
    genres = predictions[["genre"] + [f"genre_{rank}" for rank in range(2, top + 1)]]
    probabilities = predictions[["probability"]
                                + [f"probability_{rank}" for rank in range(2, top + 1)]]
    assert genres.isin(classes).all().all()
    assert (genres.nunique(axis=1) == top).all()
    assert (probabilities.diff(axis=1).iloc[:, 1:] <= 0).all().all()
    # Written to 4 decimals: three rounded shares of 1 may add up to 1.00015.
    assert ((probabilities >= 0) & (probabilities <= 1)).all().all()
    assert (probabilities.sum(axis=1) <= 1 + 2e-4).all()


def test_csv_top_3_of_real_song_files(checkpoint_path, shared_data, tmp_path, capsys):
    subset = real_subset(shared_data, tmp_path / "MillionSongSubset")
    out = tmp_path / "genres.csv"
    code, printed, _ = run_to_csv(capsys, checkpoint_path, subset / "data", "--out", out,
                                  "--top", 3)
    assert code == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["track_id", "genre", "probability", "genre_2",
                                         "probability_2", "genre_3", "probability_3",
                                         "learned_from"]
    assert sorted(predictions["track_id"]) == UNTOUCHED
    assert_top_genres(predictions, 3)
    # The terminal gets a summary, not the table.
    assert printed.startswith("predicted 5 songs (") and printed.strip().endswith(f"wrote {out}")
    assert len(printed.splitlines()) == 1


def test_printed_table_shows_the_same_top_genres_as_the_csv(checkpoint_path, tmp_path, capsys):
    songcsv = tmp_path / "SongCSV.csv"
    synthetic_songcsv(n_songs=20).to_csv(songcsv, index=False)
    run_to_csv(capsys, checkpoint_path, songcsv, "--out", tmp_path / "out.csv", "--top", 2)
    _, printed, _ = run_to_csv(capsys, checkpoint_path, songcsv, "--top", 2)
    header, *lines = printed.strip().splitlines()
    assert header.split() == ["track", "genre", "probability", "genre_2", "probability_2",
                              "learned_from"]
    table = pd.DataFrame([line.split() for line in lines], columns=header.split())
    written = pd.read_csv(tmp_path / "out.csv")
    assert (table["track"] == written["track_id"]).all()
    assert (table[["genre", "genre_2"]] == written[["genre", "genre_2"]]).all().all()
    assert np.allclose(table["probability_2"].astype(float), written["probability_2"], atol=1e-3)


def test_songcsv_read_in_chunks_gives_the_predictions_of_reading_it_whole(
        checkpoint_path, tmp_path, capsys):
    songcsv = tmp_path / "SongCSV.csv"
    synthetic_songcsv(n_songs=300).to_csv(songcsv, index=False)
    for name, chunk_size in (("whole.csv", 1000), ("chunked.csv", 7)):
        code, _, _ = run_to_csv(capsys, checkpoint_path, songcsv, "--out", tmp_path / name,
                                "--top", 3, "--chunk-size", chunk_size)
        assert code == 0
    whole, chunked = pd.read_csv(tmp_path / "whole.csv"), pd.read_csv(tmp_path / "chunked.csv")
    assert len(whole) == 300
    pd.testing.assert_frame_equal(whole, chunked, atol=1e-4)


def test_parquet_table_gives_the_predictions_of_its_csv(checkpoint_path, tmp_path, capsys):
    pytest.importorskip("pyarrow", reason="needs requirements-scale.txt installed")
    table = synthetic_songcsv(n_songs=50)
    table.loc[3, "track_id"] = None  # named by its row instead
    table.to_csv(tmp_path / "songs.csv", index=False)
    table.to_parquet(tmp_path / "songs.parquet")
    for source in ("songs.csv", "songs.parquet"):
        assert run_to_csv(capsys, checkpoint_path, tmp_path / source, "--out",
                          tmp_path / f"{source}.out.csv", "--chunk-size", 8)[0] == 0
    from_csv = pd.read_csv(tmp_path / "songs.csv.out.csv")
    from_parquet = pd.read_csv(tmp_path / "songs.parquet.out.csv")
    assert from_csv["track_id"][3] == f"{tmp_path / 'songs.csv'}:5"  # its line in the file
    assert from_parquet["track_id"][3] == f"{tmp_path / 'songs.parquet'}:row 4"
    pd.testing.assert_frame_equal(from_csv.drop(index=3), from_parquet.drop(index=3), atol=1e-4)


def test_a_table_with_crops_gives_one_row_per_song(checkpoint_path, tmp_path, capsys):
    """Extract's table with --crops holds each song and its crops: one prediction a song, even
    when a chunk holds only crops."""
    pytest.importorskip("pyarrow", reason="needs requirements-scale.txt installed")
    songs = synthetic_songcsv(n_songs=20).assign(crop=0)
    crops = [songs.assign(crop=number) for number in (1, 2, 3, 4)]
    table = pd.concat([songs] + crops, ignore_index=True)  # the songs first, then only crops
    table.to_parquet(tmp_path / "songs.parquet")
    assert run_to_csv(capsys, checkpoint_path, tmp_path / "songs.parquet", "--out",
                      tmp_path / "genres.csv", "--chunk-size", 10)[0] == 0
    predicted = pd.read_csv(tmp_path / "genres.csv")
    assert predicted["track_id"].tolist() == songs["track_id"].tolist()


def test_summary_file_gives_one_row_per_song(song_level_checkpoint_path, tmp_path, capsys):
    summary = tmp_path / "msd_summary_file.h5"
    track_ids = [f"TRSUMMARY{number:09d}" for number in range(25)]
    write_song_file(summary, [make_song(track_id, seed=number)
                              for number, track_id in enumerate(track_ids)], arrays=False)
    out = tmp_path / "genres.csv"
    # Parts of 10 songs: the file is read as a big summary file is, part by part.
    code, printed, _ = run_to_csv(capsys, song_level_checkpoint_path, summary, "--out", out,
                                  "--chunk-size", 10)
    assert code == 0 and "predicted 25 songs" in printed
    assert pd.read_csv(out)["track_id"].tolist() == track_ids


def test_segment_model_on_a_summary_file_names_the_missing_columns(checkpoint_path, tmp_path,
                                                                   capsys):
    summary = tmp_path / "msd_summary_file.h5"
    write_song_file(summary, [make_song("TRSUMMARY000000000")], arrays=False)
    out = tmp_path / "genres.csv"
    code, _, err = run_to_csv(capsys, checkpoint_path, summary, "--out", out)
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and err.startswith(f"error: {summary}: missing feature columns: "
                                                   + ", ".join(TIMBRE_MEANS))
    assert set(TIMBRE_MEANS) <= set(features.SEGMENT_COLUMNS)


@pytest.mark.parametrize("name, content", [
    ("binary.csv", bytes(range(256)) * 4),
    ("empty.csv", b""),
    ("text.csv", b"track_id,year,duration,tempo,danceability,energy,timbre_mean_0,timbre_mean_1,"
                 b"timbre_mean_2,timbre_mean_3\nTR1,1999,200,120,0,0,a,b,c,d\n"),
    ("broken.parquet", b"PAR1 not parquet"),
    ("broken.h5", b"not hdf5"),
])
def test_unreadable_input_is_one_line_and_nothing_written(checkpoint_path, tmp_path, capsys,
                                                          name, content):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow", reason="needs requirements-scale.txt installed")
    (tmp_path / name).write_bytes(content)
    out = tmp_path / "genres.csv"
    code, printed, err = run_to_csv(capsys, checkpoint_path, tmp_path / name, "--out", out)
    assert code == 2 and printed == ""
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [tmp_path / name]  # no genres.csv, no .partial


def test_top_beyond_the_models_genres_is_one_line(checkpoint_path, song_folder, capsys):
    code, printed, err = run_to_csv(capsys, checkpoint_path, song_folder, "--top", 4)
    assert code == 2 and printed == ""
    assert err == "error: --top 4: the model knows only 3 genres\n"


def test_ctrl_c_while_writing_leaves_no_output(checkpoint_path, tmp_path, capsys, monkeypatch):
    songcsv = tmp_path / "SongCSV.csv"
    synthetic_songcsv(n_songs=50).to_csv(songcsv, index=False)
    predicted = []

    def predict_then_ctrl_c(*arguments):
        if predicted:
            raise KeyboardInterrupt  # pressed after the first chunk was written
        predicted.append(predict_chunk(*arguments))
        return predicted[-1]

    predict_chunk = predict.predict
    monkeypatch.setattr(predict, "predict", predict_then_ctrl_c)
    out = tmp_path / "genres.csv"
    code, printed, err = run_to_csv(capsys, checkpoint_path, songcsv, "--out", out,
                                    "--chunk-size", 10)
    assert code == 130 and printed == ""
    assert err.strip() == f"interrupted: {out} not written"
    assert sorted(tmp_path.iterdir()) == [songcsv]
