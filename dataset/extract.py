"""Extract per-song features (and genre labels) from Million Song Dataset HDF5 files into SongCSV.csv.

Usage:
    python -m dataset.extract PATH [PATH ...] [--out data/SongCSV.csv] [--workers N]
                              [--no-segments] [--labels SOURCE] [--resume] [--strict]

PATH is any mix of folders (searched recursively for *.h5) and single .h5 files (single-track,
aggregate or summary files). Rows are streamed to OUT.partial and renamed to OUT when the run is
complete; an interrupted run continues with --resume. Files that cannot be read are skipped, named
on stderr and listed in OUT's sibling *_failures.csv.
"""
import argparse
import csv
import math
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python dataset/extract.py`: make `dataset` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from dataset import features, hdf5_getters, labels

LABEL_CHUNK = 256  # rows labelled per call: large enough for the last.fm client's concurrency


class InputError(Exception):
    """Bad command-line input: a missing path, no song file, an unusable partial output."""


def find_song_files(paths):
    """The .h5 files (any case) named by ``paths`` or found under them, sorted per argument."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            matches = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() == ".h5"
                             and p.is_file())
            if not matches:
                raise InputError(f"{path}: no .h5 file in this folder")
            found.extend(matches)
        elif path.is_file():
            found.append(str(path))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def read_song_file(path, segments=True):
    """One feature dict per song in the file at ``path``; raises SongFileError for a bad file."""
    try:
        with hdf5_getters.open_h5_file_read(path) as h5:
            return list(features.file_features(h5, segments))
    except hdf5_getters.SongFileError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure inside a damaged file is that file's
        raise hdf5_getters.SongFileError(f"{type(err).__name__}: {err}") from None


def _extract_task(task):
    """Pool worker: (path, rows, None) or (path, None, reason)."""
    path, segments = task
    try:
        return path, read_song_file(path, segments), None
    except hdf5_getters.SongFileError as err:
        return path, None, str(err).splitlines()[0] if str(err) else "unreadable"


def _ignore_sigint():
    # Workers leave Ctrl-C to the parent, which stops the pool and keeps what was written.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _csv_cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


class PartialOutput:
    """OUT.partial plus a journal of finished input files and the byte offset after each.

    On --resume the partial file is cut back to the last journalled offset, so rows of a file
    whose end was not recorded are written again, never twice.
    """

    def __init__(self, out, header, resume):
        self.out = Path(out)
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
                raise InputError(f"{self.partial} has other columns than this run would write "
                                 "(different --no-segments?): rerun without --resume")
        done, offset = {}, None
        with open(self.journal, encoding="utf-8") as journal:
            for line in journal:
                if line.endswith("\n") and "\t" in line:
                    offset_text, path = line.rstrip("\n").split("\t", 1)
                    offset = int(offset_text)
                    done[path] = offset
        if offset is not None:
            with open(self.partial, "r+b") as stream:
                stream.truncate(offset)
        return done

    def write_file_rows(self, path, rows):
        self._writer.writerows([[_csv_cell(row[name]) for name in self.header] for row in rows])
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


def extract(paths, out, workers, segments, label_source, resume=False, progress=True):
    """Stream every song of ``paths`` to ``out``; returns a summary dict. See module docstring."""
    files = find_song_files(paths)
    header = list(features.columns(segments)) + list(labels.LABEL_COLUMNS)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    output = PartialOutput(out, header, resume)
    todo = [path for path in files if path not in output.done]
    summary = {"files": len(files), "resumed": len(files) - len(todo), "rows": 0, "failed": []}
    started = time.perf_counter()
    pending = []  # (path, rows) read but not yet labelled and written
    bar = tqdm(total=len(files), initial=summary["resumed"], unit="file", file=sys.stderr,
               disable=None if progress else True, dynamic_ncols=True)
    pool = multiprocessing.Pool(workers, initializer=_ignore_sigint) if workers > 1 else None
    try:
        tasks = [(path, segments) for path in todo]
        results = pool.imap(_extract_task, tasks, chunksize=4) if pool else map(_extract_task, tasks)
        for path, rows, reason in results:
            bar.update()
            if reason is not None:
                summary["failed"].append((path, reason))
                bar.write(f"skipped {path}: {reason}", file=sys.stderr)
                continue
            pending.append((path, rows))
            if sum(len(rows) for _, rows in pending) >= LABEL_CHUNK:
                summary["rows"] += _label_and_write(pending, label_source, output)
                pending = []
        summary["rows"] += _label_and_write(pending, label_source, output)
    except BaseException:
        output.close()
        raise
    finally:
        bar.close()
        if pool:
            pool.terminate()
            pool.join()
    output.commit()
    summary["seconds"] = time.perf_counter() - started
    return summary


def _label_and_write(pending, label_source, output):
    rows = [row for _, file_rows in pending for row in file_rows]
    for start in range(0, len(rows), LABEL_CHUNK):
        chunk = rows[start:start + LABEL_CHUNK]
        for row, label in zip(chunk, label_source.label(chunk)):
            row.update(label)
    for path, file_rows in pending:
        output.write_file_rows(path, file_rows)
    return len(rows)


def failures_path(out):
    """Where the (path, reason) list of unreadable files goes: beside the output."""
    return Path(out).with_name(Path(out).stem + "_failures.csv")


def write_failures(out, failed):
    """Write (path, reason) rows beside ``out``; returns the failures file's path."""
    failures = failures_path(out)
    temporary = failures.with_name(failures.name + ".partial")
    with open(temporary, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "reason"])
        writer.writerows(failed)
    os.replace(temporary, failures)
    return failures


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="MSD .h5 files and/or folders searched recursively for *.h5")
    parser.add_argument("--out", default="data/SongCSV.csv", help="output CSV")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes reading files in parallel")
    parser.add_argument("--no-segments", dest="segments", action="store_false",
                        help="song-level fields only (no segment arrays; works on summary files)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUT.partial")
    parser.add_argument("--strict", action="store_true",
                        help="exit non-zero when any file could not be read")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    labels.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        with labels.open_source(args) as label_source:
            summary = extract(args.paths, args.out, args.workers, args.segments, label_source,
                              resume=args.resume, progress=not args.quiet)
            label_summary = label_source.summary()
    except (InputError, labels.LabelError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: rows so far are kept in {args.out}.partial; "
              "rerun the same command with --resume to continue", file=sys.stderr)
        return 130
    read = summary["files"] - len(summary["failed"])
    rate = (summary["files"] - summary["resumed"]) / max(summary["seconds"], 1e-9)
    print(f"read {read} of {summary['files']} files"
          + (f" ({summary['resumed']} done before --resume)" if summary["resumed"] else "")
          + f", wrote {summary['rows']} rows to {args.out} in {summary['seconds']:.1f} s "
          f"({rate:.0f} files/s)")
    if label_summary:
        print(label_summary)
    failures_path(args.out).unlink(missing_ok=True)  # a list from an earlier run would mislead
    if summary["failed"]:
        failures = write_failures(args.out, summary["failed"])
        print(f"{len(summary['failed'])} files failed; listed in {failures}", file=sys.stderr)
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
