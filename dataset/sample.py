"""Write files in the Million Song Dataset's HDF5 layout, and generate the demo sample from them.

Usage:
    python -m dataset.sample --dest data/sample [--songs-per-genre 60] [--seed 0]

    from dataset.sample import write_song_file
    write_song_file("TRXXX.h5", [{"track_id": "TRXXX", "tempo": 120.0,
                                 "segments_timbre": np.zeros((10, 12))}])

The files follow dataset/layout.py and match the real ones as h5py sees them: gzip-compressed,
chunked compound tables with fields in alphabetical order, fixed-length byte strings, growable
arrays, PyTables attributes (so PyTables reads them too) and the ``idx_*`` mechanism for
aggregate files. One song makes a single-track file, several make an aggregate file,
``arrays=False`` makes a summary file.

``generate_sample`` (the CLI) writes a GENERATED sample for the offline demo: a few hundred
single-track files in the real layout ``DEST/data/<A-Z>/<A-Z>/<A-Z>/TR....h5``, drawn from
invented per-genre distributions, and their labels in tagtraum's .cls format in
``DEST/sample_genres.cls``. It is not MSD data; accuracy measured on it says nothing about real
songs.
"""
import argparse
import multiprocessing
import os
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from dataset import cli, layout

TABLE_TITLES = {"metadata": "table of metadata for one song",
                "analysis": "table of Echo Nest analysis for one song",
                "musicbrainz": "table of data coming from MusicBrainz"}
GROUP_TITLES = {"metadata": "metadata about the song", "analysis": "Echo Nest analysis of the song",
                "musicbrainz": "data about the song coming from MusicBrainz"}
# The filter byte string PyTables stores for complevel 1, zlib, shuffle.
_PYTABLES_FILTERS = np.int64(65793)


def write_song_file(path, songs, arrays=True):
    """Write ``songs`` (dicts of field and array values; missing ones default to 0 / b'' /
    empty) to ``path`` as an MSD HDF5 file."""
    with h5py.File(path, "w") as h5:
        _attrs(h5, CLASS="GROUP", PYTABLES_FORMAT_VERSION="2.0", TITLE="H5 Song File",
               VERSION="1.0")
        for group in layout.GROUPS:
            node = h5.create_group(group)
            _attrs(node, CLASS="GROUP", TITLE=GROUP_TITLES[group], VERSION="1.0")
            node.attrs["FILTERS"] = _PYTABLES_FILTERS
        rows = {group: np.zeros(len(songs), dtype=layout.SONG_TABLES[group])
                for group in layout.GROUPS}
        written_idx = set()
        for name, group in layout.ARRAYS.items() if arrays else ():
            parts = [_as_array(name, song.get(name)) for song in songs]
            column = layout.idx_column(name)
            if column not in written_idx:
                # A family sharing one idx column (artist_terms, _freq, _weight) has equal
                # lengths; its first member sets the column.
                written_idx.add(column)
                rows[group][column] = np.cumsum([0] + [len(p) for p in parts[:-1]])
            _write_array(h5[group], name, np.concatenate(parts) if parts else _empty(name))
        for index, song in enumerate(songs):
            for table in rows.values():
                for field in table.dtype.names:
                    if field in song and not field.startswith("idx_"):
                        value = song[field]
                        table[field][index] = value.encode("utf-8") if isinstance(value, str) \
                            else value
        for group, table in rows.items():
            _write_table(h5[group], table, TABLE_TITLES[group])


def _write_table(group, table, title):
    dataset = group.create_dataset("songs", data=table, maxshape=(None,), chunks=True,
                                   compression="gzip", compression_opts=1, shuffle=True)
    _attrs(dataset, CLASS="TABLE", TITLE=title, VERSION="2.6")
    dataset.attrs["NROWS"] = np.int64(len(table))
    for i, name in enumerate(table.dtype.names):
        dataset.attrs[f"FIELD_{i}_NAME"] = np.bytes_(name)
        dataset.attrs[f"FIELD_{i}_FILL"] = np.zeros(1, dtype=table.dtype[name])[0]


def _write_array(group, name, values):
    maxshape = (None,) + values.shape[1:]
    chunks = (max(1, min(len(values), 1024)),) + values.shape[1:]
    dataset = group.create_dataset(name, data=values, maxshape=maxshape, chunks=chunks,
                                   compression="gzip", compression_opts=1, shuffle=True)
    _attrs(dataset, CLASS="EARRAY", TITLE=f"array of {name}", VERSION="1.0")
    dataset.attrs["EXTDIM"] = np.int32(0)


def _as_array(name, values):
    if values is None:
        return _empty(name)
    if _dtype(name).startswith("S"):
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    return np.asarray(values, dtype=_dtype(name)).reshape((-1,) + _empty(name).shape[1:])


def _dtype(name):
    spec = layout.ARRAY_TYPES.get(name, "<f8")
    return spec[0] if isinstance(spec, tuple) else spec


def _empty(name):
    spec = layout.ARRAY_TYPES.get(name, "<f8")
    shape = (0, spec[1]) if isinstance(spec, tuple) else (0,)
    return np.zeros(shape, dtype=_dtype(name))


def _attrs(node, **values):
    for key, value in values.items():
        node.attrs[key] = np.bytes_(value)


LABEL_FILE = "sample_genres.cls"


class SampleError(Exception):
    """A sample request that cannot be carried out (bad size, unusable destination)."""


class GenreProfile(NamedTuple):
    """How the songs of one invented genre are drawn: (mean, sd) pairs and per-genre traits."""
    tempo: tuple            # BPM
    loudness: tuple         # dB
    duration: tuple         # seconds
    major: float            # probability of mode 1
    triple_meter: float     # probability of time signature 3 (else 4)
    segment_rate: float     # segments per second
    spread: float           # scales the segment-to-segment timbre and loudness variation
    tonal: float            # 0..1: how strongly the chroma follows the key
    year: tuple             # (mean, sd) of the release year when it is known
    timbre: tuple           # mean of the 12 timbre dimensions


# Invented profiles, loosely shaped after the real subset (genre means of the timbre dimensions of
# tagtraum-labelled songs). Related genres (Blues/Country/Jazz, Pop_Rock/Reggae/Rap) are close on
# purpose, so a classifier learns a lot but not everything.
GENRE_PROFILES = {
    "Blues": GenreProfile((112, 22), (-11.5, 3.0), (240, 60), 0.70, 0.10, 3.2, 1.05, 0.70,
                          (1982, 14), (41, -33, 11, 1, -16, 1, -7, -1, 2, 0, 1, 6)),
    "Country": GenreProfile((118, 20), (-10.5, 2.5), (205, 45), 0.90, 0.15, 3.4, 0.95, 0.80,
                            (1995, 10), (42, -13, 13, -3, -7, -5, -7, -6, 3, -2, -1, 4)),
    "Electronic": GenreProfile((128, 12), (-8.5, 2.5), (330, 100), 0.60, 0.00, 4.0, 0.80, 0.45,
                               (2003, 5), (43, 6, -8, 15, 2, -13, 7, -3, 2, 2, 3, 2)),
    "Jazz": GenreProfile((120, 35), (-14.5, 3.5), (280, 75), 0.55, 0.20, 3.6, 1.15, 0.55,
                         (1975, 15), (37, -40, -1, 7, 9, -7, -5, -1, 1, 1, 2, 4)),
    "Pop_Rock": GenreProfile((125, 25), (-8.0, 3.0), (235, 55), 0.75, 0.05, 3.6, 1.00, 0.65,
                             (1992, 12), (46, 13, 16, -1, -13, -14, -1, -2, 5, 1, 0, 2)),
    "Rap": GenreProfile((95, 15), (-7.5, 2.5), (230, 50), 0.50, 0.00, 4.2, 0.90, 0.40,
                        (2000, 6), (43, 21, -5, 6, 0, 5, -4, 4, 1, 6, -5, 0)),
    "Reggae": GenreProfile((140, 25), (-9.0, 2.5), (220, 45), 0.65, 0.00, 3.4, 0.95, 0.60,
                           (1988, 10), (43, 21, 4, 13, 5, 5, 3, -3, -2, 4, -4, 1)),
}
# Song-to-song spread of the timbre means around the genre's (plus a shared per-artist offset),
# and the segment-to-segment spread within a song, per dimension (real-like magnitudes).
TIMBRE_SONG_SD = 1.5 * np.array([3.0, 14.0, 11.0, 6.0, 8.0, 5.0, 5.0, 3.0, 4.0, 3.0, 2.0, 3.0])
TIMBRE_ARTIST_SD = 0.6 * TIMBRE_SONG_SD
SONG_JITTER = 0.2
TIMBRE_SEGMENT_SD = np.array([6.0, 35.0, 30.0, 32.0, 26.0, 25.0, 21.0, 18.0, 18.0, 15.0, 15.0,
                              15.0])
# Krumhansl-Kessler key profiles (C major, C minor), rotated to the song's key for the chroma.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# UTF-8 on purpose: real names and places are full of it.
ARTIST_NICKNAMES = ("Ångström", "Café Noir", "Señor Ritmo", "Zoë", "Mötley Brass", "Kōji",
                    "Δέλτα", "Łódź Trio", "Smörgås", "Niño")
LOCATIONS = (("São Paulo, Brazil", -23.55, -46.63), ("Malmö, Sweden", 55.60, 13.00),
             ("Zürich, Switzerland", 47.37, 8.54), ("Montréal, Canada", 45.50, -73.57),
             ("Kraków, Poland", 50.06, 19.94), ("Memphis, TN", 35.15, -90.05),
             ("Reykjavík, Iceland", 64.15, -21.94), ("Kingston, Jamaica", 18.00, -76.79))


def generate_sample(dest, songs_per_genre=60, seed=0, workers=1):
    """Generate the demo sample under ``dest`` and return its labels {track_id: genre}.

    Writes ``dest/data/<A>/<B>/<C>/TR....h5`` (one song per file, real layout) and
    ``dest/LABEL_FILE``. Each song is drawn from its own generator seeded by (seed, song number),
    so the result is the same for any number of ``workers``. The sample is built in a temporary
    folder beside ``dest`` and moved into place, replacing an earlier generated sample; any other
    non-empty ``dest`` is refused.
    """
    dest = Path(dest)
    if songs_per_genre < 1:
        raise SampleError(f"--songs-per-genre must be at least 1, not {songs_per_genre}")
    if workers < 1:
        raise SampleError(f"--workers must be at least 1, not {workers}")
    if dest.exists() and not dest.is_dir():
        raise SampleError(f"{dest} is a file, not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / LABEL_FILE).exists():
        raise SampleError(f"{dest} is not empty and holds no generated sample; choose another "
                          f"--dest")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.generating-", dir=dest.parent))
    try:
        tasks = sample_plan(work, songs_per_genre, seed)
        if workers == 1:
            labels = dict(map(_write_song_task, tasks))
        else:
            with multiprocessing.Pool(workers) as pool:
                labels = dict(sorted(pool.imap_unordered(_write_song_task, tasks, chunksize=8)))
        _write_labels(work / LABEL_FILE, labels, songs_per_genre, seed)
        _move_into_place(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return labels


def song_path(root, track_id):
    """Where the MSD keeps a track's file: ``root/data/<id[2]>/<id[3]>/<id[4]>/<id>.h5``."""
    return Path(root) / "data" / track_id[2] / track_id[3] / track_id[4] / f"{track_id}.h5"


def sample_plan(root, songs_per_genre, seed):
    """One task per song: (root, genre, artist fields, song number, seed). Artists are nested in
    genres, several songs each, so an artist-disjoint split keeps every genre."""
    rng = np.random.default_rng(seed)
    artists_per_genre = max(1, songs_per_genre // 5)
    tasks = []
    song_number = artist_number = 0
    for genre in GENRE_PROFILES:
        artists = []
        for _ in range(artists_per_genre):
            artist_number += 1
            artists.append(generate_artist(rng, genre, artist_number))
        for artist in artists:
            artist["similar_artists"] = [a["artist_id"] for a in artists if a is not artist]
        for index in range(songs_per_genre):
            song_number += 1
            tasks.append((root, genre, artists[index % len(artists)], song_number, seed))
    return tasks


def _write_song_task(task):
    root, genre, artist, number, seed = task
    song = generate_song(np.random.default_rng([seed, number]), GENRE_PROFILES[genre], artist,
                         number)
    path = song_path(root, song["track_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_song_file(path, [song])
    return song["track_id"], genre


def generate_artist(rng, genre, number):
    """Artist-level fields shared by all of an artist's songs (a dict to merge into each)."""
    known_place = rng.random() < 0.5
    location, latitude, longitude = LOCATIONS[rng.integers(len(LOCATIONS))] if known_place \
        else ("", np.nan, np.nan)
    return {
        "artist_id": msd_id(rng, "AR", number),
        "artist_name": f"Generated artist {number} ({ARTIST_NICKNAMES[number % 10]})",
        "artist_location": location, "artist_latitude": latitude, "artist_longitude": longitude,
        "artist_familiarity": rng.uniform(0.3, 0.8), "artist_hotttnesss": rng.uniform(0.2, 0.6),
        "artist_7digitalid": int(rng.integers(1, 10**6)), "artist_playmeid": -1,
        "artist_terms": [genre.lower().replace("_", " "), "generated"],
        "artist_terms_freq": [1.0, 0.5], "artist_terms_weight": [1.0, 0.4],
        "timbre_offset": rng.normal(0.0, TIMBRE_ARTIST_SD),
    }


def generate_song(rng, profile, artist, number):
    """One song dict for ``write_song_file``: fields and arrays drawn from the genre profile."""
    duration = float(np.clip(rng.normal(*profile.duration), 60.0, 900.0))
    tempo = float(np.clip(rng.normal(*profile.tempo), 50.0, 230.0))
    key = int(rng.integers(12))
    mode = int(rng.random() < profile.major)
    time_signature = 3 if rng.random() < profile.triple_meter else 4
    loudness = float(np.clip(rng.normal(*profile.loudness), -40.0, -1.0))
    end_of_fade_in = rng.uniform(0.0, 2.0)
    known_year = rng.random() < 0.5
    year = int(np.clip(round(rng.normal(*profile.year)), 1950, 2010)) if known_year else 0
    song = {name: value for name, value in artist.items() if name != "timbre_offset"}
    song.update({
        "track_id": msd_id(rng, "TR", number), "song_id": msd_id(rng, "SO", number),
        "title": f"Generated song {number}", "release": f"Generated release {number}",
        "year": year, "duration": duration, "tempo": tempo, "key": key, "mode": mode,
        "time_signature": time_signature, "loudness": loudness,
        "key_confidence": rng.uniform(), "mode_confidence": rng.uniform(),
        "time_signature_confidence": rng.uniform(), "end_of_fade_in": end_of_fade_in,
        "start_of_fade_out": duration - rng.uniform(2.0, 15.0),
        "song_hotttnesss": np.nan if rng.random() < 0.4 else rng.uniform(0.1, 0.9),
        "analysis_sample_rate": 22050, "audio_md5": rng.bytes(16).hex(),
        "track_7digitalid": int(rng.integers(1, 10**7)),
        "release_7digitalid": int(rng.integers(1, 10**6)),
    })
    song.update(_segments(rng, profile, artist["timbre_offset"], duration, loudness, key, mode))
    song.update(_rhythm(rng, duration, tempo, time_signature, end_of_fade_in))
    return song


def msd_id(rng, prefix, number):
    """An id of the real form (2-letter prefix + 16 characters), marked "GEN" as ours and ending
    in ``number`` (unique). The first five are letters: a track's folders are its 3rd to 5th."""
    return (prefix + "".join(rng.choice(list(string.ascii_uppercase), 5)) + "GEN"
            + f"{number:08d}")


def _segments(rng, profile, artist_offset, duration, loudness, key, mode):
    # Every per-genre trait varies from song to song, so no single statistic gives the genre away.
    rate = profile.segment_rate * rng.lognormal(0.0, SONG_JITTER)
    spread = profile.spread * rng.lognormal(0.0, SONG_JITTER, 12)
    tonal = np.clip(rng.normal(profile.tonal, SONG_JITTER), 0.05, 0.95)
    count = max(2, round(duration * rate))
    lengths = rng.gamma(4.0, 1.0, count)
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]]) * (duration / lengths.sum())
    center = np.array(profile.timbre) + artist_offset + rng.normal(0.0, TIMBRE_SONG_SD)
    timbre = center + rng.normal(0.0, 1.0, (count, 12)) * TIMBRE_SEGMENT_SD * spread
    key_profile = np.roll(MAJOR_PROFILE if mode else MINOR_PROFILE, key)
    chroma = (tonal * key_profile / key_profile.max() * rng.uniform(0.2, 1.0, (count, 1))
              + (1.0 - tonal) * rng.uniform(0.0, 1.0, (count, 12)) ** 2)
    loudness_max = loudness - 2.5 + rng.normal(0.0, 4.0 * spread[0], count)
    return {
        "segments_start": starts, "segments_confidence": rng.uniform(0.0, 1.0, count),
        "segments_timbre": timbre.round(3),
        "segments_pitches": (chroma / chroma.max(axis=1, keepdims=True)).round(3),
        "segments_loudness_max": loudness_max.round(3),
        "segments_loudness_start": (loudness_max - rng.uniform(4.0, 14.0, count)).round(3),
        "segments_loudness_max_time": rng.uniform(0.0, 0.1, count).round(5),
    }


def _rhythm(rng, duration, tempo, time_signature, end_of_fade_in):
    period = 60.0 / tempo
    first = end_of_fade_in + rng.uniform(0.0, period)
    beats = np.arange(first, duration - rng.uniform(0.0, 2.0), period)
    beats = beats + rng.normal(0.0, 0.004, len(beats))
    tatums = np.sort(np.concatenate([beats, beats + period / 2]))
    bars = beats[int(rng.integers(time_signature))::time_signature]
    sections = np.concatenate([[0.0], np.cumsum(rng.uniform(15.0, 45.0, int(duration // 15)))])
    sections = sections[sections < duration - 10.0]
    rhythm = {"beats_start": beats, "tatums_start": tatums, "bars_start": bars,
              "sections_start": sections}
    for name, starts in list(rhythm.items()):
        rhythm[name.replace("_start", "_confidence")] = rng.uniform(0.0, 1.0, len(starts))
    return {name: values.round(5) for name, values in rhythm.items()}


def _write_labels(path, labels, songs_per_genre, seed):
    lines = [
        "#" * 80,
        "#    GENERATED sample labels, made by `python -m dataset.sample` "
        f"(seed {seed}, {songs_per_genre} songs per genre).",
        "#    NOT real Million Song Dataset labels: the songs are invented, for the offline demo.",
        "#    Format (as tagtraum's .cls files): '#' = comment, '\\t' = field separator",
        "#    Fields: trackId, genre",
        "#" * 80,
    ]
    lines += [f"{track_id}\t{genre}" for track_id, genre in sorted(labels.items())]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _move_into_place(work, dest):
    if not dest.exists():
        os.replace(work, dest)
        return
    # A folder cannot be replaced in one rename; the old sample is moved aside first.
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.replaced-", dir=dest.parent))
    os.replace(dest, old)
    os.replace(work, dest)
    shutil.rmtree(old, ignore_errors=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=cli.module_prog("dataset.sample"),
        description="Generate the demo sample: invented songs in the real MSD file layout and "
                    "their genre labels. GENERATED data, not the MSD.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dest", default="data/sample",
                        help="folder to write (an earlier generated sample there is replaced)")
    parser.add_argument("--songs-per-genre", type=int, default=60,
                        help=f"songs per genre ({len(GENRE_PROFILES)} genres)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes writing files (the result does not depend on it)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        labels = generate_sample(args.dest, args.songs_per_genre, args.seed, args.workers)
    except SampleError as err:
        print(f"sample: error: {err}", file=sys.stderr)
        return 2
    artists = len(GENRE_PROFILES) * max(1, args.songs_per_genre // 5)
    print(f"wrote {len(labels)} GENERATED songs ({len(GENRE_PROFILES)} genres, {artists} "
          f"artists, seed {args.seed}) to {Path(args.dest) / 'data'} and their labels to "
          f"{Path(args.dest) / LABEL_FILE} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
