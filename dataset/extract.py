"""Extract per-song features (and genre labels) from MSD HDF5 song files into SongCSV.csv.

Usage:
    python -m dataset.extract PATH [PATH ...] [--out data/SongCSV.csv] [--workers N]
                              [--no-segments] [--labels SOURCE ...] [--resume] [--strict]
                              [--mismatches sid_mismatches.txt] [--crops N [--crop-seconds 30]]
                              [--format csv|parquet] [--engine local|dask] [--scheduler ADDRESS]

PATH is any mix of folders (searched recursively for *.h5) and single .h5 files (single-track,
aggregate or summary files). A summary file met in a folder is passed over with a note: its songs
are those of the per-track files beside it (name it to read it). Rows are streamed to OUT.partial
and renamed to OUT when the run is complete; Ctrl-C stops the run (exit 130) and keeps what was
written for --resume. Files that cannot be read are skipped, named on stderr and listed in OUT's
sibling *_failures.csv; an error in this program's own code stops the run with its traceback.
--mismatches leaves out the tracks on the dataset's list of song-track mismatches, whose audio
analysis belongs to another recording than their metadata.

--format parquet writes OUT as a folder of part-NNNNN.parquet files instead: the same columns,
missing values as nulls, one schema for every part. --engine dask reads the files on a Dask
cluster (the scheduler at --scheduler, or a LocalCluster of --workers processes) in batches; rows
come back in input order to this process, which labels and writes them, so the output is the
local engine's. Both need the optional packages: pip install -r requirements-scale.txt
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "extraction")

import collections
import contextlib
import functools
import importlib
import itertools
import logging
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from dataset import cli, features, hdf5_getters, labels, writers
from dataset.errors import InputError, describe, first_line
from dataset.songfiles import file_parts, find_song_files, read_mismatches, read_song_file
from dataset.writers import SCALE_INSTALL

POOL_BATCH_FILES = 4  # files per pool task: fewer round trips, and the workers stay balanced
POOL_TASKS_PER_WORKER = 2  # in flight: a worker never waits, and rows read ahead stay few
DASK_BATCH_FILES = 200  # files per Dask task (~1 s of reading): scheduling overhead stays small
DEFAULT_OUT = "data/SongCSV.FORMAT"  # FORMAT becomes csv or parquet
# The progress bar's counts once a big file's parts count as shares of a file.
SHARES_OF_FILES = "{l_bar}{bar}| {n:.2f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
POLL_SECONDS = 0.2  # how often a wait for workers looks for a Ctrl-C


class ClusterError(Exception):
    """A batch failed on the Dask cluster itself: a worker lost on it, the scheduler gone."""


def _extract_task(task):
    """(part, rows, None) or (part, None, reason) for a (songfiles.FilePart, reading), where
    ``reading`` holds read_song_file's keyword arguments."""
    part, reading = task
    try:
        return part, read_song_file(part.path, start=part.start, stop=part.stop, **reading), None
    except hdf5_getters.SongFileError as err:
        return part, None, first_line(err)


def _extract_batch(parts, reading):
    """Pool or Dask task: _extract_task of each part of a batch."""
    return [_extract_task((part, reading)) for part in parts]


def _batches(parts, size):
    """Lists of up to ``size`` whole files, in order; a part of a big file is a batch of its own,
    being thousands of songs."""
    batch = []
    for part in parts:
        if part.songs is not None:
            if batch:
                yield batch
                batch = []
            yield [part]
            continue
        batch.append(part)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ignore_sigint():
    # Workers leave Ctrl-C to the parent, which stops the pool and keeps what was written.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_held():
    """Start processes inside: they inherit an ignored SIGINT, so that a user's Ctrl-C, sent to
    the whole process group, reaches this process only, which then stops them.

    This process ignores SIGINT meanwhile too; a Ctrl-C then would be lost, so a stand-in
    process of the group, started before and killed at once by SIGINT as any plain program is
    (Python would take a while to die of it), takes it, and it is raised here once SIGINT is
    handled again (unless this process saw it as well).
    """
    stand_in = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        stand_in.kill()
        ended_by_ctrl_c = stand_in.wait() != -signal.SIGKILL  # it sleeps for an hour otherwise
        if ended_by_ctrl_c and not interrupts.requested():
            signal.raise_signal(signal.SIGINT)
        interrupts.check()  # rather than start on work that would be thrown away


def _import_extra(module, option):
    """A module of requirements-scale.txt, or InputError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{option} needs {module}, which is not installed: "
                         f"{SCALE_INSTALL}") from None


@contextlib.contextmanager
def local_engine(workers):
    """A function (parts, reading) -> (part, rows, reason) per songfiles.FilePart in order (see
    _extract_task), read by a pool of ``workers`` processes (in this process when 1)."""
    pool = None

    def read_files(parts, reading):
        if pool is None:
            return (_extract_task((part, reading)) for part in parts)
        read_batch = functools.partial(_extract_batch, reading=reading)
        return _pool_results(pool, read_batch, _batches(parts, POOL_BATCH_FILES),
                             POOL_TASKS_PER_WORKER * workers)

    try:
        if workers > 1:
            with _sigint_held():
                pool = multiprocessing.Pool(workers, initializer=_ignore_sigint)
        yield read_files
    finally:
        if pool:
            pool.terminate()
            pool.join()


def _pool_results(pool, read_batch, batches, window):
    """``read_batch``'s results on each of ``batches`` in order, at most ``window`` batches in
    flight: workers faster than the writer would otherwise pile up rows (a million from a
    summary file)."""
    in_flight = collections.deque()
    while True:
        for batch in itertools.islice(batches, window - len(in_flight)):
            in_flight.append(pool.apply_async(read_batch, (batch,)))
        if not in_flight:
            return
        yield from _pool_result(in_flight.popleft())


def _pool_result(result):
    """A pool task's result, looking for a Ctrl-C while a slow file keeps it waiting."""
    while True:
        try:
            return result.get(timeout=POLL_SECONDS)
        except multiprocessing.TimeoutError:
            interrupts.check()


@contextlib.contextmanager
def dask_engine(workers, scheduler=None):
    """As local_engine, reading on the Dask scheduler at ``scheduler``, or on a LocalCluster of
    ``workers`` single-threaded processes when None."""
    distributed = _import_extra("distributed", "--engine dask")
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(distributed.Client(scheduler))
            except (OSError, ValueError) as err:
                raise InputError(f"--scheduler {scheduler}: cannot connect ({err})") from None
        else:
            with _sigint_held():
                # Our tasks report every failure in their results, and the cluster's own in
                # one line (ClusterError); the workers' logs would fill the screen when Ctrl-C
                # cancels their tasks or a heartbeat finds the scheduler gone at shutdown.
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, dashboard_address=None,
                    silence_logs=logging.CRITICAL))
            client = stack.enter_context(distributed.Client(cluster))
        try:  # a worker that cannot unpickle our tasks would make the run wait forever
            client.run(importlib.import_module, "dataset.extract")
        except Exception as err:  # noqa: BLE001 - whatever the workers raised, in one line
            raise InputError(f"the cluster's workers cannot import dataset.extract "
                             f"({describe(err)}): start them with this "
                             "repository on PYTHONPATH and requirements.txt installed") from None
        yield functools.partial(_read_on_cluster, client)


def _read_on_cluster(client, parts, reading):
    size = max(1, min(DASK_BATCH_FILES, math.ceil(len(parts) / (4 * _cluster_threads(client)))))
    batches = _batches(parts, size)
    in_flight = collections.deque()  # (batch, future) in submission order
    while True:
        # A window of a few batches per worker thread keeps memory flat and follows workers that
        # join later; taking results in submission order keeps the local engine's output.
        room = max(4 * _cluster_threads(client) - len(in_flight), 0)  # workers may also leave
        for batch in itertools.islice(batches, room):
            # Workers may run elsewhere: they get absolute paths; results keep paths as given.
            in_flight.append((batch, client.submit(
                _extract_batch, [part._replace(path=os.path.abspath(part.path))
                                 for part in batch], reading, pure=False)))
        if not in_flight:
            return
        batch, future = in_flight.popleft()
        while not future.done():  # a batch takes about a second: look for Ctrl-C meanwhile
            interrupts.check()
            time.sleep(POLL_SECONDS / 4)
        try:
            results = future.result()
        except Exception as err:  # noqa: BLE001 - whatever the cluster raised, said in one line
            if _raised_by_our_task(future, err):
                raise  # a damaged file is a reason in the results: this is a bug, traceback kept
            raise ClusterError(f"the batch of {len(batch)} files from {batch[0]} failed on the "
                               f"cluster: {describe(err)}") from None
        for part, (_, rows, reason) in zip(batch, results, strict=True):
            yield part, rows, reason


def _raised_by_our_task(future, err):
    """Whether a batch's ``future`` failed with ``err`` because our task raised it on a worker,
    rather than because of the cluster (a worker lost, the scheduler gone, a cancelled task)."""
    return (future.status == "error"
            and not isinstance(err, importlib.import_module("distributed").KilledWorker))


def _cluster_threads(client):
    return max(sum(client.nthreads().values()), 1)


def extract(paths, out, workers, segments, label_source, resume=False, progress=True,
            output_format="csv", engine="local", scheduler=None, excluded=frozenset(),
            crops=features.NO_CROPS):
    """Stream every song of ``paths`` to ``out``, leaving out the track ids in ``excluded``;
    returns a summary dict. See module docstring. With ``crops`` (features.Crops), each song's
    row is followed by its crops' rows, numbered in a CROP column, labelled as the song.

    A big aggregate or summary file is read, written and journalled in parts (songfiles.FilePart),
    named FILE[START:STOP] in the journal and in ``summary["failed"]``.
    Inside ``interrupts.stop_on_interrupt()``, a Ctrl-C raises KeyboardInterrupt at the next
    file or part, leaving OUT.partial as --resume needs it.
    """
    files = find_song_files(paths)
    header = (list(features.columns(segments)) + ([features.CROP] if crops.count else [])
              + list(labels.LABEL_COLUMNS))
    reading = {"segments": segments, "song_arrays": label_source.song_arrays, "crops": crops}
    summary = {"files": len(files), "rows": 0, "crops": 0, "failed": [], "excluded": 0}
    started = time.perf_counter()
    # (part, rows) read but not yet labelled and written: as many rows as the label source
    # likes to be asked at once (one file's for local sources, which keeps every row read).
    pending, pending_rows = [], 0
    start_engine = dask_engine(workers, scheduler) if engine == "dask" else local_engine(workers)
    with start_engine as read_files:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        writer = writers.PartialParquet if output_format == "parquet" else writers.PartialCsv
        output = writer(out, header, resume)
        # A whole file in the journal is done, though this run would read it in parts.
        todo = [part for part in file_parts(files)
                if str(part) not in output.done and part.path not in output.done]
        summary["resumed"] = len(files) - len({part.path for part in todo})
        in_parts = any(part.songs is not None for part in todo)
        bar = tqdm(total=len(files), initial=len(files) - sum(part.share for part in todo),
                   unit="file", file=sys.stderr, disable=None if progress else True,
                   dynamic_ncols=True, bar_format=SHARES_OF_FILES if in_parts else None)
        failed_files = set()
        try:
            for part, rows, reason in read_files(todo, reading):
                interrupts.check()
                bar.update(part.share)
                if reason is not None:
                    summary["failed"].append((str(part), reason))
                    failed_files.add(part.path)
                    bar.write(f"skipped {part}: {reason}", file=sys.stderr)
                    continue
                kept = [row for row in rows if row["track_id"] not in excluded]
                summary["excluded"] += len(rows) - len(kept)
                pending.append((str(part), kept))
                pending_rows += len(kept)
                if label_source.batch_size is None or pending_rows >= label_source.batch_size:
                    _label_and_write(pending, label_source, output, crops, summary)
                    pending, pending_rows = [], 0
            _label_and_write(pending, label_source, output, crops, summary)
            interrupts.check()  # the last moment at which OUT is not yet complete
        except BaseException:
            output.close()
            raise
        finally:
            bar.close()
    output.commit()
    summary["seconds"] = time.perf_counter() - started
    summary["failed_files"] = len(failed_files)
    return summary


def _label_and_write(pending, label_source, output, crops, summary):
    """Label and write the songs of ``pending`` (and their crops' rows, which share the song's
    label, when ``crops``), counting them in ``summary``'s rows and crops."""
    rows = [row for _, file_rows in pending for row in file_rows]
    size = label_source.batch_size or max(len(rows), 1)
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        for row, label in zip(chunk, label_source.label(chunk), strict=True):
            row.update(label)
    if crops.count:
        pending = [(part, [out for row in file_rows for out in features.crop_rows(row)])
                   for part, file_rows in pending]
    if pending:
        output.write_files(pending)
    summary["rows"] += len(rows)
    summary["crops"] += sum(len(file_rows) for _, file_rows in pending) - len(rows)


def build_parser():
    parser = cli.new_parser(__doc__, prog=cli.module_prog("dataset.extract"))
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="MSD .h5 files and/or folders searched recursively for *.h5")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="output: a CSV file, or with --format parquet a folder of parts")
    parser.add_argument("--format", dest="output_format", choices=("csv", "parquet"),
                        default="csv", help="output format (parquet: " + SCALE_INSTALL + ")")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes reading files in parallel (with --engine dask: the "
                             "LocalCluster's, when no --scheduler is given)")
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="where files are read: local processes, or a Dask cluster "
                             "(" + SCALE_INSTALL + ")")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler of the cluster for --engine dask, e.g. "
                             "tcp://10.0.0.1:8786 (default: a LocalCluster on this machine)")
    parser.add_argument("--no-segments", dest="segments", action="store_false",
                        help="song-level fields only (no segment arrays; works on summary "
                        "files; default: the segment families too)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUT.partial")
    parser.add_argument("--strict", action="store_true",
                        help="exit non-zero when any file could not be read")
    parser.add_argument("--mismatches", metavar="FILE",
                        help="the dataset's sid_mismatches.txt: leave out the tracks it lists, "
                             "whose audio analysis is of another recording than their metadata "
                             "(and so than their labels) (default: keep every track)")
    parser.add_argument("--crops", type=int, default=0, metavar="N",
                        help="after each song's row, N rows of its segment features over N "
                             "windows of --crop-seconds spread evenly over the song (crop "
                             "column 1..N; the song's own row 0): extra training rows, which "
                             "preprocess keeps in the train split only")
    parser.add_argument("--crop-seconds", type=float, default=30.0, metavar="S",
                        help="length of each crop's window; songs no longer get no crops")
    cli.add_quiet_option(parser)
    labels.add_arguments(parser)
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.crops < 0 or not args.crop_seconds > 0:
        parser.error("--crops must be at least 0 and --crop-seconds above 0")
    if args.crops and not args.segments:
        parser.error("--crops needs the segment arrays (drop --no-segments)")
    if args.scheduler and args.engine != "dask":
        parser.error("--scheduler needs --engine dask")
    if args.out == DEFAULT_OUT:
        args.out = DEFAULT_OUT.replace("FORMAT", args.output_format)
    return args


def open_label_source(args):
    """labels.open_source with the label options of parsed ``args`` (parse_args)."""
    return labels.open_source(
        args.labels, genre_vocabulary=args.genre_vocabulary, genre_names=args.genre_names,
        min_tag_count=args.min_tag_count, lastfm_api_key=args.lastfm_api_key,
        lastfm_url=args.lastfm_url, rate=args.rate, cache=args.cache,
        lastfm_threads=args.lastfm_threads, progress=not args.quiet)


def main(argv=None):
    args = parse_args(argv)
    try:
        with interrupts.stop_on_interrupt():
            excluded = read_mismatches(args.mismatches) if args.mismatches else frozenset()
            with open_label_source(args) as label_source:
                summary = extract(args.paths, args.out, args.workers, args.segments,
                                  label_source, resume=args.resume, progress=not args.quiet,
                                  output_format=args.output_format, engine=args.engine,
                                  scheduler=args.scheduler, excluded=excluded,
                                  crops=features.Crops(args.crops, args.crop_seconds))
                label_summary = label_source.summary()
    except (InputError, writers.OutputError, labels.LabelError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an --out under a file, no permission, a full disk
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except ClusterError as err:
        print(f"error: {err}; rows so far are kept in {args.out}.partial: rerun the same command "
              "with --resume to continue", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if Path(f"{args.out}.partial").exists():
            print(f"\ninterrupted: rows so far are kept in {args.out}.partial; "
                  "rerun the same command with --resume to continue", file=sys.stderr)
        else:
            print("\ninterrupted before any row was written", file=sys.stderr)
        return 130
    read = summary["files"] - summary["failed_files"]
    seconds = max(summary["seconds"], 1e-9)
    # A summary file is one file of a million songs: its speed is in rows.
    rate = (f"{summary['rows'] / seconds:.0f} rows/s" if summary["rows"] > summary["files"]
            else f"{(summary['files'] - summary['resumed']) / seconds:.0f} files/s")
    print(f"read {read} of {summary['files']} files"
          + (f" ({summary['resumed']} done before --resume)" if summary["resumed"] else "")
          + f", wrote {summary['rows']} rows"
          + (f" and {summary['crops']} crops' rows" if args.crops else "")
          + f" to {args.out} in {summary['seconds']:.1f} s "
          f"({rate})"
          + (f"; left out {summary['excluded']} mismatched tracks (--mismatches)"
             if args.mismatches else ""))
    if label_summary:
        print(label_summary)
    # A failures list from an earlier run would mislead.
    writers.failures_path(args.out).unlink(missing_ok=True)
    if summary["failed"]:
        failures = writers.write_failures(args.out, summary["failed"])
        print(f"{summary['failed_files']} files failed; listed in {failures}", file=sys.stderr)
        if args.strict:
            return 1
    return 0


def command():
    """The installed command, msd-extract: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "extraction")


if __name__ == "__main__":
    sys.exit(command())
