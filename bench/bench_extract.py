"""Benchmark: our extraction against the official getters' way (PyTables, one getter per field).

Usage:
    pip install -r requirements-bench.txt   # PyTables, for the official getters' way
    python -m bench.bench_extract [--files 1000] [--workers 1 2] [--rounds 3]

Builds FILES single-track song files in the real MSD layout (<A-Z>/<A-Z>/<A-Z>/TR….h5, sizes of
real songs: ~4 segments/s, ~2 beats/s), then times, on the same files in one run:
  - official: PyTables, one getter call per field and array as the seed's extract script did,
    the segment statistics of the seed's SongCSV (OFFICIAL_FAMILIES) computed with numpy, rows
    written with csv;
  - ours: dataset.extract.extract with 1 and N workers (every segment family included).
Rounds alternate between the methods so background load hits all alike; the best round counts.
"""
import argparse
import csv
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dataset import extract, features, labels, songfiles
from dataset.sample import write_song_file


def build_files(root, count, seed=0):
    """``count`` songs with realistic array sizes, one file each, in the MSD folder layout."""
    rng = np.random.default_rng(seed)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for index in range(count):
        track_id = "TR" + "".join(rng.choice(list(letters), 3)) + f"{index:013d}"
        duration = float(rng.uniform(150, 330))
        segments = int(duration * rng.uniform(3, 5))
        beats = np.cumsum(rng.uniform(0.4, 0.6, int(duration * 2)))
        song = {
            "track_id": track_id, "song_id": "SO" + track_id[2:], "artist_id": "AR" + track_id[2:],
            "artist_name": f"Artist {index % 500}", "title": f"Title {index}",
            "release": f"Release {index % 900}", "year": int(rng.choice([0, 1975, 1999, 2008])),
            "duration": duration, "tempo": float(rng.uniform(60, 180)),
            "key": int(rng.integers(12)),
            "loudness": float(rng.uniform(-20, -3)), "artist_familiarity": float(rng.uniform()),
            "artist_hotttnesss": float(rng.uniform()), "song_hotttnesss": math.nan,
            "segments_start": np.sort(rng.uniform(0, duration, segments)),
            "segments_confidence": rng.uniform(0, 1, segments),
            "segments_timbre": rng.normal(0, 30, (segments, 12)),
            "segments_pitches": rng.uniform(0, 1, (segments, 12)),
            "segments_loudness_max": rng.normal(-10, 3, segments),
            "segments_loudness_max_time": rng.uniform(0, 0.3, segments),
            "segments_loudness_start": rng.normal(-25, 5, segments),
            "beats_start": beats, "beats_confidence": rng.uniform(0, 1, len(beats)),
            "bars_start": beats[::4], "bars_confidence": rng.uniform(0, 1, len(beats[::4])),
            "tatums_start": np.repeat(beats, 2), "tatums_confidence": np.ones(2 * len(beats)),
            "sections_start": np.linspace(0, duration, 10, endpoint=False),
            "sections_confidence": np.ones(10),
            "artist_terms": [f"term {i}" for i in range(30)],
            "artist_terms_freq": rng.uniform(0, 1, 30),
            "artist_terms_weight": rng.uniform(0, 1, 30),
            "similar_artists": [f"AR{i:016d}" for i in range(100)],
            "artist_mbtags": ["rock"], "artist_mbtags_count": [1],
        }
        folder = root / track_id[2] / track_id[3] / track_id[4]
        folder.mkdir(parents=True, exist_ok=True)
        write_song_file(folder / f"{track_id}.h5", [song])
    return root


# The segment families the official way computes: those SongCSV.csv had before issue 13.
OFFICIAL_FAMILIES = ("timbre_stats", "pitch_stats", "segment_loudness", "event_rates")


# --- the official getters' way: the dataset authors' functions, ported to PyTables 3 names ---
def official_field(h5, group, name, songidx=0):
    return getattr(getattr(h5.root, group).songs.cols, name)[songidx]


def official_array(h5, group, name, songidx=0):
    """As get_segments_timbre & co: idx column of this song, slice to the next one or the end."""
    table = getattr(h5.root, group).songs
    node = getattr(getattr(h5.root, group), name)
    start = getattr(table.cols, f"idx_{name}")[songidx]
    if table.nrows == songidx + 1:
        return node[start:]
    return node[start:getattr(table.cols, f"idx_{name}")[songidx + 1]]


def official_row(h5, songidx=0):
    row = {}
    for name in features.TEXT_IDENTITY_COLUMNS:
        group = "analysis" if name == "track_id" else "metadata"
        row[name] = official_field(h5, group, name, songidx).decode("utf-8")
    row["year"] = official_field(h5, "musicbrainz", "year", songidx)
    for name in features.SONG_LEVEL_COLUMNS:
        group = "metadata" if name.startswith(("artist_", "song_")) else "analysis"
        row[name] = official_field(h5, group, name, songidx)
    timbre = official_array(h5, "analysis", "segments_timbre", songidx)
    pitches = official_array(h5, "analysis", "segments_pitches", songidx)
    row.update({f"timbre_mean_{i}": v for i, v in enumerate(timbre.mean(axis=0))})
    row.update({f"timbre_std_{i}": v for i, v in enumerate(timbre.std(axis=0))})
    row.update({f"pitch_mean_{i}": v for i, v in enumerate(pitches.mean(axis=0))})
    row.update({f"pitch_std_{i}": v for i, v in enumerate(pitches.std(axis=0))})
    for name in ("loudness_max", "loudness_start"):
        values = official_array(h5, "analysis", f"segments_{name}", songidx)
        row[f"segment_{name}_mean"], row[f"segment_{name}_std"] = values.mean(), values.std()
    for column, array in features.RATE_ARRAYS.items():
        row[column] = len(official_array(h5, "analysis", array, songidx)) / row["duration"]
    return row


def run_official(paths, out):
    import tables
    names = features.columns(families=OFFICIAL_FAMILIES)
    with open(out, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(names)
        for path in paths:
            h5 = tables.open_file(path, mode="r")
            try:
                row = official_row(h5)
            finally:
                h5.close()
            writer.writerow([row[name] for name in names])


def run_ours(root, out, workers, engine="local", output_format="csv"):
    """One extraction of ``root`` into ``out`` (segment features, no labels); its summary."""
    with labels.NoLabels() as source:
        return extract.extract([str(root)], out, workers, True, source, progress=False,
                               output_format=output_format, engine=engine)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="song files to build")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to time for our extraction")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    args = parser.parse_args(argv)
    try:
        import tables  # noqa: F401
    except ImportError:
        print("error: PyTables is needed for the official getters' way: "
              "pip install -r requirements-bench.txt", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = build_files(Path(tmp) / "data", args.files)
        paths = songfiles.find_song_files([root])
        megabytes = sum(Path(p).stat().st_size for p in paths) / 1e6
        print(f"{len(paths)} song files, {megabytes:.0f} MB, in {root}")
        methods = {"official getters (PyTables), 1 process":
                   lambda: run_official(paths, Path(tmp) / "official.csv")}
        for workers in args.workers:
            methods[f"ours (h5py), {workers} worker(s)"] = \
                lambda w=workers: run_ours(root, Path(tmp) / f"ours{w}.csv", w)
        best = {name: math.inf for name in methods}
        for _ in range(args.rounds):
            for name, method in methods.items():
                started = time.perf_counter()
                method()
                best[name] = min(best[name], time.perf_counter() - started)
    official = best[next(iter(best))]
    print(f"{'method':42} {'seconds':>8} {'files/s':>8} {'ms/file':>8} {'speed-up':>9}")
    for name, seconds in best.items():
        print(f"{name:42} {seconds:8.2f} {len(paths) / seconds:8.0f} "
              f"{1000 * seconds / len(paths):8.2f} {official / seconds:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
