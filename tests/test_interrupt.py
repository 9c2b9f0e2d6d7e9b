"""Ctrl-C as a user presses it: SIGINT to a running extract's whole process group, at many moments.

Every moment must stop the run with exit 130, no traceback and no "Exception ignored" (a
KeyboardInterrupt lost in a weakref callback used to let the run finish and exit 0), OUT not yet
there and OUT.partial kept; the next command (--resume) carries on from it, and the last one
completes it into the uninterrupted run's bytes. The runs form a chain, each resuming the one
before and interrupted further on, so a dozen moments cost about one run plus start-ups.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from dataset import extract
from dataset.sample import write_song_file
from fake_lastfm import FakeLastfm, Reply, toptags
from songs import make_song
import terminal
from test_extract import ROOT, read_csv

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="needs Linux's /proc to see a run's worker processes")
FILES = 300  # about a second of reading with one worker (idle machine): room for ten moments
KEY = "interrupt-test-key"


def track_id(number):
    return f"TRINT{number:013d}"


def copied_tree(root, count):
    """``count`` single-track files in the real layout, each a copy of one written file with its
    own track id, artist and title (writing each afresh would take 20 times longer)."""
    template = root / "template.h5"
    write_song_file(template, [make_song(track_id(0))])
    for number in range(count):
        path = root / "songs" / chr(65 + number % 26) / f"{track_id(number)}.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        with h5py.File(path, "r+") as h5:
            for group, fields in (("analysis", {"track_id": track_id(number)}),
                                  ("metadata", {"artist_name": f"Artist {number}",
                                                "title": f"Title {number}"})):
                row = h5[f"{group}/songs"][0]
                for name, value in fields.items():
                    row[name] = value.encode()
                h5[f"{group}/songs"][0] = row
    template.unlink()
    return root / "songs"


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """The tree and its uninterrupted SongCSV.csv."""
    root = tmp_path_factory.mktemp("interrupt")
    tree = copied_tree(root, FILES)
    clean = root / "clean.csv"
    assert extract.main([str(tree), "--out", str(clean), "--workers", "1", "--quiet"]) == 0
    return tree, clean


def start(command):
    """The command in its own process group, as a shell starts a foreground job; at a lower
    priority than this test, which must see each moment before the run has gone far past it."""
    return terminal.foreground_job(["nice", "-n", "10"] + command, cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def python_children(pid):
    """How many Python processes process ``pid`` has started."""
    count = 0
    for process in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((process / "stat").read_text().rsplit(")", 1)[1].split()[1])
            program = (process / "cmdline").read_bytes().split(b"\0")[0]
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
        count += parent == pid and "python" in Path(program.decode()).name
    return count


def press_ctrl_c_when(process, moment, timeout=60):
    """Wait for ``moment(process)``, then SIGINT the process group (what Ctrl-C does)."""
    deadline = time.monotonic() + timeout
    while not moment(process):
        if process.poll() is not None:
            pytest.fail(f"the run ended (exit {process.returncode}) before the moment came: "
                        f"{process.stderr.read()}")
        assert time.monotonic() < deadline, "the moment never came"
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGINT)
    return time.monotonic()


def workers_started(process):
    # Two: h5py's import runs `uname`, a Python process for the moment between fork and exec.
    return python_children(process.pid) >= 2


def output_created(out):
    return lambda process: Path(f"{out}.partial").exists()


def written(out, size):
    """Once OUT.partial holds ``size`` bytes and more than when the run started."""
    partial = Path(f"{out}.partial")
    before = partial.stat().st_size if partial.exists() else 0
    return lambda process: partial.exists() and partial.stat().st_size >= max(size, before + 1)


def assert_stopped_cleanly(process, out):
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    # One line and nothing else: no traceback, no "Exception ignored", no worker's complaint.
    if Path(f"{out}.partial").exists():
        assert err.strip() == (f"interrupted: rows so far are kept in {out}.partial; rerun the "
                               "same command with --resume to continue")
    else:
        assert err.strip() == "interrupted before any row was written"
    assert not Path(out).exists()


@pytest.mark.parametrize("options, early, fractions", [
    (["--workers", "1"], "output created", [i / 10 for i in range(1, 9)]),
    (["--workers", "2"], "workers started", [i / 10 for i in range(1, 9)]),
    # A LocalCluster takes a second or two to start and stop: fewer moments. Results come back
    # 50 files at a time, so the last moment leaves a few batches to go.
    (["--engine", "dask", "--workers", "2"], "workers started", [0.3, 0.6]),
], ids=["workers-1", "workers-2", "dask"])
def test_ctrl_c_at_any_moment_stops_and_resume_completes(songs, tmp_path, options, early,
                                                         fractions):
    if "dask" in options:
        pytest.importorskip("distributed", reason="needs requirements-scale.txt installed")
    tree, clean = songs
    out = tmp_path / "SongCSV.csv"
    command = [sys.executable, "-m", "dataset.extract", str(tree), "--out", str(out),
               "--quiet", *options]
    first = start(command)
    # The pool or cluster starting, or the output just created (before any row).
    press_ctrl_c_when(first, workers_started if early == "workers started"
                      else output_created(out))
    assert_stopped_cleanly(first, out)
    final_size = clean.stat().st_size
    for fraction in fractions:
        run = start(command + ["--resume"])
        press_ctrl_c_when(run, written(out, fraction * final_size))
        assert_stopped_cleanly(run, out)
    last = start(command + ["--resume"])
    _, err = last.communicate(timeout=120)
    assert last.returncode == 0, err
    assert out.read_bytes() == clean.read_bytes()


def test_ctrl_c_while_labelling_from_last_fm_stops_within_a_request(songs, tmp_path):
    tree, clean = songs
    few = tmp_path / "few"
    for path in sorted(tree.rglob("*.h5"))[:12]:  # 12 songs: 2.4 s of requests at 5/s
        copy = few / path.relative_to(tree)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
    out = tmp_path / "SongCSV.csv"
    command = [sys.executable, "-m", "dataset.extract", str(few), "--out", str(out), "--quiet",
               "--workers", "1", "--labels", "lastfm", "--lastfm-api-key", KEY,
               "--cache", str(tmp_path / "cache.sqlite")]
    answer = Reply(body=toptags([("punk rock", 100)]), delay=0.5)
    with FakeLastfm(KEY, default=answer) as server:
        command += ["--lastfm-url", server.url]
        run = start(command)
        pressed = press_ctrl_c_when(run, lambda process: len(server.requests) >= 3)
        assert_stopped_cleanly(run, out)
        # The requests under way are answered (0.5 s) and kept; none is started after Ctrl-C.
        assert time.monotonic() - pressed < 1.5
        asked = len(server.requests)
        assert asked < 12
        last = start(command + ["--resume"])
        _, err = last.communicate(timeout=60)
        assert last.returncode == 0, err
        assert len(server.requests) == 12  # the resumed run asked only what was not answered
    rows = read_csv(out)
    assert [row["track_id"] for row in rows] == [row["track_id"] for row in read_csv(clean)][:12]
    assert {row["genre"] for row in rows} == {"punk"}
