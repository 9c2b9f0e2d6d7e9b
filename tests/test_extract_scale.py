"""dataset/extract.py past one machine: --format parquet and --engine dask give the CSV's rows."""
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataset import extract, songfiles, writers
from dataset.sample import write_song_file
from songs import make_song
from test_extract import ROOT, InterruptingSource, write_tree

NEEDS = "needs requirements-scale.txt installed"


@pytest.fixture
def tree(tmp_path):
    """8 single-track files, then an aggregate of 2 songs without segments (one of year 0) and a
    file that is no song file; a .cls file labels half of the songs; sid_mismatches.txt lists
    the aggregate's second song."""
    tree = write_tree(tmp_path / "tree", 8)
    write_song_file(tree / "aggregate.h5", [make_song("TRAGG000000000000", seed=40, segments=0),
                                            make_song("TRAGG000000000001", seed=41, segments=0,
                                                      year=0)])
    (tree / "text.h5").write_text("not a song file")
    with open(tmp_path / "genres.cls", "w", encoding="utf-8") as cls:
        for path in sorted(tree.rglob("TR*.h5"))[::2]:
            cls.write(f"{path.stem}\tRock\n")
    (tmp_path / "sid_mismatches.txt").write_text(
        "ERROR: <SOAGG0000000000001 TRAGG000000000001> Artist 41  -  Title 41  !=  "
        "Other  -  Song\n")
    return tree


def run(tree, out, *options):
    """extract.main on ``tree`` into ``out``, labelled by the .cls file beside it."""
    cls = Path(tree).parent / "genres.cls"
    return extract.main([str(tree), "--out", str(out), "--labels", str(cls), "--workers", "1",
                         "--quiet", *options])


def assert_same_rows(csv_path, parquet_path):
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet_path), pd.read_csv(csv_path),
                                  check_dtype=False)


def test_parquet_parts_hold_the_csv_rows_with_one_schema(tree, tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet", reason=NEEDS)
    monkeypatch.setattr(writers, "PARQUET_PART_ROWS", 8)
    csv_out = tmp_path / "csv" / "SongCSV.csv"
    out = tmp_path / "parquet" / "SongCSV.parquet"
    assert run(tree, csv_out) == 0
    assert run(tree, out, "--format", "parquet") == 0
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["SongCSV.parquet",
                                                            "SongCSV_failures.csv"]
    assert_same_rows(csv_out, out)
    assert (out.parent / "SongCSV_failures.csv").read_text() == \
        (csv_out.parent / "SongCSV_failures.csv").read_text()

    first, second = (pq.read_table(out / f"part-0000{i}.parquet") for i in (0, 1))
    assert first.schema == second.schema  # although the second part's songs have no segments
    assert second.schema.field("timbre_mean_0").type == "double"
    assert second.column("timbre_mean_0").null_count == 2
    assert second.column("year").to_pylist() == [2030, None]
    assert str(second.schema.field("year").type) == "int32"
    assert first.column("genre").to_pylist()[:2] == ["Rock", None]

    assert run(tree, out, "--format", "parquet") == 0  # a rerun replaces its earlier output
    assert_same_rows(csv_out, out)


def test_parquet_never_replaces_what_it_did_not_write(tree, tmp_path, capsys):
    pytest.importorskip("pyarrow", reason=NEEDS)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert run(tree, out, "--format", "parquet") == 2
    assert "not an earlier --format parquet output" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_interrupted_parquet_run_resumes_to_the_same_rows(tree, tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow", reason=NEEDS)
    unlabelled = [str(tree), "--workers", "1", "--quiet"]  # as InterruptingSource labels
    clean = tmp_path / "clean.csv"
    assert extract.main(unlabelled + ["--out", str(clean)]) == 0
    monkeypatch.setattr(writers, "PARQUET_PART_ROWS", 4)
    out = tmp_path / "SongCSV.parquet"
    with pytest.raises(KeyboardInterrupt):
        extract.extract([str(tree)], out, 1, True, InterruptingSource(4), progress=False,
                        output_format="parquet")
    partial = tmp_path / "SongCSV.parquet.partial"
    assert not out.exists() and [p.name for p in partial.iterdir()] == ["part-00000.parquet"]
    # What kills at the wrong moment leave: a part with no journal line, a torn temporary part,
    # a torn journal line.
    (partial / "part-00005.parquet").write_bytes(b"PAR1 whole but not journalled")
    (partial / ".part-00006.parquet.tmp").write_bytes(b"PAR1 half a part")
    with open(f"{partial}.files", "a", encoding="utf-8") as journal:
        journal.write("part-00009.parq")
    with pytest.raises(KeyboardInterrupt):  # interrupted again, after one more part
        extract.extract([str(tree)], out, 1, True, InterruptingSource(4), resume=True,
                        progress=False, output_format="parquet")
    capsys.readouterr()
    assert extract.main(unlabelled + ["--out", str(out), "--format", "parquet", "--resume"]) == 0
    assert "(8 done before --resume)" in capsys.readouterr().out
    assert not partial.exists() and not (tmp_path / "SongCSV.parquet.partial.files").exists()
    assert sorted(p.name for p in out.iterdir()) == [f"part-0000{i}.parquet" for i in range(3)]
    assert_same_rows(clean, out)


@contextlib.contextmanager
def scheduler_with_a_worker(cwd, pythonpath=None):
    """The address of a scheduler in this process whose one worker is a `dask worker` process
    started in ``cwd`` with ``pythonpath``, as on another machine of a cluster."""
    distributed = pytest.importorskip("distributed", reason=NEEDS)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env.update({"PYTHONPATH": str(pythonpath)} if pythonpath else {})
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster:
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
             "--nthreads", "2", "--no-nanny", "--no-dashboard"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            cluster.wait_for_workers(1, timeout=60)
            yield cluster.scheduler_address
        finally:
            worker.terminate()
            worker.wait()


def test_dask_engine_gives_the_local_rows_and_failures(tree, tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason=NEEDS)
    pytest.importorskip("pyarrow", reason=NEEDS)
    monkeypatch.chdir(tmp_path)  # relative paths: workers get them absolute, outputs as given
    assert run("tree", "local/SongCSV.csv") == 0
    # The command line as a user types it, on a LocalCluster of 2 worker processes.
    command = subprocess.run(
        [sys.executable, "-m", "dataset.extract", "tree", "--out", "dask/SongCSV.csv",
         "--labels", "genres.cls", "--engine", "dask", "--workers", "2", "--quiet"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert command.returncode == 0, command.stderr
    assert "wrote 10 rows" in command.stdout and "skipped tree/text.h5" in command.stderr
    for name in ("SongCSV.csv", "SongCSV_failures.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert run("tree", "local/unmatched.csv", "--mismatches", "sid_mismatches.txt") == 0

    (tmp_path / "elsewhere").mkdir()
    with scheduler_with_a_worker(tmp_path / "elsewhere", pythonpath=ROOT) as address:
        assert run("tree", "remote/SongCSV.parquet", "--format", "parquet", "--engine", "dask",
                   "--scheduler", address, "--mismatches", "sid_mismatches.txt") == 0
    assert_same_rows(tmp_path / "local" / "unmatched.csv",
                     tmp_path / "remote" / "SongCSV.parquet")
    assert (tmp_path / "remote" / "SongCSV_failures.csv").read_bytes() == \
        (tmp_path / "local" / "SongCSV_failures.csv").read_bytes()


def test_cluster_problems_are_one_line_errors(tree, tmp_path, capsys):
    dask = pytest.importorskip("dask", reason=NEEDS)
    out = tmp_path / "SongCSV.csv"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert run(tree, out, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9") == 2
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in capsys.readouterr().err

    # A worker without this repository cannot run our tasks (dask would wait forever): said
    # before any task is sent. In a subprocess with a time limit, so a regression cannot hang.
    with scheduler_with_a_worker(tmp_path) as address:
        command = subprocess.run(
            [sys.executable, "-m", "dataset.extract", str(tree), "--out", str(out),
             "--engine", "dask", "--scheduler", address, "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert command.returncode == 2
    assert "cannot import dataset.extract" in command.stderr and "PYTHONPATH" in command.stderr
    assert "Traceback" not in command.stderr and len(command.stderr.splitlines()) == 1
    assert not out.exists() and not (tmp_path / "SongCSV.csv.partial").exists()

    with pytest.raises(SystemExit) as exit_info:
        run(tree, out, "--scheduler", "tcp://127.0.0.1:8786")
    assert exit_info.value.code == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


@pytest.mark.parametrize("module, options", [("distributed", ["--engine", "dask"]),
                                             ("pyarrow", ["--format", "parquet"])])
def test_missing_optional_package_is_a_one_line_error(module, options, tree, tmp_path,
                                                      monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # what an install without the extra has
    out = tmp_path / "out"
    assert run(tree, out, *options) == 2
    err = capsys.readouterr().err
    assert f"needs {module}" in err and "pip install -r requirements-scale.txt" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genres.cls", "sid_mismatches.txt",
                                                          "tree"]  # no output


def test_mismatches_are_left_out_of_parquet_and_of_a_resumed_run(tree, tmp_path, capsys):
    pytest.importorskip("pyarrow", reason=NEEDS)
    mismatches = tmp_path / "sid_mismatches.txt"
    unlabelled = [str(tree), "--workers", "1", "--quiet", "--mismatches", str(mismatches)]
    clean = tmp_path / "clean.csv"
    assert extract.main(unlabelled + ["--out", str(clean)]) == 0
    assert "wrote 9 rows" in capsys.readouterr().out
    assert "TRAGG000000000001" not in clean.read_text()
    parquet = tmp_path / "SongCSV.parquet"
    assert extract.main(unlabelled + ["--out", str(parquet), "--format", "parquet"]) == 0
    assert_same_rows(clean, parquet)

    out = tmp_path / "SongCSV.csv"
    with pytest.raises(KeyboardInterrupt):  # stopped after 4 files; the list is the rest's
        extract.extract([str(tree)], out, 1, True, InterruptingSource(4), progress=False,
                        excluded=songfiles.read_mismatches(mismatches))
    capsys.readouterr()
    assert extract.main(unlabelled + ["--out", str(out), "--resume"]) == 0
    assert "left out 1 mismatched tracks" in capsys.readouterr().out
    assert out.read_bytes() == clean.read_bytes()
