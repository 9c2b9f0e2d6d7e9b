"""bench.bench_million: the pipeline as a user runs it on a tiled summary file, its report against
the targets, a genre for every song, reuse of built files, and a failing stage; the per-track
route's tiled table of real extracted songs and its commands."""
import re
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench import bench_million
from bench.bench_summary import bench_id

SONGS = 20_000  # two copies of each subset song: ids must stay one per row past the first tile
CD1_SUBSET_SONGS = 1_390  # subset songs tagtraum CD1 labels (../shared/data/README.md)


def test_runs_every_stage_and_predicts_a_genre_for_every_song(shared_data, tmp_path, capsys):
    work, markdown = tmp_path / "work", tmp_path / "scaling.md"
    assert bench_million.main(["--songs", str(SONGS), "--workdir", str(work), "--out",
                               str(markdown), "--train-options",
                               "--epochs 2 --ensemble 1 --hidden 16 8"]) == 0
    printed = capsys.readouterr().out
    for stage in bench_million.STAGES:
        assert re.search(rf"^{stage}: [\d.]+ s \([\d.]+ s CPU\), [\d,]+ MiB peak \| \S", printed,
                         re.MULTILINE)
        # 20,000 songs are 2 % of the million the targets are set for: every one is met.
        assert re.search(rf"^\| {stage} \| [\d.]+ s \| [\d.]+ s \| [\d,]+ MiB \| "
                         r"<= \d+ s, < 4 GiB \| met \|$", printed, re.MULTILINE)
    assert f"genres.csv: {SONGS:,} rows, {SONGS:,} distinct track_ids, for {SONGS:,} songs" \
        in printed
    assert re.search(r"test split \(metrics.json\): accuracy 0\.\d{3}, macro-F1 0\.\d{3}", printed)
    assert "train.py --epochs 2 --ensemble 1 --hidden 16 8 (not its defaults)" in printed
    assert markdown.read_text().startswith(f"## bench_million: {SONGS:,} songs")
    genres = pd.read_csv(work / "genres.csv")
    assert sorted(genres["track_id"]) == [bench_id("TR", row) for row in range(SONGS)]
    labelled = (work / "msd_tagtraum_cd1.cls").read_text().splitlines()[1:]
    assert len(labelled) == 2 * CD1_SUBSET_SONGS


def test_reuses_built_files_of_the_same_size_only(shared_data, tmp_path, capsys):
    paths = bench_million.Paths(tmp_path)
    bench_million.build_inputs(paths, 100)
    bench_million.build_inputs(paths, 100)
    bench_million.build_inputs(paths, 200)
    actions = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["built", "built", "reusing", "reusing", "built", "built"]
    assert not list(tmp_path.glob("*.partial"))


def test_a_failing_stage_prints_its_error_and_stops(shared_data, tmp_path, capsys):
    assert bench_million.main(["--songs", "100", "--workdir", str(tmp_path),
                               "--stages", "evaluate", "train"]) == 1
    captured = capsys.readouterr()
    assert "error: train failed" in captured.err.splitlines()[-1]
    assert "evaluate" not in captured.out and "| stage |" not in captured.out


def test_the_report_says_which_targets_a_stage_missed():
    within = {"seconds": 59.0, "cpu_seconds": 50.0, "peak_mib": 4000.0}
    results = {"extract": within, "preprocess": {**within, "seconds": 61.0},
               "train": {**within, "peak_mib": 4096.0}}
    table = bench_million.stage_table(results, bench_million.ROUTES["summary"])
    verdicts = [line.split("|")[-2].strip() for line in table[2:]]
    assert verdicts == ["met", "NOT met", "NOT met"]


def test_the_per_track_route_has_its_own_targets():
    results = {"preprocess": {"seconds": 299.0, "cpu_seconds": 250.0, "peak_mib": 8000.0},
               "train": {"seconds": 1201.0, "cpu_seconds": 1000.0, "peak_mib": 5000.0}}
    table = bench_million.stage_table(results, bench_million.ROUTES["per-track"])
    assert table[2:] == [
        "| preprocess | 299.0 s | 250.0 s | 8,000 MiB | <= 300 s, < 8 GiB | met |",
        "| train | 1201.0 s | 1000.0 s | 5,000 MiB | <= 1200 s, < 8 GiB | NOT met |"]


REAL_FILES = 20  # of the shared song files: extract takes a second or two


@pytest.fixture
def real_song_files(shared_data, tmp_path):
    """A folder of links to REAL_FILES of the real song files."""
    folder = tmp_path / "songs"
    folder.mkdir()
    for path in sorted((shared_data / "MillionSongSubset" / "data").rglob("*.h5"))[:REAL_FILES]:
        (folder / path.name).symlink_to(path)
    return folder


def feature_columns(table):
    return [name for name in table.columns if table[name].dtype == "float64" and name != "crop"]


def test_the_per_track_table_tiles_the_real_songs_as_extract_writes_them(real_song_files,
                                                                          tmp_path, capsys,
                                                                          monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet", reason="needs requirements-scale.txt installed")
    paths = bench_million.TrackPaths(tmp_path / "work")
    songs = 2 * REAL_FILES + 7  # two whole copies and part of a third: ids stay one per song
    bench_million.build_track_inputs(paths, songs, real_song_files)
    real, table = pd.read_parquet(paths.real_songs), pd.read_parquet(paths.songs)
    real_songs = [rows for _, rows in real.groupby((real["crop"] == 0).cumsum())]
    source = pd.concat([real_songs[song % len(real_songs)] for song in range(songs)],
                       ignore_index=True)

    assert table["track_id"].nunique() == songs == (table["crop"] == 0).sum()
    assert table["track_id"].str.fullmatch("TR[A-Z0-9]{16}").all()
    # every crop follows its song's row with its song's track id
    song_of_row = table["track_id"].where(table["crop"] == 0).ffill()
    assert (song_of_row == table["track_id"]).all()
    unscaled = ["crop", "year", "key", "mode", "time_signature", "genre", "title"]
    pd.testing.assert_frame_equal(table[unscaled], source[unscaled])
    assert table["artist_id"].nunique() > real["artist_id"].nunique()
    features = feature_columns(table)
    assert not table[features].duplicated().any()
    factor = (table["duration"] / source["duration"]).groupby(table["track_id"])
    assert (factor.max() - factor.min()).max() < 1e-12  # one factor for a song and its crops
    assert factor.first().between(0.9, 1.1).all() and factor.first().nunique() == songs

    parts = sorted(paths.songs.iterdir())
    assert [part.name for part in parts] == ["part-00000.parquet"]
    real_part = paths.real_songs / "part-00000.parquet"
    assert pq.read_schema(parts[0]).equals(pq.read_schema(real_part), check_metadata=True)

    bench_million.build_track_inputs(paths, songs, real_song_files)
    monkeypatch.setattr(bench_million.shutil, "disk_usage",
                        lambda path: SimpleNamespace(total=10**6, used=10**6, free=0))
    with pytest.raises(bench_million.BuildError, match=r"need about [\d.]+ GB of disk in .*, "
                                                       r"which has 0\.0 GB free"):
        bench_million.build_track_inputs(paths, songs + 1, real_song_files)
    actions = [line.split()[0] for line in capsys.readouterr().out.splitlines()
               if line.startswith(("built", "reusing"))]
    assert actions == ["built", "built", "reusing", "reusing", "reusing"]


def test_per_track_parts_hold_whole_songs_and_enough_rows():
    pytest.importorskip("pyarrow", reason="needs requirements-scale.txt installed")
    from bench.million_tracks import part_bounds
    song_rows = np.array([5, 5, 1, 5, 5, 5, 1])
    assert part_bounds(song_rows, 10) == [(0, 2), (2, 5), (5, 7)]
    assert part_bounds(song_rows, 100) == [(0, 7)]


def test_the_per_track_stages_are_what_a_user_types(tmp_path):
    paths = bench_million.TrackPaths(tmp_path)
    work = str(tmp_path.resolve())
    assert bench_million.track_stage_commands(paths) == {
        "preprocess": [sys.executable, "preprocess.py", "--data", f"{work}/SongCSV.parquet",
                       "--out", f"{work}/preprocessed_data.parquet"],
        "train": [sys.executable, "train.py", "--data", f"{work}/preprocessed_data.parquet",
                  "--out", f"{work}/run"],
        "evaluate": [sys.executable, "evaluate.py", "--checkpoint", f"{work}/run/model.pt",
                     "--data", f"{work}/preprocessed_data.parquet",
                     "--out", f"{work}/run/metrics.json"],
        "predict": [sys.executable, "predict.py", "--checkpoint", f"{work}/run/model.pt",
                    f"{work}/SongCSV.parquet", "--out", f"{work}/genres.csv"],
    }
    data = str(bench_million.SHARED_DATA)
    assert bench_million.real_extract_command(bench_million.SONG_FILES, "real.parquet") == [
        sys.executable, "-m", "dataset.extract", f"{data}/MillionSongSubset/data",
        "--labels", f"{data}/tagtraum/msd_tagtraum_cd1.cls,{data}/lastfm_subset",
        "--genre-names", "dataset/tagtraum_genre_names.tsv",
        "--mismatches", f"{data}/sid_mismatches.txt", "--crops", "4", "--format", "parquet",
        "--quiet", "--out", "real.parquet"]


@pytest.mark.parametrize("options, message", [
    (["--songs", "0"], "--songs must be at least 1"),
    (["--route", "per-track", "--stages", "extract"],
     "--stages: extract is not a stage of --route per-track"),
    (["--stages", "none", "train"], "--stages: none builds the input only, so it comes alone"),
])
def test_bad_options_are_one_line(options, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_million.main(options)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
