"""Benchmark: extract --no-segments on a summary file of a million songs, the full dataset's size.

Usage:
    python -m bench.bench_summary [--rows 1000000] [--workers 1 2] [--rounds 1] [--keep DIR]

Builds a summary file in the real layout: the rows of the subset's real summary file
(../shared/data/MillionSongSubset/AdditionalFiles/subset_msd_summary_file.h5, 10,000 songs) tiled
to ROWS rows with new track and song ids, written with that file's own field types, chunk sizes,
compression and attributes. Then runs, as a user would,

    python -m dataset.extract SUMMARY.h5 --no-segments --quiet --workers WORKERS --out SongCSV.csv

for each of WORKERS, ROUNDS times, alternating between them so background load hits all alike,
and prints for each run its wall time, its CPU time (user + system of the command and of its
workers: the figure that holds on a machine busy with other work), the peak memory of the command
and of its largest worker (ru_maxrss) and the rows it wrote. Needs about 1 GB of disk per million
rows, in a temporary folder, or in DIR with --keep, which keeps the files and reuses a summary file
of ROWS rows built there before.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from bench import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
SUBSET_SUMMARY = (SHARED_DATA / "MillionSongSubset" / "AdditionalFiles"
                  / "subset_msd_summary_file.h5")
GROUPS = ("metadata", "analysis", "musicbrainz")
ID_FIELDS = {"metadata": "song_id", "analysis": "track_id"}  # made unique per row
BLOCK = 10_000  # rows written at a time: one tile of the subset's file


def bench_id(prefix, row):
    """The id of row ``row`` of a built summary file: bench_id("TR", 7) == "TRBENCH00000000007".
    That row is a copy of the source's row ``row % BLOCK % len(source)``."""
    return f"{prefix}BENCH{row:011d}"


def build_summary_file(path, rows, source=SUBSET_SUMMARY):
    """Write ``rows`` songs to ``path``: ``source``'s rows tiled, with unique ids TRBENCH…,
    SOBENCH…."""
    with h5py.File(source, "r") as real, h5py.File(path, "w") as out:
        out.attrs.update(real.attrs)
        for group in GROUPS:
            table = real[f"{group}/songs"]
            tile = table[:]
            node = out.create_group(group)
            node.attrs.update(real[group].attrs)
            copy = node.create_dataset(
                "songs", shape=(rows,), maxshape=(None,), dtype=table.dtype, chunks=table.chunks,
                compression=table.compression, compression_opts=table.compression_opts,
                shuffle=table.shuffle)
            copy.attrs.update(table.attrs)
            copy.attrs["NROWS"] = np.int64(rows)
            for start in range(0, rows, BLOCK):
                block = np.resize(tile, min(BLOCK, rows - start))
                if group in ID_FIELDS:
                    prefix = ID_FIELDS[group][:2].upper()  # TRBENCH…, SOBENCH…
                    block[ID_FIELDS[group]] = [bench_id(prefix, start + n).encode()
                                               for n in range(len(block))]
                copy[start:start + len(block)] = block


# Runs extract in this child as `python -m dataset.extract ARGS` would, then writes its own and its
# children's (the pool's workers') resource use as JSON to the file named first. The command's
# peak memory is VmHWM: ru_maxrss would count this script's own memory, which a child started by
# vfork shares until it runs Python.
MEASURED_EXTRACT = """
import json, resource, sys
from dataset import extract
report, arguments = sys.argv[1], sys.argv[2:]
status = extract.main(arguments)
with open("/proc/self/status") as status_file:
    peak_kb = int(next(line for line in status_file if line.startswith("VmHWM:")).split()[1])
usage = {name: resource.getrusage(who) for name, who in
         (("main", resource.RUSAGE_SELF), ("workers", resource.RUSAGE_CHILDREN))}
with open(report, "w") as stream:
    json.dump({"main": {"cpu": usage["main"].ru_utime + usage["main"].ru_stime,
                        "peak_kb": peak_kb},
               "workers": {"cpu": usage["workers"].ru_utime + usage["workers"].ru_stime,
                           "peak_kb": usage["workers"].ru_maxrss}}, stream)
sys.exit(status)
"""


def run_extract(summary, out, workers):
    """{"seconds", "status", "main", "workers"}: wall seconds, exit status, and for the command
    (main) and its workers (together) CPU seconds and peak RSS in kB (of the largest worker)."""
    arguments = [str(summary), "--no-segments", "--quiet", "--workers", str(workers),
                 "--out", str(out)]
    print("$ python -m dataset.extract", " ".join(arguments), flush=True)
    report = out.with_name("usage.json")
    started = time.perf_counter()
    status = subprocess.run([sys.executable, "-c", MEASURED_EXTRACT, str(report), *arguments],
                            cwd=REPO).returncode
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "status": status,
            **(json.loads(report.read_text()) if status == 0 else {})}


def count_rows(csv_path):
    with open(csv_path, "rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b"")) - 1


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time extract --no-segments on a generated million-song summary file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="songs in the summary file")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="extract's --workers: a run for each, alternating")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each --workers")
    parser.add_argument("--keep", metavar="DIR",
                        help="build and keep the files in DIR instead of a temporary folder, "
                             "reusing a summary file of ROWS rows built there before")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.rounds < 1 or min(args.workers) < 1:
        parser.error("--rows, --rounds and --workers must be at least 1")
    if not SUBSET_SUMMARY.exists():
        parser.error(f"{SUBSET_SUMMARY} not found: the benchmark tiles the subset's real "
                     f"summary file")
    return args


def has_rows(path, rows):
    try:
        with h5py.File(path, "r") as summary:
            return all(summary[f"{group}/songs"].shape == (rows,) for group in GROUPS)
    except (OSError, KeyError):
        return False


def report(run, rows, csv_bytes, workers):
    main, pool = run["main"], run["workers"]
    # With 1 worker extract reads in its own process: its only children are short helpers.
    largest_worker = (f", largest worker {pool['peak_kb'] / 1024:,.0f} MB" if workers > 1
                      else "")
    print(f"extract --no-segments, {workers} worker(s): {rows:,} rows, {csv_bytes / 1e6:,.0f} MB "
          f"of CSV in {run['seconds']:.1f} s ({rows / run['seconds']:,.0f} rows/s); CPU "
          f"{main['cpu'] + pool['cpu']:.1f} s (command {main['cpu']:.1f} s, workers "
          f"{pool['cpu']:.1f} s); peak memory: command {main['peak_kb'] / 1024:,.0f} MB"
          f"{largest_worker}", flush=True)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_summary-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        summary, out = folder / "msd_summary_file.h5", folder / "SongCSV.csv"
        if has_rows(summary, args.rows):
            print(f"reusing {summary}: {args.rows:,} rows")
        else:
            started = time.perf_counter()
            build_summary_file(summary, args.rows)
            seconds = time.perf_counter() - started
            print(f"built {summary.name}: {args.rows:,} rows, "
                  f"{summary.stat().st_size / 1e6:,.0f} MB in {seconds:.1f} s")
        best = {}
        for _ in range(args.rounds):
            for workers in args.workers:
                run = run_extract(summary, out, workers)
                if run["status"] != 0:
                    print(f"extract failed (exit status {run['status']})", file=sys.stderr)
                    return 1
                report(run, count_rows(out), out.stat().st_size, workers)
                best[workers] = min(best.get(workers, run), run, key=lambda r: r["seconds"])
        if args.rounds > 1:
            for workers, run in best.items():
                print("best of", args.rounds, end=": ")
                report(run, count_rows(out), out.stat().st_size, workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
