"""A damaged song file is that file's problem; an error in our own feature code is a bug that
fails the run loudly (its traceback kept), on every engine, rather than every file being skipped
as damaged."""
import multiprocessing
import random
import re
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from dataset import extract, features, hdf5_getters, songfiles
from dataset.sample import write_song_file
from songs import make_song
from test_extract import ROOT, write_tree

LABEL_ARRAYS = ("artist_terms", "artist_terms_weight", "artist_mbtags")


def broken_mean(values):
    """features._mean with a bug in it, as a coding error would put there."""
    return 1 / 0


@pytest.fixture
def broken_features(monkeypatch):
    """Every song's statistics raise ZeroDivisionError, as a bug in features.py would."""
    monkeypatch.setattr(features, "_mean", broken_mean)


def extract_into(tmp_path, *options):
    """extract.main on 3 good song files, writing tmp_path/SongCSV.csv."""
    tree = write_tree(tmp_path / "tree", 3)
    return extract.main([str(tree), "--out", str(tmp_path / "SongCSV.csv"), "--quiet",
                         *options])


def assert_nothing_taken_for_damaged(tmp_path, capsys):
    assert not (tmp_path / "SongCSV.csv").exists()
    assert not (tmp_path / "SongCSV_failures.csv").exists()
    err = capsys.readouterr().err
    assert "skipped" not in err and "files failed" not in err


@pytest.mark.parametrize("bug", [ZeroDivisionError, TypeError, ValueError, KeyError])
def test_a_bug_in_the_feature_code_fails_the_run_with_its_traceback(bug, tmp_path, monkeypatch,
                                                                    capsys):
    # TypeError, ValueError and KeyError are also what h5py raises for a damaged file: raised by
    # our computing, they must still not be taken for one.
    def buggy_std(centred, count):
        raise bug("a bug in features.py")

    monkeypatch.setattr(features, "_std", buggy_std)
    with pytest.raises(bug, match="a bug in features.py"):
        extract_into(tmp_path, "--workers", "1")
    assert_nothing_taken_for_damaged(tmp_path, capsys)


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                    reason="the pool's workers see the broken function only when forked")
def test_a_bug_in_a_pool_worker_fails_the_run(tmp_path, broken_features, capsys):
    with pytest.raises(ZeroDivisionError) as raised:
        extract_into(tmp_path, "--workers", "2")
    assert "broken_mean" in str(raised.value.__cause__)  # the worker's traceback comes along
    assert_nothing_taken_for_damaged(tmp_path, capsys)


def test_a_bug_on_a_dask_worker_fails_the_run_not_as_a_cluster_problem(tmp_path,
                                                                       broken_features, capsys):
    distributed = pytest.importorskip("distributed",
                                      reason="needs requirements-scale.txt installed")
    # Workers as threads of this process, so that they see the broken function.
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(ZeroDivisionError):
            extract_into(tmp_path, "--engine", "dask", "--scheduler", cluster.scheduler_address)
    assert_nothing_taken_for_damaged(tmp_path, capsys)


def test_a_user_sees_a_bug_as_a_traceback_and_a_failed_run(tmp_path):
    tree = write_tree(tmp_path / "tree", 2)
    out = tmp_path / "SongCSV.csv"
    script = textwrap.dedent(f"""
        import sys
        from dataset import extract, features
        features._mean = lambda values: 1 / 0
        sys.exit(extract.main([{str(tree)!r}, "--out", {str(out)!r}, "--workers", "1",
                               "--quiet"]))
    """)
    command = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert command.returncode == 1
    assert "Traceback" in command.stderr and "ZeroDivisionError" in command.stderr
    assert "skipped" not in command.stderr and not out.exists()


def rewrite(path, name, values):
    """Replace dataset ``name`` of the song file at ``path`` with ``values``."""
    with h5py.File(path, "r+") as h5:
        del h5[name]
        h5[name] = values


@pytest.mark.parametrize("name, values, reason", [
    ("analysis/segments_timbre", np.zeros((20, 5)),
     "segments_timbre holds float64 in rows of 5 where the layout has numbers in rows of 12"),
    ("analysis/segments_loudness_max", np.array([b"loud"] * 20),
     "segments_loudness_max holds |S4 where the layout has numbers"),
    ("analysis/segments_pitches", np.zeros((7, 12)), "segments_pitches has 7 rows"),
    ("analysis/songs", np.zeros(1, dtype=[("track_id", "S18")]), "has no field"),
    ("analysis/songs", np.zeros(1, dtype=[(name, "S8" if name == "duration" else dtype)
                                          for name, dtype in features.layout.SONG_TABLES[
                                              "analysis"]]), "field 'duration' holds |S8"),
    ("analysis/beats_start", np.float64(1.0), "a single value"),
])
def test_arrays_of_an_impossible_shape_or_type_are_the_files_problem(name, values, reason,
                                                                     tmp_path):
    path = tmp_path / "TRBAD000000000001.h5"
    write_song_file(path, [make_song("TRBAD000000000001", seed=1)])
    rewrite(path, name, values)
    with pytest.raises(hdf5_getters.SongFileError, match=re.escape(reason)):
        songfiles.read_song_file(path, crops=features.Crops(2, 30.0))


def damaged_copies(data, count, seed=0):
    """``data`` cut short at points through it, and ``count`` copies with a few bytes changed."""
    rng = random.Random(seed)
    for cut in range(0, len(data), len(data) // 40):
        yield data[:cut]
    for _ in range(count):
        damaged = bytearray(data)
        for _ in range(rng.choice([1, 2, 4, 16])):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        yield bytes(damaged)


def test_whatever_damage_a_file_has_reading_it_raises_song_file_error_only(tmp_path):
    good = tmp_path / "aggregate.h5"
    write_song_file(good, [make_song("TRAGG000000000001", seed=1),
                           make_song("TRAGG000000000002", seed=2, segments=3)])
    damaged = tmp_path / "damaged.h5"
    outcomes = {"read": 0, "damaged": 0}
    for data in damaged_copies(good.read_bytes(), 400):
        damaged.write_bytes(data)
        try:
            songfiles.read_song_file(damaged, song_arrays=LABEL_ARRAYS,
                                     crops=features.Crops(2, 30.0))
            outcomes["read"] += 1
        except hdf5_getters.SongFileError as err:
            assert "\n" not in str(err)
            outcomes["damaged"] += 1
        hdf5_getters.is_summary_file(damaged)  # True or False, whatever the damage
        list(songfiles.file_parts([str(damaged)]))  # counts its songs, or leaves it whole
    assert min(outcomes.values()) > 50  # both kinds met: the damage reached the data
