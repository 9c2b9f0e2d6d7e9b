"""Benchmark: the whole pipeline, as a user runs it, on a summary file of a million songs.

Usage:
    python -m bench.bench_million [--songs 1000000] [--workdir data/bench_million]
        [--stages extract preprocess train evaluate predict] [--train-options "--epochs 2"]
        [--out docs/bench_million.md]

Builds in WORKDIR (once: a later run reuses files built for the same --songs) the summary file of
bench_summary.py, msd_summary_file.h5 (the subset's 10,000 real rows tiled to SONGS rows with new
track and song ids, artists kept), and msd_tagtraum_cd1.cls, which gives every copy of a subset song
that tagtraum CD1 labels that song's CD1 genre (139,000 labelled copies in a million rows). Then
runs each stage as its own command with default options, only paths given:

    python -m dataset.extract msd_summary_file.h5 --no-segments --labels msd_tagtraum_cd1.cls
    python preprocess.py, python train.py, python evaluate.py --json run/metrics.json
    python predict.py --checkpoint run/model.pt msd_summary_file.h5 --csv genres.csv

and prints for each its wall time, its CPU time (of the command and its workers: what a busy
machine does not inflate) and the peak memory of its whole process tree (the resident
memory of the command and its workers, summed, sampled every 0.1 s from /proc: Linux only; pages
a forked worker shares with its parent count twice), then a report against the targets of issue
23: the table of stages, genres.csv's rows against the songs, the test scores of metrics.json, the
date and the machine. --out also writes the report as Markdown for docs/scaling.md. A stage that
fails stops the run: its stderr's last lines are printed (its full output is in WORKDIR/logs).
"""
import argparse
import datetime
import importlib.metadata
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pandas as pd

from bench import SHARED_DATA, cpu_name
from bench.bench_summary import BLOCK, SUBSET_SUMMARY, bench_id, build_summary_file, has_rows
from dataset.labels import ClsLabels

REPO = Path(__file__).resolve().parents[1]
CD1 = SHARED_DATA / "tagtraum" / "msd_tagtraum_cd1.cls"
STAGES = ("extract", "preprocess", "train", "evaluate", "predict")
TARGET_SECONDS = {"extract": 60, "preprocess": 60, "train": 600, "evaluate": 120, "predict": 120}
TARGET_MIB = 4096  # every stage under 4 GiB
SAMPLE_SECONDS = 0.1
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
ERROR_LINES = 20  # of a failed stage's stderr


class Paths:
    """The files of a work folder."""

    def __init__(self, workdir):
        self.work = Path(workdir).resolve()
        self.summary = self.work / "msd_summary_file.h5"
        self.labels = self.work / "msd_tagtraum_cd1.cls"
        self.songs = self.work / "SongCSV.csv"
        self.table = self.work / "preprocessed_data.csv"
        self.checkpoint = self.work / "run" / "model.pt"
        self.metrics = self.work / "run" / "metrics.json"
        self.genres = self.work / "genres.csv"
        self.logs = self.work / "logs"


def stage_commands(paths, train_options=()):
    """{stage: argv}: each stage as a user types it, with default options and only paths given
    (and ``train_options`` appended to train.py's)."""
    python = sys.executable
    return {
        "extract": [python, "-m", "dataset.extract", str(paths.summary), "--no-segments",
                    "--labels", str(paths.labels), "--out", str(paths.songs)],
        "preprocess": [python, "preprocess.py", "--input", str(paths.songs),
                       "--output", str(paths.table)],
        "train": [python, "train.py", "--data", str(paths.table),
                  "--out", str(paths.checkpoint.parent), *train_options],
        "evaluate": [python, "evaluate.py", "--checkpoint", str(paths.checkpoint),
                     "--data", str(paths.table), "--json", str(paths.metrics)],
        "predict": [python, "predict.py", "--checkpoint", str(paths.checkpoint),
                    str(paths.summary), "--csv", str(paths.genres)],
    }


def label_header(songs):
    return f"# bench_million: tagtraum CD1 genres of the {songs}-song summary file\n"


def write_labels(path, songs, source=SUBSET_SUMMARY, cls=CD1):
    """Write ``path``: TRACK_ID<TAB>genre for each of the ``songs`` rows of the summary file built
    from ``source`` whose source row ``cls`` labels."""
    genre_by_track = ClsLabels(cls).genre_by_track
    with h5py.File(source, "r") as subset:
        track_ids = [track_id.decode() for track_id in subset["analysis/songs"]["track_id"]]
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(label_header(songs))
        for row in range(songs):
            genre = genre_by_track.get(track_ids[row % BLOCK % len(track_ids)])
            if genre:
                stream.write(f"{bench_id('TR', row)}\t{genre}\n")


def has_label_header(path, songs):
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.readline() == label_header(songs)
    except OSError:
        return False


def build_once(path, is_built, build):
    """Build ``path`` by ``build(temporary path)`` unless ``is_built(path)``; a build cut short
    leaves only PATH.partial behind."""
    if is_built(path):
        print(f"reusing {path}")
        return
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    build(partial)
    partial.replace(path)
    print(f"built {path}: {path.stat().st_size / 2**20:,.1f} MiB in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def build_inputs(paths, songs):
    """The summary file and the label file of ``songs`` rows in the work folder."""
    paths.work.mkdir(parents=True, exist_ok=True)
    build_once(paths.summary, lambda path: has_rows(path, songs),
               lambda path: build_summary_file(path, songs))
    build_once(paths.labels, lambda path: has_label_header(path, songs),
               lambda path: write_labels(path, songs))


def process_tree_bytes(root):
    """Resident memory of process ``root`` and all its descendants, summed (from /proc)."""
    children, resident = {}, {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:  # ended while we looked
            continue
        fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        pid = int(stat_file.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        resident[pid] = int(fields[21]) * PAGE_BYTES  # field 24 of proc(5): rss in pages
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += resident.get(pid, 0)
        pending.extend(children.get(pid, ()))
    return total


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command, log):
    """Run ``command`` in the repository, its stdout and stderr to LOG.out and LOG.err;
    {"status", "seconds", "cpu_seconds", "peak_mib"}: exit status, wall time, CPU time (user +
    system, of the command and its workers: the figure a busy machine does not inflate) and
    peak memory of its process tree."""
    peak, cpu_before = 0, children_cpu_seconds()
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)
        while process.poll() is None:
            peak = max(peak, process_tree_bytes(process.pid))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - started
    return {"status": process.returncode, "seconds": seconds,
            "cpu_seconds": children_cpu_seconds() - cpu_before, "peak_mib": peak / 2**20}


def last_lines(path, count):
    lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return lines[-count:]


def run_stages(paths, stages, train_options):
    """Run ``stages`` in pipeline order; {stage: run_measured's result and "last_line"}, or None
    when one fails (its stderr's tail printed)."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    commands = stage_commands(paths, train_options)
    results = {}
    for stage in (name for name in STAGES if name in stages):
        print(f"$ {shlex.join(commands[stage])}", flush=True)
        log = paths.logs / stage
        result = run_measured(commands[stage], log)
        if result["status"] != 0:
            print("\n".join(last_lines(f"{log}.err", ERROR_LINES)), file=sys.stderr)
            print(f"error: {stage} failed (exit status {result['status']}); its output is in "
                  f"{log}.out and {log}.err", file=sys.stderr)
            return None
        result["last_line"] = (last_lines(f"{log}.out", 1) or last_lines(f"{log}.err", 1)
                               or [""])[0]
        print(f"{stage}: {result['seconds']:.1f} s ({result['cpu_seconds']:.1f} s CPU), "
              f"{result['peak_mib']:,.0f} MiB peak | "
              f"{result['last_line']}", flush=True)
        results[stage] = result
    return results


def machine():
    """The CPU's model name, the CPU count and the load (other work on a shared machine slows
    every stage)."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{cpu_name()}, {os.cpu_count()} CPUs "
            f"(load average {load} over 1, 5, 15 min at the end)")


def stage_table(results):
    lines = ["| stage | wall | CPU | peak memory | target | met |",
             "|---|---:|---:|---:|---|---|"]
    for stage, result in results.items():
        met = (result["seconds"] <= TARGET_SECONDS[stage] and result["peak_mib"] < TARGET_MIB)
        lines.append(f"| {stage} | {result['seconds']:.1f} s | {result['cpu_seconds']:.1f} s | "
                     f"{result['peak_mib']:,.0f} MiB | "
                     f"<= {TARGET_SECONDS[stage]} s, < {TARGET_MIB // 1024} GiB | "
                     f"{'met' if met else 'NOT met'} |")
    return lines


def outcome_lines(paths, songs, results):
    """genres.csv against the songs (after predict), the test scores (after evaluate)."""
    lines = []
    if "predict" in results:
        track_ids = pd.read_csv(paths.genres, usecols=["track_id"])["track_id"]
        lines.append(f"- genres.csv: {len(track_ids):,} rows, {track_ids.nunique():,} distinct "
                     f"track_ids, for {songs:,} songs")
    if "evaluate" in results:
        scores = pd.read_json(paths.metrics, typ="series")["model"]
        lines.append(f"- test split ({paths.metrics.name}): accuracy {scores['accuracy']:.3f}, "
                     f"macro-F1 {scores['macro_f1']:.3f}")
    return lines


def report(paths, songs, results, train_options):
    """The run's report as Markdown lines."""
    options = (f"; train.py {shlex.join(train_options)} (not its defaults)" if train_options
               else "; default options")
    lines = [f"## bench_million: {songs:,} songs", "",
             f"{datetime.date.today().isoformat()}; {machine()}; "
             f"torch {importlib.metadata.version('torch')}, Python {platform.python_version()}"
             f"{options}", "", *stage_table(results)]
    outcomes = outcome_lines(paths, songs, results)
    return lines + ([""] + outcomes if outcomes else [])


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time extract, preprocess, train, evaluate and predict, as a user runs them, "
                    "on a generated summary file of a million songs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--songs", type=int, default=1_000_000,
                        help="rows of the summary file (the subset's 10,000 tiled)")
    parser.add_argument("--workdir", default="data/bench_million",
                        help="folder of the built files, the stages' outputs and logs/")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        metavar="STAGE", help=f"stages to run, of {', '.join(STAGES)} (in that "
                        "order, on the outputs of earlier runs)")
    parser.add_argument("--train-options", default="", metavar="OPTIONS",
                        help='options added to train.py\'s command line, e.g. "--epochs 2" or '
                             '--train-options=--bootstrap (the report says so)')
    parser.add_argument("--out", help="also write the report to this Markdown file")
    args = parser.parse_args(argv)
    if args.songs < 1:
        parser.error("--songs must be at least 1")
    for needed in (SUBSET_SUMMARY, CD1):
        if not needed.exists():
            parser.error(f"{needed} not found: the benchmark is built from the real subset")
    try:
        args.train_options = shlex.split(args.train_options)
    except ValueError as err:
        parser.error(f"--train-options: {err}")
    return args


def main(argv=None):
    args = parse_args(argv)
    paths = Paths(args.workdir)
    build_inputs(paths, args.songs)
    results = run_stages(paths, args.stages, args.train_options)
    if results is None:
        return 1
    text = "\n".join(report(paths, args.songs, results, args.train_options)) + "\n"
    print()
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
