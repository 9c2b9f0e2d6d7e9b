"""dataset/outputs.py and the partial outputs of dataset/writers.py: whole outputs or none, one
line for what cannot be written, no moment without an output, one run writing an output."""
import errno
import os
import threading

import pytest

from dataset import extract, outputs, writers
from dataset.outputs import OutputError, atomic_folder, atomic_output, replace_folder
from test_extract import write_tree


def names_in(folder):
    return sorted(path.name for path in folder.iterdir())


def test_two_runs_writing_one_output_use_their_own_temporary_files(tmp_path):
    out = tmp_path / "metrics.json"
    with atomic_output(out) as first, atomic_output(out) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("the first run's whole output")
        second.write_text("the second's")
    # The first to finish is replaced by the last one: one run's whole output, never a mix.
    assert out.read_text() == "the first run's whole output"
    assert names_in(tmp_path) == ["metrics.json"]


def test_an_output_gets_the_permissions_of_any_new_file(tmp_path):
    previous = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "model.pt") as temporary:
            temporary.write_bytes(b"weights")
    finally:
        os.umask(previous)
    assert (tmp_path / "model.pt").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("number, said", [
    (errno.ENOSPC, "no space left on device (free space or choose another place)"),
    (errno.EDQUOT, "disk quota exceeded (free space or choose another place)"),
    (errno.EROFS, "a read-only file system (choose another place)"),
])
def test_a_full_disk_is_one_line_naming_the_output_and_what_to_do(number, said, tmp_path):
    out = tmp_path / "runs" / "model.pt"
    out.parent.mkdir()
    out.write_bytes(b"the earlier model")
    with pytest.raises(OutputError) as raised, atomic_output(out) as temporary:
        with open(temporary, "wb") as stream:
            stream.write(b"half a model")
            raise OSError(number, os.strerror(number))  # as a write to the open file says it
    assert str(raised.value) == f"{out}: cannot write it: {said}"
    assert out.read_bytes() == b"the earlier model" and names_in(out.parent) == ["model.pt"]


def test_no_permission_on_the_temporary_file_says_where_and_what_to_do(tmp_path):
    out = tmp_path / "p.csv"
    with pytest.raises(OutputError) as raised, atomic_output(out) as temporary:
        raise PermissionError(errno.EACCES, "Permission denied", str(temporary))
    assert str(raised.value) == (f"{out}: cannot write it: permission denied "
                                 "(a read-only or protected folder: choose another place)")
    assert names_in(tmp_path) == []


def test_an_input_that_cannot_be_read_inside_the_block_is_not_said_to_be_the_output(tmp_path):
    out = tmp_path / "predictions.csv"
    out.write_text("earlier predictions")
    missing = tmp_path / "songs.csv"
    for error in (FileNotFoundError(errno.ENOENT, "No such file or directory", str(missing)),
                  PermissionError(errno.EACCES, "Permission denied", str(missing)),
                  OSError(errno.EIO, "Input/output error")):
        with pytest.raises(type(error)) as raised, atomic_output(out) as temporary:
            temporary.write_text("half")
            raise error
        assert raised.value is error
    assert out.read_text() == "earlier predictions" and names_in(tmp_path) == ["predictions.csv"]


def test_a_file_or_a_folder_in_the_way_is_one_line(tmp_path):
    under_a_file = tmp_path / "SongCSV.csv" / "pre.csv"
    under_a_file.parent.write_text("a file")
    with pytest.raises(OutputError, match="cannot write it: a file is in the way of its folder"):
        with atomic_output(under_a_file):
            pass
    folder = tmp_path / "metrics.json"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(OutputError, match="cannot write it: a folder is in the way"), \
            atomic_output(folder) as temporary:
        temporary.write_text("{}")
    assert names_in(tmp_path) == ["SongCSV.csv", "metrics.json"]


def make_folder(path, text, files=3):
    path.mkdir()
    for number in range(files):
        (path / f"part-{number}").write_text(text)
    return path


def test_replace_folder_puts_the_new_folder_in_place_and_deletes_the_old(tmp_path):
    target = tmp_path / "run"
    replace_folder(make_folder(tmp_path / "first", "first"), target)
    assert names_in(tmp_path) == ["run"] and (target / "part-0").read_text() == "first"
    replace_folder(make_folder(tmp_path / "second", "second", files=2), target)
    assert names_in(tmp_path) == ["run"]
    assert {path.read_text() for path in target.iterdir()} == {"second"}
    assert names_in(target) == ["part-0", "part-1"]


def exchange_works(tmp_path):
    first, second = (tmp_path / "a").resolve(), (tmp_path / "b").resolve()
    first.mkdir()
    second.mkdir()
    try:
        return outputs._exchange(first, second)
    finally:
        first.rmdir()
        second.rmdir()


def test_replace_folder_leaves_no_moment_without_a_whole_folder(tmp_path):
    if not exchange_works(tmp_path):
        pytest.skip("this system or file system cannot swap two paths at once (renameat2)")
    target = make_folder(tmp_path / "run", "0")
    seen, missing, stop = set(), [], threading.Event()

    def read_by_path():
        # Each path is looked up afresh: it finds the earlier folder or the new one, whole.
        while not stop.is_set():
            for number in range(3):
                try:
                    seen.add((target / f"part-{number}").read_text())
                except FileNotFoundError as err:
                    missing.append(err)

    reading = threading.Thread(target=read_by_path)
    reading.start()
    try:
        for run in range(1, 60):
            replace_folder(make_folder(tmp_path / f"new{run}", str(run)), target)
    finally:
        stop.set()
        reading.join()
    assert not missing and len(seen) > 1
    assert names_in(tmp_path) == ["run"] and (target / "part-0").read_text() == "59"


def test_replace_folder_without_an_exchange_renames_the_old_folder_aside(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "_renameat2", lambda: None)  # another system, an old glibc
    target = make_folder(tmp_path / "run", "old")
    replace_folder(make_folder(tmp_path / "new", "new"), target)
    assert names_in(tmp_path) == ["run"]
    assert {path.read_text() for path in target.iterdir()} == {"new"}


HEADER = ["track_id", "tempo"]


def test_a_second_run_writing_one_csv_refuses_and_the_first_completes(tmp_path):
    out = tmp_path / "SongCSV.csv"
    first = writers.PartialCsv(out, HEADER, resume=False)
    first.write_files([("a.h5", [{"track_id": "TRA", "tempo": 100.0}])])
    before = {name: (tmp_path / name).read_bytes() for name in names_in(tmp_path)}
    for resume in (False, True):
        with pytest.raises(OutputError) as raised:
            writers.PartialCsv(out, HEADER, resume=resume)
        assert str(raised.value) == (f"another run is writing {out} (its SongCSV.csv.partial."
                                     "files is locked): wait for it or choose another --out")
    assert {name: (tmp_path / name).read_bytes() for name in names_in(tmp_path)} == before
    first.write_files([("b.h5", [{"track_id": "TRB", "tempo": 90.0}])])
    first.commit()
    assert out.read_text() == "track_id,tempo\nTRA,100.0\nTRB,90.0\n"
    assert names_in(tmp_path) == ["SongCSV.csv"]
    second = writers.PartialCsv(out, HEADER, resume=False)  # once the first is done
    second.commit()
    assert out.read_text() == "track_id,tempo\n"


def test_an_interrupted_run_lets_the_next_one_resume(tmp_path):
    out = tmp_path / "SongCSV.csv"
    first = writers.PartialCsv(out, HEADER, resume=False)
    first.write_files([("a.h5", [{"track_id": "TRA", "tempo": 100.0}])])
    first.close()  # what Ctrl-C does
    resumed = writers.PartialCsv(out, HEADER, resume=True)
    assert list(resumed.done) == ["a.h5"]
    resumed.commit()
    assert out.read_text() == "track_id,tempo\nTRA,100.0\n"


def test_a_second_run_writing_one_parquet_folder_refuses(tmp_path):
    pytest.importorskip("pyarrow", reason="needs requirements-scale.txt installed")
    out = tmp_path / "SongCSV.parquet"
    first = writers.PartialParquet(out, HEADER, resume=False)
    with pytest.raises(OutputError, match="another run is writing"):
        writers.PartialParquet(out, HEADER, resume=False)
    first.write_files([("a.h5", [{"track_id": "TRA", "tempo": 100.0}])])
    first.commit()
    assert names_in(tmp_path) == ["SongCSV.parquet"] and names_in(out) == ["part-00000.parquet"]


def test_atomic_folder_lands_a_run_as_one_set_or_leaves_the_earlier_one(tmp_path):
    out = make_folder(tmp_path / "run", "earlier")
    with pytest.raises(OutputError, match=f"{out}: cannot write it: no space left on device"), \
            atomic_folder(out) as run:
        (run / "part-0").write_text("new")
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(FileNotFoundError), atomic_folder(out) as run:  # an input, not the run
        (run / "part-0").write_text("new")
        open(tmp_path / "absent.csv")
    assert names_in(tmp_path) == ["run"]
    assert {path.read_text() for path in out.iterdir()} == {"earlier"}
    previous = os.umask(0o022)
    try:
        with atomic_folder(out) as run:
            (run / "model.pt").write_text("new")
    finally:
        os.umask(previous)
    assert names_in(tmp_path) == ["run"] and names_in(out) == ["model.pt"]
    assert out.stat().st_mode & 0o777 == 0o755


def test_extract_refuses_in_one_line_an_output_another_run_is_writing(tmp_path, capsys):
    out = tmp_path / "SongCSV.csv"
    running = writers.PartialCsv(out, HEADER, resume=False)
    running.write_files([("a.h5", [{"track_id": "TRA", "tempo": 100.0}])])
    tree = write_tree(tmp_path / "tree", 2)
    assert extract.main([str(tree), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    assert capsys.readouterr().err == (f"error: another run is writing {out} (its SongCSV.csv."
                                       "partial.files is locked): wait for it or choose another "
                                       "--out\n")
    running.commit()
    assert out.read_text() == "track_id,tempo\nTRA,100.0\n"
