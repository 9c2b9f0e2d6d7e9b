"""Benchmark: extract --no-segments on a summary file of a million songs, the full dataset's size.

Usage:
    python bench/bench_summary.py [--rows 1000000] [--workers 2] [--keep DIR]

Builds a summary file in the real layout: the rows of the subset's real summary file
(../shared/data/MillionSongSubset/AdditionalFiles/subset_msd_summary_file.h5, 10,000 songs) tiled
to ROWS rows with new track and song ids, written with that file's own field types, chunk sizes,
compression and attributes. Then runs, as a user would,

    python -m dataset.extract SUMMARY.h5 --no-segments --quiet --workers WORKERS --out SongCSV.csv

and prints its wall time, its CPU time (user + system, workers included: the figure that holds
on a machine busy with other work), the peak memory of its largest process (the command or one
of its workers: ru_maxrss) and the rows it wrote. Needs about 1 GB of disk per million rows, in a
temporary folder (or DIR with --keep, which also keeps the files).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SUBSET_SUMMARY = (REPO.parent / "shared" / "data" / "MillionSongSubset" / "AdditionalFiles"
                  / "subset_msd_summary_file.h5")
GROUPS = ("metadata", "analysis", "musicbrainz")
ID_FIELDS = {"metadata": "song_id", "analysis": "track_id"}  # made unique per row
BLOCK = 10_000  # rows written at a time: one tile of the subset's file


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
                    prefix = ID_FIELDS[group][:2].upper() + "BENCH"  # TRBENCH…, SOBENCH…
                    block[ID_FIELDS[group]] = [f"{prefix}{start + n:011d}".encode()
                                               for n in range(len(block))]
                copy[start:start + len(block)] = block


def run_extract(summary, out, workers):
    """Wall seconds, CPU seconds, peak RSS in MB of the largest process, and the exit status."""
    command = [sys.executable, "-m", "dataset.extract", str(summary), "--no-segments",
               "--quiet", "--workers", str(workers), "--out", str(out)]
    print("$", " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    # Linux reports ru_maxrss in kB, for the child or the largest of its waited-for children.
    return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
            os.waitstatus_to_exitcode(status))


def count_rows(csv_path):
    with open(csv_path, "rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b"")) - 1


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time extract --no-segments on a generated million-song summary file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="songs in the summary file")
    parser.add_argument("--workers", type=int, default=2, help="extract's --workers")
    parser.add_argument("--keep", metavar="DIR",
                        help="build and keep the files in DIR instead of a temporary folder")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.workers < 1:
        parser.error("--rows and --workers must be at least 1")
    if not SUBSET_SUMMARY.exists():
        parser.error(f"{SUBSET_SUMMARY} not found: the benchmark tiles the subset's real "
                     f"summary file")
    return args


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_summary-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        summary, out = folder / "msd_summary_file.h5", folder / "SongCSV.csv"
        started = time.perf_counter()
        build_summary_file(summary, args.rows)
        print(f"built {summary.name}: {args.rows:,} rows, {summary.stat().st_size / 1e6:,.0f} MB "
              f"in {time.perf_counter() - started:.1f} s")
        seconds, cpu_seconds, peak_mb, status = run_extract(summary, out, args.workers)
        if status != 0:
            print(f"extract failed (exit status {status})", file=sys.stderr)
            return 1
        rows = count_rows(out)
        print(f"extract --no-segments: {rows:,} rows, {out.stat().st_size / 1e6:,.0f} MB of CSV "
              f"in {seconds:.1f} s ({rows / seconds:,.0f} rows/s; CPU {cpu_seconds:.1f} s); "
              f"peak memory {peak_mb:,.0f} MB (largest process); {args.workers} worker(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
