"""The Makefile remakes an output when the code that makes it changes, not only its data: after
an edit, `make all` runs the steps that edit affects instead of printing old results as new.

Each test plans `make all` (make -n: nothing runs) in a copy of the project's code whose files and
pipeline outputs all carry old times, each output newer than what it is made from, after an
edit (one file's time set to now)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG_AGO = 1_000_000_000  # 2001: the code's and the song files' time in the copy

# Each pipeline step, in order: how its command shows in make's plan, its output.
STEPS = {"extract": ("-m dataset.extract", "data/SongCSV.csv"),
         "preprocess": ("preprocess.py --data", "data/preprocessed_data.csv"),
         "train": ("train.py --data", "run/model.pt"),
         "evaluate": ("evaluate.py --checkpoint", "run/metrics.json")}

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def made_long_ago(path, age=0):
    os.utime(path, (LONG_AGO + age, LONG_AGO + age))


@pytest.fixture
def project(tmp_path):
    """A copy of the project's code (what the Makefile may depend on: no tests, no benchmarks)
    beside a finished pipeline's files, everything up to date."""
    code = tmp_path / "project"
    shutil.copytree(ROOT, code, ignore=shutil.ignore_patterns(
        ".*", "tests", "bench", "docs", "data", "runs", "shared", "build", "__pycache__",
        "*.egg-info"))
    (code / ".venv").mkdir()
    (code / ".venv" / "installed").touch()  # make setup's mark: set-up done
    work = tmp_path / "work"
    song = work / "data" / "songs" / "A" / "TRAAAAW128F429D538.h5"
    song.parent.mkdir(parents=True)
    song.touch()
    (work / "labels.cls").touch()
    outputs = [work / output for _, output in STEPS.values()]
    for output in outputs:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.touch()
    for path in (*code.rglob("*"), *work.rglob("*")):
        made_long_ago(path)
    made_long_ago(code / ".venv" / "installed", 1)
    for order, output in enumerate(outputs, start=1):
        made_long_ago(output, 10 * order)  # newer than what it is made from
    return code, work


def planned_steps(project):
    """The pipeline steps `make all` would run now."""
    code, work = project
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "all", f"DATA={work / 'data'}",
         f"SONGS={work / 'data' / 'songs'}", f"LABELS={work / 'labels.cls'}", "MISMATCHES=",
         f"RUN={work / 'run'}"], cwd=code, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    return {step for step, (command, _) in STEPS.items() if command in plan.stdout}


def edit(path):
    """A file changed now: newer than every output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def test_nothing_runs_when_nothing_changed(project):
    """The ground the other tests stand on: what they see run, their edit made run."""
    assert planned_steps(project) == set()


def test_an_edit_to_the_estimator_retrains_and_evaluates_again(project):
    edit(project[0] / "genrelearn" / "classifier.py")
    steps = planned_steps(project)
    assert {"train", "evaluate"} <= steps and "extract" not in steps


@pytest.mark.parametrize("module", ["training.py", "transforms.py", "options.py",
                                    "checkpoint.py", "network.py", "cleaning.py", "splitting.py",
                                    "tablefiles.py"])
def test_an_edit_to_any_module_training_imports_retrains(project, module):
    edit(project[0] / "genrelearn" / module)
    assert "train" in planned_steps(project)


def test_an_edit_to_the_features_extracts_again(project):
    edit(project[0] / "dataset" / "features.py")
    assert planned_steps(project) == set(STEPS)


def test_an_edit_to_the_scoring_evaluates_again(project):
    edit(project[0] / "genrelearn" / "scoring.py")
    assert "evaluate" in planned_steps(project)


def test_an_edit_to_evaluate_alone_does_not_retrain(project):
    edit(project[0] / "evaluate.py")
    assert planned_steps(project) == {"evaluate"}


def test_a_module_moved_into_a_package_folder_still_counts(project):
    """Modules may move into a package: the Makefile names no module but the scripts."""
    code, _ = project
    (code / "genrelearn" / "classifier.py").unlink()
    edit(code / "genre_package" / "classifier.py")
    assert {"train", "evaluate"} <= planned_steps(project)
