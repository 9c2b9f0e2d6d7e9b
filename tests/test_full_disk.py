"""A full disk and a read-only folder, for every script run as a user runs it: a non-zero exit,
one line naming the path and what to do, no temporary file left, the earlier output intact.

The disk is a 3 MB tmpfs mounted for each test, which needs root (or the permission to mount);
elsewhere the tests skip and say why.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from songs import synthetic_songcsv
from test_extract import write_tree

from genrelearn import cleaning

ROOT = Path(__file__).resolve().parents[1]
DISK_SIZE = "3m"
SMALL_TRAINING = ["--epochs", "2", "--ensemble", "1", "--hidden", "8", "8", "8"]
# Script -> (its command line as a user types it, the output it writes onto the disk). Inputs
# are in {inputs}, a roomy folder; {disk} is the small one.
SCRIPTS = {
    "extract": (["-m", "dataset.extract", "{inputs}/songs", "--labels", "{inputs}/genres.cls",
                 "--out", "{disk}/SongCSV.csv", "--workers", "1", "--quiet"], "SongCSV.csv"),
    "preprocess": (["preprocess.py", "--data", "{inputs}/SongCSV.csv",
                    "--out", "{disk}/pre.csv"], "pre.csv"),
    "train": (["train.py", "--data", "{inputs}/pre.csv", "--out", "{disk}/run",
               *SMALL_TRAINING], "run"),
    "evaluate": (["evaluate.py", "--checkpoint", "{inputs}/run/model.pt",
                  "--data", "{inputs}/pre.csv", "--figure", "{inputs}/{script}.png",
                  "--out", "{disk}/m.json"], "m.json"),
    "predict": (["predict.py", "--checkpoint", "{inputs}/run/model.pt", "{inputs}/SongCSV.csv",
                 "--out", "{disk}/p.csv", "--quiet"], "p.csv"),
}


def run_script(arguments, **places):
    """A script run as a user runs it, from the repository root."""
    command = [sys.executable] + [argument.format(**places) for argument in arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)


def mount_small_disk(folder):
    """Mount a tmpfs of DISK_SIZE at ``folder``; the reason when it cannot be, else None."""
    if os.geteuid() != 0:
        return "mounting a small disk (tmpfs) needs root"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    return f"cannot mount a tmpfs here: {mounted.stderr.strip()}" if mounted.returncode else None


def unmount(folder):
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


@pytest.fixture(scope="module", autouse=True)
def mounting_permitted(tmp_path_factory):
    """Skips every test at once where no small disk can be mounted, before making inputs."""
    folder = tmp_path_factory.mktemp("mount_check")
    reason = mount_small_disk(folder)
    if reason:
        pytest.skip(reason)
    unmount(folder)


@pytest.fixture(scope="module")
def inputs(mounting_permitted, tmp_path_factory):
    """In a roomy folder: a SongCSV, its preprocessed table, a run trained on it, 3 song files
    and their labels; and the earlier output of each script, kept to be put on the disk."""
    root = tmp_path_factory.mktemp("inputs")
    synthetic_songcsv(n_songs=120).to_csv(root / "SongCSV.csv", index=False)
    for arguments in (["preprocess.py", "--data", "{inputs}/SongCSV.csv",
                       "--out", "{inputs}/pre.csv"],
                      ["train.py", "--data", "{inputs}/pre.csv", "--out", "{inputs}/run",
                       *SMALL_TRAINING]):
        made = run_script(arguments, inputs=root)
        assert made.returncode == 0, made.stderr
    songs = write_tree(root / "songs", 3)
    (root / "genres.cls").write_text("".join(f"{path.stem}\tRock\n"
                                             for path in sorted(songs.rglob("TR*.h5"))))
    earlier = root / "earlier"
    earlier.mkdir()
    shutil.copytree(root / "run", earlier / "run")
    shutil.copy(root / "pre.csv", earlier / "pre.csv")
    for name in ("SongCSV.csv", "m.json", "p.csv"):
        (earlier / name).write_text(f"the earlier {name}, which must be kept\n")
    return root


@pytest.fixture
def disk(tmp_path):
    """A 3 MB tmpfs at tmp_path/disk, unmounted after the test."""
    disk = tmp_path / "disk"
    disk.mkdir()
    reason = mount_small_disk(disk)
    if reason:
        pytest.skip(reason)
    try:
        yield disk
    finally:
        unmount(disk)


def fill(disk, leave=0):
    """Fill ``disk`` but ``leave`` bytes with a file named filler."""
    stats = os.statvfs(disk)
    with open(disk / "filler", "wb") as filler:
        filler.write(bytes(stats.f_bavail * stats.f_frsize - leave))


def contents(folder):
    """{path relative to ``folder``: its bytes} of every file under it, hidden ones included."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def put_earlier_output(inputs, disk, output):
    earlier = inputs / "earlier" / output
    if earlier.is_dir():
        shutil.copytree(earlier, disk / output)
    else:
        shutil.copy(earlier, disk / output)
    return contents(disk)


def assert_one_line_and_nothing_changed(ran, disk, output, said, before):
    """A non-zero exit whose stderr ends with the one error line (after any progress notes, as
    evaluate's), and ``disk`` as it was ``before``."""
    assert ran.returncode != 0
    assert "Traceback" not in ran.stderr
    error = f"error: {disk / output}: cannot write it: {said}"
    lines = ran.stderr.splitlines()
    assert lines[-1] == error and [line for line in lines if "error" in line] == [error]
    assert contents(disk) == before  # the earlier output whole, no temporary file left


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_full_disk_is_one_line_and_the_earlier_output_is_kept(script, inputs, disk):
    arguments, output = SCRIPTS[script]
    put_earlier_output(inputs, disk, output)
    fill(disk)
    before = contents(disk)
    ran = run_script(arguments, inputs=inputs, disk=disk, script=script)
    assert_one_line_and_nothing_changed(
        ran, disk, output, "no space left on device (free space or choose another place)", before)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_read_only_folder_is_one_line_and_the_earlier_output_is_kept(script, inputs, disk):
    arguments, output = SCRIPTS[script]
    before = put_earlier_output(inputs, disk, output)
    # Root writes through any file's permissions: the file system itself is made read-only.
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    ran = run_script(arguments, inputs=inputs, disk=disk, script=script)
    assert_one_line_and_nothing_changed(
        ran, disk, output, "a read-only file system (choose another place)", before)


def test_extract_resumes_once_a_disk_that_filled_up_has_room(inputs, disk):
    arguments, output = SCRIPTS["extract"]
    fill(disk, leave=16 * 1024)  # room for the header and a row or two, not for 3 songs
    ran = run_script(arguments, inputs=inputs, disk=disk)
    assert ran.returncode == 2 and len(ran.stderr.splitlines()) == 1
    assert ran.stderr.startswith(f"error: {disk / output}: cannot write it: no space left on "
                                 "device (free space or choose another place)")
    assert "Traceback" not in ran.stderr
    assert not (disk / output).exists()
    (disk / "filler").unlink()
    resumed = run_script(arguments + ["--resume"], inputs=inputs, disk=disk)
    assert resumed.returncode == 0, resumed.stderr
    roomy = disk.parent / "roomy"
    whole = run_script(arguments, inputs=inputs, disk=roomy)
    assert whole.returncode == 0, whole.stderr
    assert (disk / output).read_bytes() == (roomy / output).read_bytes()
    assert sorted(contents(disk)) == [output]


# tune.py's study database is written through Optuna's SQLite storage, whose errors are not
# OSErrors: they still give one line.
SEARCH = ["tune.py", "--data", "{table}", "--trials", "1", "--folds", "2", "--epochs", "2",
          "--ensemble", "1", "--out", "{disk}/tune"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "pre.csv"
    cleaning.clean(synthetic_songcsv(n_songs=120)).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind, said", [
    ("full", "study.db: cannot write it: database or disk is full (free space or choose "
             "another --out)"),
    ("read-only", ": cannot write it: a read-only file system (choose another place)")])
def test_a_search_that_cannot_write_is_one_line(kind, said, table, disk):
    pytest.importorskip("optuna", reason="tune.py needs requirements-tune.txt installed")
    if kind == "full":
        fill(disk)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    ran = run_script(SEARCH, table=table, disk=disk)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert ran.stderr.count("\n") == 1
    assert ran.stderr.startswith(f"error: {disk / 'tune'}") and said in ran.stderr
