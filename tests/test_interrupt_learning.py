"""Ctrl-C stops train.py and tune.py every time, cleanly, as a terminal sends it: SIGINT to the
whole process group, at many moments of a run."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import terminal
from songs import synthetic_songcsv

from genrelearn import cleaning

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("interrupt") / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=300)).to_csv(path, index=False)
    return path


def start(script, *arguments):
    """The script in its own process group, as a terminal's foreground job."""
    return terminal.foreground_job([sys.executable, "-u", str(ROOT / script),
                                    *map(str, arguments)], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)


def wait_for_line(process, stream, text):
    """Read ``stream`` up to a line with ``text``; fail if the process ends first."""
    while text not in stream.readline():
        assert process.poll() is None, process.stderr.read()


def interrupt_after(process, first_line, delay):
    """Wait for stdout to show ``first_line``, then ``delay`` seconds; press Ctrl-C."""
    wait_for_line(process, process.stdout, first_line)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return process.returncode, err


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.6, 1.0])
def test_ctrl_c_stops_training_and_writes_nothing(delay, data, tmp_path):
    out = tmp_path / "run"
    process = start("train.py", "--data", data, "--out", out, "--epochs", "100000",
                    "--patience", "100000", "--ensemble", "2")
    code, err = interrupt_after(process, "epoch", delay)
    assert code == 130, err
    assert err.strip().splitlines() == ["interrupted: training stopped, nothing written"]
    assert not out.exists()


def test_a_second_ctrl_c_stops_at_once(data, tmp_path):
    """The first Ctrl-C stops training in order, which takes a while: its line, then Python's
    exit (it can take a second), then exit 130 (the test above). A second press while that goes on
    ends the run at once, killed by SIGINT as a process without a handler is."""
    out = tmp_path / "run"
    process = start("train.py", "--data", data, "--out", out, "--epochs", "100000",
                    "--patience", "100000")
    wait_for_line(process, process.stdout, "epoch")
    os.killpg(process.pid, signal.SIGINT)
    wait_for_line(process, process.stderr, "interrupted: training stopped")  # the first seen
    pressed = time.perf_counter()
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGINT
    assert time.perf_counter() - pressed < 0.5
    assert not out.exists()


@pytest.mark.parametrize("delay", [0.0, 1.5, 4.0])
def test_ctrl_c_stops_a_search_which_then_resumes(delay, data, tmp_path):
    pytest.importorskip("optuna", reason="Optuna (optional extra) is not installed")
    out = tmp_path / "tune"
    options = ["--data", data, "--out", out, "--trials", "40", "--folds", "2", "--epochs", "40",
               "--patience", "40"]
    process = start("tune.py", *options)
    # tune.py prints nothing before its end: wait for its study to exist instead.
    while not (out / "study.db").exists():
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "the same command resumes the search" in err and "Traceback" not in err
    finished = 0
    if (out / "trials.csv").exists():
        with open(out / "trials.csv", newline="") as stream:
            finished = len(list(csv.DictReader(stream)))
    resumed = subprocess.run([sys.executable, str(ROOT / "tune.py"), *map(str, options[:4]),
                              "--trials", str(finished + 1), *map(str, options[6:])],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{finished + 1} trials" in resumed.stdout
