"""Benchmark: extract's dask engine against its local one, and parquet against CSV, same files.

Usage:
    pip install -r requirements-scale.txt
    python -m bench.bench_engines [--files 2000] [--workers 2] [--rounds 2]

Builds FILES single-track song files of real sizes in the real layout (bench_extract.build_files),
then extracts them (segment features, no labels) four ways: the local engine (a pool of WORKERS
processes) and the dask engine (a LocalCluster of WORKERS one-thread processes, its start
included), each writing CSV and parquet. Rounds alternate between the ways; the best round counts.
Checks that both engines write byte-identical CSV and that every parquet output reads back
(pandas.read_parquet) as the CSV's rows (pandas.read_csv), then prints the times.
"""
import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_extract import build_files, run_ours
from dataset import extract


def cluster_start_seconds(workers):
    """Seconds to start and stop a bare LocalCluster like the dask engine's: its fixed cost."""
    import distributed
    started = time.perf_counter()
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        pass
    return time.perf_counter() - started


def same_rows(csv_path, parquet_path):
    import pandas as pd
    try:
        pd.testing.assert_frame_equal(pd.read_parquet(parquet_path), pd.read_csv(csv_path),
                                      check_dtype=False)
    except AssertionError:
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--files", type=int, default=2000, help="song files to build")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes of the local pool and of the LocalCluster")
    parser.add_argument("--rounds", type=int, default=2, help="alternating timing rounds")
    args = parser.parse_args(argv)
    try:
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        print(f"error: this benchmark needs dask and pyarrow: {extract.SCALE_INSTALL}",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = build_files(Path(tmp) / "data", args.files)
        print(f"{args.files} song files in {root}; {args.workers} workers")
        ways = {(engine, output_format): Path(tmp) / f"{engine}.{output_format}"
                for engine in ("local", "dask") for output_format in ("csv", "parquet")}
        best = dict.fromkeys(ways, math.inf)
        for _ in range(args.rounds):
            for (engine, output_format), out in ways.items():
                started = time.perf_counter()
                summary = run_ours(root, out, args.workers, engine, output_format)
                best[engine, output_format] = min(best[engine, output_format],
                                                  time.perf_counter() - started)
        rows = summary["rows"]
        identical_csv = ways["local", "csv"].read_bytes() == ways["dask", "csv"].read_bytes()
        parquet_ok = all(same_rows(ways["local", "csv"], ways[engine, "parquet"])
                         for engine in ("local", "dask"))
        startup = cluster_start_seconds(args.workers)
    print(f"{'engine':8} {'format':8} {'seconds':>8} {'files/s':>8}")
    for (engine, output_format), seconds in best.items():
        print(f"{engine:8} {output_format:8} {seconds:8.2f} {args.files / seconds:8.0f}")
    print(f"LocalCluster start and stop alone: {startup:.2f} s")
    print(f"{rows} rows; dask CSV byte-identical to local CSV: {identical_csv}; "
          f"parquet reads back as the CSV's rows (both engines): {parquet_ok}")
    return 0 if identical_csv and parquet_ok else 1


if __name__ == "__main__":
    sys.exit(main())
