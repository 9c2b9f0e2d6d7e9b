"""Where extract's rows go: OUT.partial files put in OUT's place when complete, with a resume
journal, locked for the run.

Usage:
    from dataset import writers
    output = writers.PartialCsv("data/SongCSV.csv", header, resume=False)   # or PartialParquet
    output.write_files([(path, rows), ...]); output.commit()

``done`` maps the input files written (journalled, in this run or before a --resume) to where
their rows end. A torn write, as a kill or a full disk leaves, is cut back to the last journalled
file, so no row is written twice. The journal is locked for the run: a second run writing the
same output refuses to start.
"""
import contextlib
import csv
import errno
import fcntl
import importlib
import math
import os
import re
import shutil
from pathlib import Path

from dataset import labels, layout
from dataset.outputs import OutputError, atomic_output, cannot_write, replace_folder

PARQUET_PART_ROWS = 20_000  # rows per part file (~13 MB): at most this much is redone on --resume
# Rows gathered before they become an Arrow record batch: extract writes a file's rows at a time,
# and a record batch per file would cost more than the rows.
RECORD_BATCH_ROWS = 1024
SCALE_INSTALL = "pip install -r requirements-scale.txt"
NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}  # flock's errors where there are none


def _import_pyarrow():
    try:
        return importlib.import_module("pyarrow")
    except ImportError:
        raise OutputError(f"--format parquet needs pyarrow, which is not installed: "
                          f"{SCALE_INSTALL}") from None


def _csv_cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


class _Partial:
    """What the partial outputs share: OUT.partial (a file or a folder) and its journal
    OUT.partial.files, locked for the run so that a second run writing OUT refuses to start
    rather than write into the same files; OSErrors said in one line naming OUT."""

    def __init__(self, out):
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.journal = self.out.with_name(self.out.name + ".partial.files")
        self._journal = None
        self.done = {}  # input file (or part of one) journalled -> where its rows are

    def _start(self, resume):
        """Lock the journal, then resume (``_recover``'s result) or, when there is nothing to
        resume, start afresh (``_start_afresh``; None). A start that fails lets the lock go,
        and one afresh leaves no file behind."""
        self._lock_journal()
        try:
            recovered = self._recover() if resume else None
        except BaseException:
            self.close()
            raise
        if recovered is None:
            try:
                with self._writing():
                    self._journal.truncate(0)
                    self._start_afresh()
            except BaseException:
                self._give_up()
                raise
        return recovered

    def _give_up(self):
        """Delete OUT.partial and the journal, which hold nothing to resume, then let the lock
        go."""
        with contextlib.suppress(OSError):
            if self.partial.is_dir():
                shutil.rmtree(self.partial)
            else:
                self.partial.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.journal.unlink()
        self.close()

    def _lock_journal(self):
        """Open the journal to append (made when missing) and hold its lock for the run;
        OutputError when another run holds it. A file system without locks (a few network and
        FUSE ones) cannot keep two runs apart: the run goes on unlocked there."""
        while True:
            with self._writing():
                stream = open(self.journal, "a+", encoding="utf-8")
            try:
                fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                stream.close()
                raise OutputError(f"another run is writing {self.out} (its {self.journal.name} "
                                  "is locked): wait for it or choose another --out") from None
            except OSError as err:
                if err.errno not in NO_LOCKS:
                    stream.close()
                    raise cannot_write(self.out, err) from None
            if _names_file(self.journal, stream):
                self._journal = stream
                return
            stream.close()  # the run that held it finished meanwhile and deleted it

    @contextlib.contextmanager
    def _writing(self):
        """OSErrors inside, all from writing OUT's files, as OutputError naming OUT, which says
        that the rows journalled are kept for --resume when there are some."""
        try:
            yield
        except OSError as err:
            error = cannot_write(self.out, err)
            if self.done:
                error = OutputError(f"{error}; the rows of {len(self.done)} files are kept in "
                                    f"{self.partial} for --resume")
            raise error from None

    def _unlock(self):
        """Delete the journal, then let the lock go: the output is complete."""
        with contextlib.suppress(OSError):  # one left behind is started afresh by the next run
            self.journal.unlink()
        self._journal.close()


def _names_file(path, stream):
    """Whether ``path`` still names the file open as ``stream``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(stream.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _journal_lines(journal):
    """The complete lines of a journal; a torn last line (a kill mid-write) is cut off the file."""
    with open(journal, "r+b") as stream:
        data = stream.read()
        complete = data[:data.rfind(b"\n") + 1]
        stream.truncate(len(complete))
    return [line for line in complete.decode("utf-8").splitlines() if "\t" in line]


class PartialCsv(_Partial):
    """OUT.partial plus a journal of finished input files and the byte offset after each.

    On --resume the partial file is cut back to the last journalled offset, so rows of a file
    whose end was not recorded are written again, never twice.
    """

    def __init__(self, out, header, resume):
        super().__init__(out)
        if self.out.is_dir():
            raise OutputError(f"{self.out} is a folder: give --out a file name for CSV output")
        self.header = list(header)
        self._stream = None
        recovered = self._start(resume)
        if recovered is not None:
            self.done = recovered
            with self._writing():
                self._stream = open(self.partial, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._stream)

    def _start_afresh(self):
        self._stream = open(self.partial, "w", newline="", encoding="utf-8")
        csv.writer(self._stream).writerow(self.header)
        self._stream.flush()

    def _recover(self):
        """The done files of the journal, with OUT.partial cut back to where the last ends;
        None when there is nothing to resume."""
        if not self.partial.exists():
            return None
        lines = _journal_lines(self.journal)
        if not lines:  # not even one file's rows were journalled: start again
            return None
        with open(self.partial, newline="", encoding="utf-8") as stream:
            if next(csv.reader(stream), None) != self.header:
                raise OutputError(f"{self.partial} has other columns than this run would write "
                                  "(different --no-segments?): rerun without --resume")
        done = {}
        for line in lines:
            offset_text, path = line.split("\t", 1)
            offset = int(offset_text)
            done[path] = offset
        with open(self.partial, "r+b") as stream:
            stream.truncate(offset)  # where the last journalled file's rows end
        return done

    def write_files(self, files):
        """Append the rows of each (path, rows) and journal the file as done."""
        with self._writing():
            for path, rows in files:
                self._writer.writerows([[_csv_cell(row[name]) for name in self.header]
                                        for row in rows])
                self._stream.flush()
                end = self._stream.tell()
                self._journal.write(f"{end}\t{path}\n")
                self._journal.flush()
                self.done[path] = end

    def close(self):
        """Stop writing, keeping OUT.partial and the journal for --resume."""
        # What a failed write left unwritten was not journalled: --resume writes it again.
        for stream in (self._stream, self._journal):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def commit(self):
        """Rename OUT.partial to OUT, which is complete."""
        with self._writing():
            self._stream.close()
            os.replace(self.partial, self.out)
        self._unlock()


PART_NAME = re.compile(r"part-\d{5}\.parquet")


def arrow_schema(header):
    """One explicit schema for every part, so a part of songs without segments types its empty
    columns as the others do: text and labels are strings, the MSD's integer fields (year, key,
    mode, time_signature) int32, everything else float64."""
    pa = _import_pyarrow()
    file_types = {name: dtype for fields in layout.SONG_TABLES.values() for name, dtype in fields}

    def arrow_type(name):
        if name in labels.LABEL_COLUMNS or file_types.get(name, "").startswith("S"):
            return pa.string()
        return pa.int32() if file_types.get(name, "").startswith("<i") else pa.float64()

    return pa.schema([(name, arrow_type(name)) for name in header])


def _parquet_value(value):
    # Nulls where the CSV has empty cells: None, NaN and empty text alike.
    if value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


class PartialParquet(_Partial):
    """OUT.partial/, a folder of part-NNNNN.parquet files, put in OUT's place when complete, plus
    a journal with one line per finished part naming its input files: a part whose line was not
    written is deleted on --resume and its files are read again."""

    def __init__(self, out, header, resume):
        super().__init__(out)
        self._pa = _import_pyarrow()
        self._pq = importlib.import_module("pyarrow.parquet")
        if self.out.exists() and not (self.out.is_dir() and all(
                PART_NAME.fullmatch(p.name) for p in self.out.iterdir())):
            raise OutputError(f"{self.out} exists and is not an earlier --format parquet output: "
                             "move it away or choose another --out")
        self.schema = arrow_schema(header)
        self.done, self.parts = self._start(resume) or (self.done, 0)
        self._batches, self._buffer, self._paths, self._rows = [], [], [], 0

    def _start_afresh(self):
        if self.partial.is_dir():
            shutil.rmtree(self.partial)
        self.partial.unlink(missing_ok=True)
        self.partial.mkdir()

    def _recover(self):
        if not self.partial.is_dir():
            return None
        done = {}
        for line in _journal_lines(self.journal):
            part, *paths = line.split("\t")
            done.update(dict.fromkeys(paths, part))
        parts = set(done.values())
        for path in self.partial.iterdir():
            if path.name not in parts:  # written after the last journal line, or torn
                path.unlink()
        if parts and self._pq.read_schema(self.partial / min(parts)).names != self.schema.names:
            raise OutputError(f"{self.partial} has other columns than this run would write "
                             "(different --no-segments?): rerun without --resume")
        return done, len(parts)

    def write_files(self, files):
        """Buffer the rows of each (path, rows); a part is written once it has enough rows."""
        for _, rows in files:
            self._buffer.extend([_parquet_value(row[name]) for name in self.schema.names]
                                for row in rows)
            self._rows += len(rows)
        self._paths.extend(path for path, _ in files)
        if len(self._buffer) >= RECORD_BATCH_ROWS:
            self._to_record_batch()
        if self._rows >= PARQUET_PART_ROWS:
            self._write_part()

    def _to_record_batch(self):
        columns = list(zip(*self._buffer)) or [()] * len(self.schema)
        self._batches.append(self._pa.record_batch(
            [self._pa.array(list(values), type=field.type)
             for field, values in zip(self.schema, columns, strict=True)], schema=self.schema))
        self._buffer = []

    def _write_part(self):
        self._to_record_batch()
        name = f"part-{self.parts:05d}.parquet"
        temporary = self.partial / f".{name}.tmp"
        with self._writing():
            self._pq.write_table(self._pa.Table.from_batches(self._batches, self.schema),
                                 temporary)
            os.replace(temporary, self.partial / name)
            self._journal.write("\t".join([name] + self._paths) + "\n")
            self._journal.flush()
        self.done.update(dict.fromkeys(self._paths, name))
        self.parts += 1
        self._batches, self._buffer, self._paths, self._rows = [], [], [], 0

    def close(self):
        """Stop writing, keeping OUT.partial and the journal for --resume."""
        with contextlib.suppress(OSError):  # a torn journal line is cut off on --resume
            self._journal.close()

    def commit(self):
        """Write the last part and put OUT.partial in the place of OUT (an earlier output, checked
        at the start) at once (outputs.replace_folder)."""
        if self._paths or not self.parts:  # the rest, or one empty part for a run without rows
            self._write_part()
        with self._writing():
            replace_folder(self.partial, self.out)
        self._unlock()


def failures_path(out):
    """Where the (path, reason) list of unreadable files goes: beside the output."""
    return Path(out).with_name(Path(out).stem + "_failures.csv")


def write_failures(out, failed):
    """Write (path, reason) rows beside ``out``; returns the failures file's path."""
    failures = failures_path(out)
    with atomic_output(failures) as temporary, open(temporary, "w", newline="",
                                                     encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "reason"])
        writer.writerows(failed)
    return failures
