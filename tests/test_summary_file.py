"""Summary files read in blocks and extracted in parts: the rows of a whole read, in flat memory.

The real subset summary file (10,000 songs) is read with blocks and parts smaller than its own
10,000 rows and not multiples of its tables' chunks (3, 37 and 1,024 rows), so every boundary
case comes up; a generated summary file of 30,000 rows, the subset's rows tiled as
bench/bench_summary.py builds a million, is split by the default part size.
"""
import csv
import functools
import hashlib
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

from dataset import extract, features, hdf5_getters, labels, songfiles
from dataset.sample import write_song_file
from songs import make_song
from test_extract import ROOT, InterruptingSource, read_csv, write_tree
from test_interrupt import assert_stopped_cleanly, press_ctrl_c_when, start, written

SUMMARY = "MillionSongSubset/AdditionalFiles/subset_msd_summary_file.h5"
BLOCK = 701  # rows: no multiple of the real tables' chunks
# sha256 of `python -m dataset.extract SUMMARY --no-segments --out X.csv` on the real subset
# summary file at 7c84202, before blocks and parts: one field of one row at a time.
PER_ROW_CSV_SHA256 = "a76163b2964e8fae73994aa774331a9b49bf00333634f9dbdd597d6b0bc63bfe"
NUMBERS = ("duration", "key", "key_confidence", "mode", "tempo", "loudness", "end_of_fade_in",
           "start_of_fade_out", "artist_familiarity", "artist_hotttnesss", "song_hotttnesss",
           "artist_latitude", "artist_longitude")


@pytest.fixture
def summary(shared_data):
    return shared_data / SUMMARY


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(features, "SONG_TABLE_BLOCK", BLOCK)


def in_parts_of(monkeypatch, songs):
    """extract splits big files into parts of ``songs`` songs."""
    monkeypatch.setattr(extract, "file_parts",
                        functools.partial(songfiles.file_parts, songs_per_part=songs))


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def same_number(ours, published):
    expected = float(published) if published else math.nan
    return (math.isnan(ours) and math.isnan(expected)) or math.isclose(ours, expected,
                                                                       rel_tol=1e-6)


def test_blocks_give_the_subsets_published_song_fields(summary, shared_data, small_blocks):
    with hdf5_getters.open_h5_file_read(summary) as h5:
        rows = list(features.file_features(h5, segments=False))
    assert len(rows) == 10_000 and list(rows[0]) == list(features.columns(segments=False))
    with open(shared_data / "msd10k_songs.csv", newline="", encoding="utf-8") as stream:
        published = {song["track_id"]: song for song in csv.DictReader(stream)}
    assert sorted(row["track_id"] for row in rows) == sorted(published)
    for row in rows:
        song = published[row["track_id"]]
        assert (row["song_id"], row["artist_id"]) == (song["song_id"], song["artist_id"])
        assert row["year"] == (int(song["year"]) or None)
        wrong = [name for name in NUMBERS if not same_number(row[name], song[name])]
        assert not wrong, (row["track_id"], wrong)


def test_blocks_give_the_rows_of_one_song_at_a_time_and_of_the_getters(summary, small_blocks):
    # Each block's first, last and next rows, and some in between.
    boundaries = {index + step for index in range(0, 10_000, BLOCK) for step in (-1, 0, 1)}
    checked = sorted((boundaries | set(range(0, 10_000, 97)) | {9_999}) - {-1})
    with hdf5_getters.open_h5_file_read(summary) as h5:
        blocks = list(features.file_features(h5, segments=False))
        for index in checked:
            one_song = features.song_features(h5, index, segments=False)
            # The official getters convert one field at a time, as extract did before blocks.
            getters = {name: getattr(hdf5_getters, f"get_{name}")(h5, index)
                       for name in features.columns(segments=False)}
            getters.update({name: getters[name] or None for name in features.IDENTITY_COLUMNS})
            assert repr(blocks[index]) == repr(one_song) == repr(getters)


def test_song_tables_are_read_a_block_at_a_time(summary, small_blocks, monkeypatch):
    reads, read_rows = [], hdf5_getters.read_rows

    def counted_read_rows(dataset, start=0, stop=None):
        values = read_rows(dataset, start, stop)
        reads.append((start, len(values)))
        return values

    monkeypatch.setattr(hdf5_getters, "read_rows", counted_read_rows)
    with hdf5_getters.open_h5_file_read(summary) as h5:
        rows = sum(1 for _ in features.file_features(h5, segments=False, start=1_000,
                                                     stop=3_000))
    assert rows == 2_000
    # Each table's block and the row after it, up to the end of the range asked for.
    assert reads == [(start, min(BLOCK, 3_000 - start) + 1) for start in range(1_000, 3_000, BLOCK)
                     for _ in range(3)]


def test_file_parts_split_only_big_files(tmp_path, summary):
    aggregate = tmp_path / "aggregate.h5"
    write_song_file(aggregate, [make_song(f"TRAGG00000000000{i}") for i in range(3)])
    track = write_tree(tmp_path / "tree", 1)
    track_file = str(next(track.rglob("*.h5")))
    parts = list(songfiles.file_parts([track_file, str(aggregate), str(summary)], 4_000))
    assert parts == [songfiles.FilePart(track_file), songfiles.FilePart(str(aggregate)),
                     songfiles.FilePart(str(summary), 0, 4_000, 10_000),
                     songfiles.FilePart(str(summary), 4_000, 8_000, 10_000),
                     songfiles.FilePart(str(summary), 8_000, 10_000, 10_000)]
    assert [str(part) for part in parts[1:3]] == [str(aggregate), f"{summary}[0:4000]"]
    assert [part.share for part in parts[2:]] == [0.4, 0.4, 0.2]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_summary_file_in_parts_gives_the_per_row_csv(summary, small_blocks, tmp_path,
                                                       monkeypatch, workers):
    in_parts_of(monkeypatch, 3_001)
    out = tmp_path / "SongCSV.csv"
    assert extract.main([str(summary), "--no-segments", "--out", str(out), "--quiet",
                         "--workers", workers]) == 0
    assert sha256(out) == PER_ROW_CSV_SHA256


def test_a_summary_file_in_parts_to_parquet_gives_the_csv_rows(summary, tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="needs requirements-scale.txt installed")
    in_parts_of(monkeypatch, 3_001)
    out = tmp_path / "SongCSV.parquet"
    assert extract.main([str(summary), "--no-segments", "--out", str(out), "--quiet",
                         "--format", "parquet"]) == 0
    baseline = tmp_path / "SongCSV.csv"
    assert extract.main([str(summary), "--no-segments", "--out", str(baseline), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_csv(baseline), check_dtype=False)


def test_an_interrupted_summary_file_resumes_after_its_last_written_part(summary, tmp_path,
                                                                          monkeypatch):
    in_parts_of(monkeypatch, 3_001)
    out = tmp_path / "SongCSV.csv"
    with pytest.raises(KeyboardInterrupt):  # the second part's labels are a Ctrl-C
        extract.extract([str(summary)], out, 1, False, InterruptingSource(3_001), progress=False)
    assert len(read_csv(f"{out}.partial")) == 3_001
    done = extract.extract([str(summary)], out, 1, False, labels.NoLabels(), resume=True,
                           progress=False)
    assert (done["resumed"], done["rows"]) == (0, 6_999)
    assert sha256(out) == PER_ROW_CSV_SHA256


def test_a_summary_file_journalled_whole_is_not_read_again_in_parts(summary, tmp_path,
                                                                     monkeypatch):
    # A run before parts journalled the summary file whole; its resume reads the rest only.
    track = write_tree(tmp_path / "tree", 1)
    out = tmp_path / "SongCSV.csv"
    in_parts_of(monkeypatch, 10_000)
    with pytest.raises(KeyboardInterrupt):
        extract.extract([str(summary), str(track)], out, 1, False, InterruptingSource(10_000),
                        progress=False)
    in_parts_of(monkeypatch, 3_001)
    done = extract.extract([str(summary), str(track)], out, 1, False, labels.NoLabels(),
                           resume=True, progress=False)
    assert (done["resumed"], done["rows"]) == (1, 1)
    assert len(read_csv(out)) == 10_001


def load_bench(name):
    path = ROOT / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ctrl_c_between_parts_of_a_generated_summary_file_and_resume(summary, tmp_path):
    generated, clean = tmp_path / "msd_summary_file.h5", tmp_path / "clean.csv"
    load_bench("bench_summary").build_summary_file(generated, 30_000, source=summary)
    assert extract.main([str(generated), "--no-segments", "--out", str(clean), "--quiet"]) == 0
    out = tmp_path / "SongCSV.csv"
    command = [sys.executable, "-m", "dataset.extract", str(generated), "--no-segments",
               "--out", str(out), "--quiet", "--workers", "2"]
    first = start(command)
    press_ctrl_c_when(first, written(out, clean.stat().st_size // 3))
    assert_stopped_cleanly(first, out)
    partial_rows = len(read_csv(f"{out}.partial"))
    assert 0 < partial_rows < 30_000 and partial_rows % songfiles.SONGS_PER_PART == 0
    last = subprocess.run(command + ["--resume"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert last.returncode == 0, last.stderr
    assert out.read_bytes() == clean.read_bytes()
