"""Benchmark: the whole pipeline, as a user runs it, on a million songs, by either route of
docs/scaling.md: a summary file (song-level fields) or a per-track table (every feature family).

Usage:
    python -m bench.bench_million [--route summary] [--songs 1000000] [--workdir data/bench_million]
        [--stages extract preprocess train evaluate predict] [--train-options "--epochs 2"]
        [--out docs/bench_million.md]
    python -m bench.bench_million --route per-track [--songs 1000000]
        [--workdir data/bench_million_tracks] [--stages preprocess train evaluate predict | none]

The summary route (the default) builds in WORKDIR (once: a later run reuses files built for the
same --songs) the summary file of bench_summary.py, msd_summary_file.h5 (the subset's 10,000 real
rows tiled to SONGS rows with new track and song ids, artists kept), and msd_tagtraum_cd1.cls,
which gives every copy of a subset song that tagtraum CD1 labels that song's CD1 genre (139,000
labelled copies in a million rows). Then runs each stage as its own command with default options,
only paths given:

    python -m dataset.extract msd_summary_file.h5 --no-segments --labels msd_tagtraum_cd1.cls
    python preprocess.py, python train.py, python evaluate.py --out run/metrics.json
    python predict.py --checkpoint run/model.pt msd_summary_file.h5 --out genres.csv

and prints for each its wall time, its CPU time (of the command and its workers: what a busy
machine does not inflate) and the peak memory of its whole process tree (the resident
memory of the command and its workers, summed, sampled every 0.1 s from /proc: Linux only; pages
a forked worker shares with its parent count twice), then a report against the targets of issue
23: the table of stages, genres.csv's rows against the songs, the test scores of metrics.json, the
date and the machine. --out also writes the report as Markdown for docs/scaling.md. A stage that
fails stops the run: its stderr's last lines are printed (its full output is in WORKDIR/logs).

The per-track route builds in WORKDIR (once, as above) real_songs.parquet, the shared real song
files extracted as a user would,

    python -m dataset.extract ../shared/data/MillionSongSubset/data --labels CD1,LASTFM_SUBSET
        --genre-names dataset/tagtraum_genre_names.tsv --mismatches sid_mismatches.txt --crops 4
        --format parquet --out real_songs.parquet

(1,058 songs, 1,048 of them labelled in CD1's genres, 5,274 rows with their crops, 212 columns;
docs/labels.md's way to label by CD1, else by the Last.fm tags), and from it SongCSV.parquet, a
folder of Parquet parts as extract writes them holding SONGS songs and their crops: the real rows
tiled with new ids, artists spread over 70 times as many artist ids, each copy's features scaled
by its own factor near 1 (bench/million_tracks.py says how). A million songs are 4,984,880 rows
and 8.5 GiB: the build checks the free disk first. Then it runs, with default options:

    python preprocess.py --data SongCSV.parquet --out preprocessed_data.parquet
    python train.py, python evaluate.py --out run/metrics.json (on preprocessed_data.parquet)
    python predict.py --checkpoint run/model.pt SongCSV.parquet --out genres.csv

measured and reported as above, against this route's targets (issue 30), and genres.csv must
hold one row per song, not per crop. --stages none builds the table only. Its test scores say
nothing of the model: a real song's copies are under several artists, so in every split, and the
test split holds near-copies of training songs.
"""
import argparse
import dataclasses
import datetime
import importlib.metadata
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pandas as pd

from bench import SHARED_DATA, cpu_name
from bench.bench_summary import BLOCK, SUBSET_SUMMARY, bench_id, build_summary_file, has_rows
from dataset.labels import ClsLabels

try:
    from bench import million_tracks
except ImportError:  # pyarrow, an optional extra that only the per-track route needs
    million_tracks = None

REPO = Path(__file__).resolve().parents[1]
CD1 = SHARED_DATA / "tagtraum" / "msd_tagtraum_cd1.cls"
SONG_FILES = SHARED_DATA / "MillionSongSubset" / "data"
LASTFM_SUBSET = SHARED_DATA / "lastfm_subset"
MISMATCHES = SHARED_DATA / "sid_mismatches.txt"
CD1_NAMES = Path("dataset") / "tagtraum_genre_names.tsv"  # the Last.fm tags' genres in CD1's names
CROPS = 4
STAGES = ("extract", "preprocess", "train", "evaluate", "predict")
# The summary route's targets (issue 23)
TARGET_SECONDS = {"extract": 60, "preprocess": 60, "train": 600, "evaluate": 120, "predict": 120}
TARGET_MIB = 4096  # every stage under 4 GiB
# The per-track route's (issue 30): extract is not among its stages, its input is built
TRACK_TARGET_SECONDS = {"preprocess": 300, "train": 1200, "evaluate": 300, "predict": 300}
TRACK_TARGET_MIB = 8192
SAMPLE_SECONDS = 0.1
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
ERROR_LINES = 20  # of a failed stage's stderr


class RunPaths:
    """The files of a work folder that both routes have: the tables (in ``table_format``, csv
    or parquet) and the run's files."""

    def __init__(self, workdir, table_format="csv"):
        self.work = Path(workdir).resolve()
        self.songs = self.work / f"SongCSV.{table_format}"
        self.table = self.work / f"preprocessed_data.{table_format}"
        self.checkpoint = self.work / "run" / "model.pt"
        self.metrics = self.work / "run" / "metrics.json"
        self.genres = self.work / "genres.csv"
        self.logs = self.work / "logs"


class Paths(RunPaths):
    """The summary route's work folder: the summary file and its labels too."""

    def __init__(self, workdir):
        super().__init__(workdir)
        self.summary = self.work / "msd_summary_file.h5"
        self.labels = self.work / "msd_tagtraum_cd1.cls"


class TrackPaths(RunPaths):
    """The per-track route's work folder: the real songs extracted, before they are tiled."""

    def __init__(self, workdir):
        super().__init__(workdir, table_format="parquet")
        self.real_songs = self.work / "real_songs.parquet"


class BuildError(Exception):
    """A work folder's input could not be built: the message says why, in one line."""


def learning_commands(paths, predicted, train_options):
    """{stage: argv} of preprocess, train, evaluate and predict (of the songs in ``predicted``)
    as a user types them, with default options and only paths given (and ``train_options``
    appended to train.py's)."""
    python = sys.executable
    return {
        "preprocess": [python, "preprocess.py", "--data", str(paths.songs),
                       "--out", str(paths.table)],
        "train": [python, "train.py", "--data", str(paths.table),
                  "--out", str(paths.checkpoint.parent), *train_options],
        "evaluate": [python, "evaluate.py", "--checkpoint", str(paths.checkpoint),
                     "--data", str(paths.table), "--out", str(paths.metrics)],
        "predict": [python, "predict.py", "--checkpoint", str(paths.checkpoint),
                    str(predicted), "--out", str(paths.genres)],
    }


def stage_commands(paths, train_options=()):
    """{stage: argv} of the summary route: extract of the summary file, then the learning half,
    predicting the summary file's songs."""
    extract = [sys.executable, "-m", "dataset.extract", str(paths.summary), "--no-segments",
               "--labels", str(paths.labels), "--out", str(paths.songs)]
    return {"extract": extract, **learning_commands(paths, paths.summary, train_options)}


def track_stage_commands(paths, train_options=()):
    """{stage: argv} of the per-track route: the learning half on the built SongCSV.parquet,
    predicting its songs."""
    return learning_commands(paths, paths.songs, train_options)


def real_extract_command(song_files, out):
    """Extract of the real ``song_files`` as a user runs it: labelled by tagtraum CD1, else by the
    Last.fm tags in CD1's genres, mismatched tracks left out, with crops, to Parquet parts in
    ``out``."""
    return [sys.executable, "-m", "dataset.extract", str(song_files),
            "--labels", f"{CD1},{LASTFM_SUBSET}", "--genre-names", str(CD1_NAMES),
            "--mismatches", str(MISMATCHES),
            "--crops", str(CROPS), "--format", "parquet", "--quiet", "--out", str(out)]


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


def disk_bytes(path):
    """Size of file ``path``, or of the files in folder ``path``."""
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size


def build_once(path, is_built, build):
    """Build ``path`` (a file or a folder) by ``build(temporary path)`` unless
    ``is_built(path)``; a build cut short leaves only PATH.partial behind."""
    if is_built(path):
        print(f"reusing {path}")
        return
    if path.is_dir():  # a rename cannot replace a folder, and the new one may need its disk
        shutil.rmtree(path)
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    build(partial)
    partial.replace(path)
    print(f"built {path}: {disk_bytes(path) / 2**20:,.1f} MiB in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def build_inputs(paths, songs):
    """The summary file and the label file of ``songs`` rows in the work folder."""
    paths.work.mkdir(parents=True, exist_ok=True)
    build_once(paths.summary, lambda path: has_rows(path, songs),
               lambda path: build_summary_file(path, songs))
    build_once(paths.labels, lambda path: has_label_header(path, songs),
               lambda path: write_labels(path, songs))


def extract_real_songs(out, song_files):
    """Write ``out`` by real_extract_command; BuildError when extract fails (its own lines
    printed)."""
    command = real_extract_command(song_files, out)
    print(f"$ {shlex.join(command)}", flush=True)
    status = subprocess.run(command, cwd=REPO).returncode
    if status != 0:
        raise BuildError(f"extract of {song_files} failed (exit status {status})")


def write_track_table(out, real, songs):
    """Write ``out``: the per-track table of ``songs`` songs tiled from ``real``
    (million_tracks.RealSongs); BuildError, before writing, when the disk has too little room."""
    needed, free = real.table_bytes(songs), shutil.disk_usage(out.parent).free
    if needed > free:
        raise BuildError(f"{songs:,} songs need about {needed / 1e9:,.1f} GB of disk in "
                         f"{out.parent}, which has {free / 1e9:,.1f} GB free: fewer --songs or "
                         "another --workdir")
    million_tracks.write_table(out, real, songs)


def build_track_inputs(paths, songs, song_files=SONG_FILES):
    """The per-track route's real_songs.parquet (extract's output of ``song_files``) and
    SongCSV.parquet of ``songs`` songs in the work folder."""
    paths.work.mkdir(parents=True, exist_ok=True)
    build_once(paths.real_songs, lambda path: bool(million_tracks.part_files(path)),
               lambda path: extract_real_songs(path, song_files))
    real = million_tracks.RealSongs(paths.real_songs)
    build_once(paths.songs, lambda path: million_tracks.table_rows(path) == real.rows(songs),
               lambda path: write_track_table(path, real, songs))


def track_table_lines(paths):
    """The built SongCSV.parquet in a line of the report."""
    parts = million_tracks.part_files(paths.songs)
    return [f"- {paths.songs.name}: {million_tracks.table_rows(paths.songs):,} rows (songs and "
            f"their crops) in {len(parts):,} parts, {disk_bytes(paths.songs) / 2**30:,.1f} GiB"]


@dataclasses.dataclass(frozen=True)
class Route:
    """A way to a million songs: its work folder (``paths``, a class taking the folder, and
    ``workdir``, the default), ``build(paths, songs)`` making the input there, ``commands(paths,
    train_options)`` ({stage: argv}), the targets of each stage (``target_seconds``, in pipeline
    order, and ``target_mib``, for every stage), the real files it is built from (``needed``) and
    the report's ``title`` and lines describing the input (``input_lines(paths)``, or None)."""

    paths: type
    workdir: str
    build: object
    commands: object
    target_seconds: dict
    target_mib: int
    needed: tuple
    title: str
    input_lines: object = None

    @property
    def stages(self):
        return tuple(self.target_seconds)


ROUTES = {
    "summary": Route(Paths, "data/bench_million", build_inputs, stage_commands, TARGET_SECONDS,
                     TARGET_MIB, (SUBSET_SUMMARY, CD1), "bench_million"),
    "per-track": Route(TrackPaths, "data/bench_million_tracks", build_track_inputs,
                       track_stage_commands, TRACK_TARGET_SECONDS, TRACK_TARGET_MIB,
                       (SONG_FILES, CD1, LASTFM_SUBSET, MISMATCHES),
                       "bench_million --route per-track", track_table_lines),
}


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


def run_stages(paths, stages, train_options, route):
    """Run ``stages`` of ``route`` in pipeline order; {stage: run_measured's result and
    "last_line"}, or None when one fails (its stderr's tail printed)."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    commands = route.commands(paths, train_options)
    results = {}
    for stage in (name for name in route.stages if name in stages):
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


def stage_table(results, route):
    """The stages' figures against ``route``'s targets, as Markdown table lines."""
    lines = ["| stage | wall | CPU | peak memory | target | met |",
             "|---|---:|---:|---:|---|---|"]
    for stage, result in results.items():
        seconds = route.target_seconds[stage]
        met = result["seconds"] <= seconds and result["peak_mib"] < route.target_mib
        lines.append(f"| {stage} | {result['seconds']:.1f} s | {result['cpu_seconds']:.1f} s | "
                     f"{result['peak_mib']:,.0f} MiB | "
                     f"<= {seconds} s, < {route.target_mib // 1024} GiB | "
                     f"{'met' if met else 'NOT met'} |")
    return lines


def outcome_lines(paths, songs, results):
    """genres.csv against the songs (after predict), the test scores (after evaluate)."""
    lines = []
    if "predict" in results:
        track_ids = pd.read_csv(paths.genres, usecols=["track_id"])["track_id"]
        one_per_song = len(track_ids) == songs == track_ids.nunique()
        lines.append(f"- genres.csv: {len(track_ids):,} rows, {track_ids.nunique():,} distinct "
                     f"track_ids, for {songs:,} songs: one row per song "
                     f"{'met' if one_per_song else 'NOT met'}")
    if "evaluate" in results:
        scores = pd.read_json(paths.metrics, typ="series")["model"]
        lines.append(f"- test split ({paths.metrics.name}): accuracy {scores['accuracy']:.3f}, "
                     f"macro-F1 {scores['macro_f1']:.3f}")
    return lines


def report(paths, songs, results, train_options, route):
    """The run's report as Markdown lines."""
    options = (f"; train.py {shlex.join(train_options)} (not its defaults)" if train_options
               else "; default options")
    lines = [f"## {route.title}: {songs:,} songs", "",
             f"{datetime.date.today().isoformat()}; {machine()}; "
             f"torch {importlib.metadata.version('torch')}, Python {platform.python_version()}"
             f"{options}", "", *stage_table(results, route)]
    outcomes = (route.input_lines(paths) if route.input_lines else []) + outcome_lines(
        paths, songs, results)
    return lines + ([""] + outcomes if outcomes else [])


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time the pipeline's stages, as a user runs them, on a million generated "
                    "songs: a summary file (extract, preprocess, train, evaluate, predict) or a "
                    "per-track table of Parquet parts (preprocess to predict).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--route", choices=ROUTES, default="summary",
                        help="summary: a summary file, the subset's 10,000 real rows tiled; "
                             "per-track: extract's Parquet output of the shared real song files "
                             "(with crops) tiled (needs pyarrow)")
    parser.add_argument("--songs", type=int, default=1_000_000,
                        help="songs of the built summary file or per-track table")
    parser.add_argument("--workdir", help="folder of the built files, the stages' outputs and "
                        "logs/ (default: data/bench_million, per-track: "
                        "data/bench_million_tracks)%(default).0s")
    parser.add_argument("--stages", nargs="+", choices=(*STAGES, "none"), metavar="STAGE",
                        help=f"stages to run, of {', '.join(STAGES)} (in that order, on the "
                        "outputs of earlier runs; per-track: not extract), or none to build "
                        "only (default: all of the route's)%(default).0s")
    parser.add_argument("--train-options", default="", metavar="OPTIONS",
                        help='options added to train.py\'s command line, e.g. "--epochs 2" or '
                             '--train-options=--bootstrap (the report says so)')
    parser.add_argument("--out", help="also write the report to this Markdown file")
    args = parser.parse_args(argv)
    route = ROUTES[args.route]
    if args.songs < 1:
        parser.error("--songs must be at least 1")
    args.stages = checked_stages(parser, args.stages, args.route)
    if args.route == "per-track" and million_tracks is None:
        parser.error("--route per-track needs pyarrow: pip install -r requirements-scale.txt")
    for needed in route.needed:
        if not needed.exists():
            parser.error(f"{needed} not found: the benchmark is built from the real subset")
    try:
        args.train_options = shlex.split(args.train_options)
    except ValueError as err:
        parser.error(f"--train-options: {err}")
    args.workdir = args.workdir or route.workdir
    return args


def checked_stages(parser, stages, route_name):
    """The stages asked of route ``route_name`` (all when ``stages`` is None; none for
    ["none"]); a stage the route does not have is an option error."""
    route = ROUTES[route_name]
    if stages is None:
        return route.stages
    if "none" in stages:
        if len(stages) > 1:
            parser.error("--stages: none builds the input only, so it comes alone")
        return ()
    for stage in stages:
        if stage not in route.stages:
            parser.error(f"--stages: {stage} is not a stage of --route {route_name} (its "
                         "input is built)")
    return stages


def main(argv=None):
    args = parse_args(argv)
    route = ROUTES[args.route]
    paths = route.paths(args.workdir)
    try:
        route.build(paths, args.songs)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not args.stages:
        return 0
    results = run_stages(paths, args.stages, args.train_options, route)
    if results is None:
        return 1
    text = "\n".join(report(paths, args.songs, results, args.train_options, route)) + "\n"
    print()
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
