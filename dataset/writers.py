"""Where extract's rows go: OUT.partial files renamed when complete, with a resume journal.

Usage:
    from dataset import writers
    output = writers.PartialCsv("data/SongCSV.csv", header, resume=False)   # or PartialParquet
    output.write_files([(path, rows), ...]); output.commit()

``done`` maps the input files already written (on --resume) to where their rows end. A torn
write, as a kill leaves, is cut back to the last journalled file, so no row is written twice.
"""
import csv
import importlib
import math
import os
import re
import shutil
from pathlib import Path

from dataset import labels, layout
from dataset.outputs import OutputError, atomic_output

PARQUET_PART_ROWS = 20_000  # rows per part file (~13 MB): at most this much is redone on --resume
# Rows gathered before they become an Arrow record batch: extract writes a file's rows at a time,
# and a record batch per file would cost more than the rows.
RECORD_BATCH_ROWS = 1024
SCALE_INSTALL = "pip install -r requirements-scale.txt"


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


def _journal_lines(journal):
    """The complete lines of a journal; a torn last line (a kill mid-write) is cut off the file."""
    with open(journal, "r+b") as stream:
        data = stream.read()
        complete = data[:data.rfind(b"\n") + 1]
        stream.truncate(len(complete))
    return [line for line in complete.decode("utf-8").splitlines() if "\t" in line]


class PartialCsv:
    """OUT.partial plus a journal of finished input files and the byte offset after each.

    On --resume the partial file is cut back to the last journalled offset, so rows of a file
    whose end was not recorded are written again, never twice.
    """

    def __init__(self, out, header, resume):
        self.out = Path(out)
        if self.out.is_dir():
            raise OutputError(f"{self.out} is a folder: give --out a file name for CSV output")
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.journal = self.out.with_name(self.out.name + ".partial.files")
        self.header = list(header)
        self.done = self._recover() if resume else None
        if self.done is None:
            self.done = {}
            self._stream = open(self.partial, "w", newline="", encoding="utf-8")
            csv.writer(self._stream).writerow(self.header)
            self._stream.flush()
            self._journal = open(self.journal, "w", encoding="utf-8")
        else:
            self._stream = open(self.partial, "a", newline="", encoding="utf-8")
            self._journal = open(self.journal, "a", encoding="utf-8")
        self._writer = csv.writer(self._stream)

    def _recover(self):
        if not (self.partial.exists() and self.journal.exists()):
            return None
        with open(self.partial, newline="", encoding="utf-8") as stream:
            if next(csv.reader(stream), None) != self.header:
                raise OutputError(f"{self.partial} has other columns than this run would write "
                                 "(different --no-segments?): rerun without --resume")
        done, offset = {}, None
        for line in _journal_lines(self.journal):
            offset_text, path = line.split("\t", 1)
            offset = int(offset_text)
            done[path] = offset
        if offset is not None:
            with open(self.partial, "r+b") as stream:
                stream.truncate(offset)
        return done

    def write_files(self, files):
        """Append the rows of each (path, rows) and journal the file as done."""
        for path, rows in files:
            self._writer.writerows([[_csv_cell(row[name]) for name in self.header]
                                    for row in rows])
            self._stream.flush()
            self._journal.write(f"{self._stream.tell()}\t{path}\n")
            self._journal.flush()

    def close(self):
        self._stream.close()
        self._journal.close()

    def commit(self):
        self.close()
        os.replace(self.partial, self.out)
        self.journal.unlink()


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


class PartialParquet:
    """OUT.partial/, a folder of part-NNNNN.parquet files, renamed to OUT when complete, plus a
    journal with one line per finished part naming its input files: a part whose line was not
    written is deleted on --resume and its files are read again."""

    def __init__(self, out, header, resume):
        self._pa = _import_pyarrow()
        self._pq = importlib.import_module("pyarrow.parquet")
        self.out = Path(out)
        if self.out.exists() and not (self.out.is_dir() and all(
                PART_NAME.fullmatch(p.name) for p in self.out.iterdir())):
            raise OutputError(f"{self.out} exists and is not an earlier --format parquet output: "
                             "move it away or choose another --out")
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.journal = self.out.with_name(self.out.name + ".partial.files")
        self.schema = arrow_schema(header)
        recovered = self._recover() if resume else None
        if recovered is None:
            self.done, self.parts = {}, 0
            if self.partial.is_dir():
                shutil.rmtree(self.partial)
            self.partial.unlink(missing_ok=True)
            self.partial.mkdir()
            self._journal = open(self.journal, "w", encoding="utf-8")
        else:
            self.done, self.parts = recovered
            self._journal = open(self.journal, "a", encoding="utf-8")
        self._batches, self._buffer, self._paths, self._rows = [], [], [], 0

    def _recover(self):
        if not (self.partial.is_dir() and self.journal.exists()):
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
        self._pq.write_table(self._pa.Table.from_batches(self._batches, self.schema), temporary)
        os.replace(temporary, self.partial / name)
        self._journal.write("\t".join([name] + self._paths) + "\n")
        self._journal.flush()
        self.parts += 1
        self._batches, self._buffer, self._paths, self._rows = [], [], [], 0

    def close(self):
        self._journal.close()

    def commit(self):
        if self._paths or not self.parts:  # the rest, or one empty part for a run without rows
            self._write_part()
        self.close()
        self.journal.unlink()
        if self.out.exists():  # an earlier parquet output, checked at the start
            shutil.rmtree(self.out)
        os.replace(self.partial, self.out)


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
