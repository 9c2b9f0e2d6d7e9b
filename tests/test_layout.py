"""The house (issue 31): the root shows what a user runs and the two wings; installed, the
project gives a command per script, and its scripts no top-level module named train or model
(the data half keeps its name, dataset, which a PyPI project of that name also installs)."""
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"model.py", "preprocess.py", "train.py", "evaluate.py", "predict.py", "tune.py"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_root_holds_the_scripts_and_two_packages():
    modules = {path.name for path in ROOT.glob("*.py")}
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert modules == SCRIPTS
    assert packages - {"bench", "tests"} == {"dataset", "genrelearn"}


def test_every_script_has_a_command():
    commands = PROJECT["project"]["scripts"]
    targets = {target.split(":")[0] for target in commands.values()}
    assert {f"msdgenre.{Path(script).stem}" for script in SCRIPTS} <= targets
    assert {"dataset.extract", "dataset.download"} <= targets


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project built and installed (no dependencies: they are this environment's) into a
    folder of its own, as pip installs it for a user; built from a copy, since a build leaves
    its build/ and .egg-info folders beside the sources."""
    source = tmp_path_factory.mktemp("source") / "project"
    target = tmp_path_factory.mktemp("installed")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "tests", "bench", "docs", "data", "runs", "shared", "build", "__pycache__",
        "*.egg-info"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300, cwd=target)
    if build.returncode and "No module named 'setuptools'" in build.stderr:
        pytest.skip("setuptools is not installed (pip install -r requirements-test.txt has it)")
    assert build.returncode == 0, build.stderr
    return target


def run_command(installed, name, *argv):
    """An installed command, run away from the checkout: only the installed files import."""
    environment = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, str(installed / "bin" / name), *argv],
                          capture_output=True, text=True, timeout=120, cwd=installed,
                          env=environment)


def test_installed_top_level_names_are_the_packages_alone(installed):
    top_level = {path.name.removesuffix(".py") for path in installed.iterdir()
                 if not path.name.endswith((".dist-info", "bin", "__pycache__"))}
    assert top_level == {"dataset", "genrelearn", "msdgenre"}
    assert {path.name for path in (installed / "msdgenre").glob("*.py")} == SCRIPTS


@pytest.mark.parametrize("name", sorted(PROJECT["project"]["scripts"]))
def test_each_installed_command_runs(installed, name):
    shown = run_command(installed, name, "--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"usage: {name}")


def test_the_installed_model_command_shows_the_network(installed):
    shown = run_command(installed, "msd-model", "--hidden", "8,4,2", "--ensemble", "2",
                        "--inputs", "3", "--genres", "2")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "Linear     3 -> 8     ReLU, dropout 0.36", "Linear     8 -> 4     ReLU, dropout 0.36",
        "Linear     4 -> 2     ReLU, dropout 0.36", "Linear     2 -> 2     genre logits",
        "84 parameters a member x 2 members = 168"]
