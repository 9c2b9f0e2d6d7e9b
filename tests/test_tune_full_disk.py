"""tune.py on a full disk and in a read-only folder: its study database is written through
Optuna's SQLite storage, whose errors are not OSErrors, and still give one line."""
import subprocess

import pytest

import songtable
from songs import synthetic_songcsv
from test_full_disk import disk, fill, mounting_permitted, run_script  # noqa: F401 - fixtures

pytest.importorskip("optuna", reason="tune.py needs requirements-tune.txt installed")
SEARCH = ["tune.py", "--data", "{table}", "--trials", "1", "--folds", "2", "--epochs", "2",
          "--ensemble", "1", "--out", "{disk}/tune"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "pre.csv"
    songtable.clean(synthetic_songcsv(n_songs=120)).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind, said", [
    ("full", "study.db: cannot write it: database or disk is full (free space or choose "
             "another --out)"),
    ("read-only", ": cannot write it: a read-only file system (choose another place)")])
def test_a_search_that_cannot_write_is_one_line(kind, said, table, disk):
    if kind == "full":
        fill(disk)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    ran = run_script(SEARCH, table=table, disk=disk)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert ran.stderr.count("\n") == 1
    assert ran.stderr.startswith(f"error: {disk / 'tune'}") and said in ran.stderr
