"""Ctrl-C while a script starts (its imports take seconds: torch, pandas, scikit-learn, h5py),
with a CPU-bound process beside it: every script exits 130 with one line, no traceback, and
leaves no file behind.

The moments are counted in modules imported rather than in seconds, so that they fall inside
the start-up however loaded the machine: the run is started with ``python -X importtime``,
which writes a line to stderr as each import ends, through a pipe of one page, so the run is
never more than a few dozen imports ahead of the line this test has read. The count starts
after ``dataset.interrupts`` (each script's first import, before Python's own start-up a press
is Python's business); the last moment is 60 to 80 % into the script's start-up. Every run is
given work that lasts (endless epochs, a server that never answers), so a press landing after
the start-up meets a running main, never a finished one.
"""
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import terminal
from songs import make_song, synthetic_songcsv

import train
from dataset import interrupts
from dataset.sample import write_song_file
from genrelearn import cleaning

ROOT = Path(__file__).resolve().parents[1]
IMPORT_LINE = "import time:"

# The script, its arguments ({inputs} and {out} filled in), and the imports after which Ctrl-C is
# pressed: its start-up imports about 2,500 modules (train, tune, evaluate, predict), 1,600
# (preprocess) or 400 (extract, download) after dataset.interrupts, as python -X importtime
# counts them.
SCRIPTS = {
    "train": (["train.py", "--data", "{inputs}/pre.csv", "--out", "{out}/run", "--epochs",
               "100000", "--patience", "100000"], (1, 400, 1500)),
    "tune": (["tune.py", "--data", "{inputs}/pre.csv", "--out", "{out}/tune", "--trials", "40",
              "--folds", "2"], (1, 400, 1500)),
    "evaluate": (["evaluate.py", "--checkpoint", "{inputs}/run/model.pt", "--data",
                  "{inputs}/pre.csv", "--figure", "{out}/confusion.png", "--out",
                  "{out}/metrics.json"], (1, 400, 1500)),
    "predict": (["predict.py", "--checkpoint", "{inputs}/run/model.pt", "{inputs}/songs",
                 "--out", "{out}/predictions.csv"], (1, 400, 1500)),
    "preprocess": (["preprocess.py", "--data", "{inputs}/SongCSV.csv", "--out",
                    "{out}/preprocessed_data.csv"], (1, 400, 1300)),
    "extract": (["-m", "dataset.extract", "{inputs}/songs", "--out", "{out}/SongCSV.csv",
                 "--quiet", "--labels", "lastfm", "--lastfm-api-key", "key", "--lastfm-url",
                 "{silent}", "--cache", "{inputs}/cache.sqlite"], (1, 150, 280)),
    "download": (["-m", "dataset.download", "msd-subset", "--dest", "{out}/data", "--url",
                  "{silent}/millionsongsubset.tar.gz"], (1, 150, 280)),
}


@pytest.fixture(scope="module")
def busy_machine():
    """A CPU-bound process beside the runs, as on a shared machine."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    busy.kill()
    busy.wait()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """What the scripts read: tables, a checkpoint, song files; and a server that never answers
    (a listening socket nobody accepts from: connections open, requests wait)."""
    folder = tmp_path_factory.mktemp("start_up")
    synthetic_songcsv(n_songs=300).to_csv(folder / "SongCSV.csv", index=False)
    cleaning.clean(synthetic_songcsv(n_songs=300)).to_csv(folder / "pre.csv", index=False)
    assert train.main(["--data", str(folder / "pre.csv"), "--out", str(folder / "run"),
                       "--epochs", "2", "--ensemble", "1"]) == 0
    (folder / "songs").mkdir()
    for number in range(3):
        track = f"TRSTART{number:011d}"
        write_song_file(folder / "songs" / f"{track}.h5", [make_song(track, seed=number)])
    with socket.create_server(("127.0.0.1", 0), backlog=32) as silent:
        yield {"inputs": folder, "silent": f"http://127.0.0.1:{silent.getsockname()[1]}"}


def start_with_import_lines(command):
    """``command`` as a terminal's foreground job; its stderr through a one-page pipe."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    try:
        process = terminal.foreground_job(command, cwd=ROOT, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=write_end)
    finally:
        os.close(write_end)
    return process, open(read_end, errors="replace")


def press_after_imports(process, stderr, count):
    """Read the run's stderr until ``count`` imports have ended after dataset.interrupts; then
    press Ctrl-C (SIGINT to the process group). The lines read so far."""
    lines, after_guard = [], None
    for line in stderr:
        lines.append(line)
        if line.startswith(IMPORT_LINE):
            if after_guard is not None:
                after_guard += 1
            elif line.rsplit("|", 1)[-1].strip() == "dataset.interrupts":
                after_guard = 0
        if after_guard is not None and after_guard >= count:
            break
    else:
        pytest.fail(f"the run ended (exit {process.wait()}) before the moment came: "
                    + "".join(lines[-20:]))
    os.killpg(process.pid, signal.SIGINT)
    return lines


def rest_of(process, stderr, timeout=60):
    """Everything the run writes to stderr until it ends, and its exit status."""
    rest = []
    reader = threading.Thread(target=lambda: rest.append(stderr.read()), daemon=True)
    reader.start()
    try:
        code = process.wait(timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    reader.join(timeout)
    stderr.close()
    return code, "".join(rest)


@pytest.mark.parametrize("script, moment", [(script, moment) for script, (_, moments)
                                             in SCRIPTS.items() for moment in moments])
def test_ctrl_c_during_start_up_exits_130_with_one_line(script, moment, inputs, busy_machine,
                                                        tmp_path):
    arguments, moments = SCRIPTS[script]
    command = [sys.executable, "-X", "importtime"] + [
        argument.format(out=tmp_path, **inputs) for argument in arguments]
    process, stderr = start_with_import_lines(command)
    read = press_after_imports(process, stderr, moment)
    code, rest = rest_of(process, stderr)
    err = "".join(read) + rest
    said = [line for line in err.splitlines() if line.strip() and not line.startswith(IMPORT_LINE)]
    assert code == 130, err[-3000:]
    assert len(said) == 1 and "interrupted" in said[0], said  # no traceback, no second line
    # Nothing written, or (a press that landed after the start-up) only what the line names as
    # kept: extract's OUT.partial (and its OUT.partial.files), which --resume continues.
    left = [path for path in tmp_path.rglob("*") if path.is_file()
            and str(path).split(".partial")[0] + ".partial" not in said[0]]
    assert left == [], said[0]


def test_run_turns_a_ctrl_c_that_escapes_main_into_one_line(capsys):
    def interrupted_main():
        raise KeyboardInterrupt

    assert interrupts.run(lambda: 7, "work") == 7
    assert interrupts.run(interrupted_main, "work") == 130
    assert capsys.readouterr().err.strip() == "interrupted: work stopped"


def test_starting_changes_nothing_when_imported():
    before = signal.getsignal(signal.SIGINT)
    interrupts.starting("train", "training")  # a test importing train.py: __name__ is "train"
    assert signal.getsignal(signal.SIGINT) is before
