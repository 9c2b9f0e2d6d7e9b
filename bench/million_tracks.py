"""The per-track million table: extract's real Parquet output tiled to any number of songs.

Usage:
    from bench import million_tracks
    real = million_tracks.RealSongs("real_songs.parquet")     # extract --crops N --format parquet
    million_tracks.write_table("SongCSV.parquet", real, 1_000_000)

The table is what ``dataset.extract --crops N --format parquet`` would write for SONGS song files:
a folder of part-NNNNN.parquet files with extract's schema, each part whole songs (a song's row,
then its crops' rows) and at least dataset.writers.PARQUET_PART_ROWS rows, the last part the rest.
Song ``s`` is copy ``s // R`` of real song ``s % R`` (R real songs), its rows those of the real
song but for:

- track_id, song_id: bench_summary.bench_id("TR", s) and bench_id("SO", s), 18 characters like
  the MSD's (TRBENCH00000000007); the song's crops keep its track_id and their crop numbers;
- artist_id: bench_id("AR", artist * ARTIST_SPREAD + copy % ARTIST_SPREAD), ``artist`` the real
  artist's index: each real artist becomes ARTIST_SPREAD artists, each holding whole songs, so the
  artist-grouped split still keeps a song and its crops on one side;
- every float column but the crop number: multiplied by the song's own factor
  1 + N(0, FACTOR_SD) (seeded; the same for the song and its crops), so no two copies are equal
  rows. Ids, text, labels and the integer fields (year, key, mode, time_signature) stay as they
  are.
"""
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.bench_summary import bench_id
from dataset.writers import PARQUET_PART_ROWS, PART_NAME

# The shared files' 1,058 songs (after --mismatches) have 647 artists: x 70 = 45,290 artist ids
# at a million songs, about the full MSD's 44,745.
ARTIST_SPREAD = 70
FACTOR_SD = 0.01
# A tiled part measured 3 % bigger than the real part it copies (unique ids compress less).
TILED_BYTES = 1.1
UNSCALED = {"crop"}  # a float column that numbers rows rather than describes the music


def part_files(folder):
    """The part-NNNNN.parquet files of ``folder``, in order; none when it is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if PART_NAME.fullmatch(path.name))


def table_rows(folder):
    """Rows of the Parquet parts in ``folder`` (from their footers, nothing else read)."""
    return sum(pq.ParquetFile(part).metadata.num_rows for part in part_files(folder))


class RealSongs:
    """Extract's Parquet output read whole: ``table`` (its rows, in one chunk), ``starts`` and
    ``counts`` (each song's first row and its number of rows, its own and its crops'),
    ``artists`` (each row's artist, an index from 0) and ``bytes_per_row`` (of its parts on
    disk)."""

    def __init__(self, folder):
        parts = part_files(folder)
        self.table = pa.concat_tables(pq.read_table(part) for part in parts).combine_chunks()
        crop = self.table.column("crop").to_numpy()
        self.starts = np.flatnonzero(crop == 0)  # extract writes a song's row, then its crops'
        self.counts = np.diff(np.append(self.starts, len(crop)))
        artist_ids = self.table.column("artist_id").to_numpy(zero_copy_only=False)
        self.artists = np.unique(artist_ids, return_inverse=True)[1]
        self.bytes_per_row = sum(part.stat().st_size for part in parts) / len(crop)

    def rows(self, songs):
        """Rows of the table of ``songs`` songs built from these: songs' and crops'."""
        copies, rest = divmod(songs, len(self.starts))
        return copies * int(self.counts.sum()) + int(self.counts[:rest].sum())

    def table_bytes(self, songs):
        """About the disk the table of ``songs`` songs takes (a little more, not less)."""
        return self.bytes_per_row * self.rows(songs) * TILED_BYTES


def part_bounds(song_rows, part_rows):
    """[(first song, last song + 1)] of each part: whole songs, a part ending at the song that
    brings it to ``part_rows`` rows, as extract's parts do."""
    ends = np.cumsum(song_rows)
    bounds, first = [], 0
    while first < len(song_rows):
        before = int(ends[first - 1]) if first else 0
        stop = min(int(np.searchsorted(ends, before + part_rows)) + 1, len(song_rows))
        bounds.append((first, stop))
        first = stop
    return bounds


def tiled_rows(real, first, stop, factors):
    """The rows of songs ``first`` to ``stop`` - 1 as an Arrow table with the real schema."""
    songs = np.arange(first, stop)
    real_song = songs % len(real.starts)
    counts = real.counts[real_song]
    song_of_row = np.repeat(songs, counts)
    offset_in_song = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.repeat(real.starts[real_song], counts) + offset_in_song
    copy = song_of_row // len(real.starts)
    new_ids = {
        "track_id": np.array([bench_id("TR", song) for song in songs])[song_of_row - first],
        "song_id": np.array([bench_id("SO", song) for song in songs])[song_of_row - first],
        "artist_id": [bench_id("AR", artist) for artist in
                      real.artists[rows] * ARTIST_SPREAD + copy % ARTIST_SPREAD],
    }
    factor = pa.array(factors[song_of_row])
    taken = real.table.take(rows)
    columns = []
    for field, column in zip(taken.schema, taken.columns, strict=True):
        if field.name in new_ids:
            column = pa.array(new_ids[field.name], type=field.type)
        elif pa.types.is_floating(field.type) and field.name not in UNSCALED:
            column = pc.multiply(column, factor)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=real.table.schema)


def write_table(folder, real, songs, seed=0, part_rows=PARQUET_PART_ROWS):
    """Write ``folder`` (replacing what is there): ``songs`` songs tiled from ``real``
    (RealSongs) as described above, a part at a time, so memory holds one part."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    factors = 1 + FACTOR_SD * np.random.default_rng(seed).standard_normal(songs)
    song_rows = real.counts[np.arange(songs) % len(real.starts)]
    for index, (first, stop) in enumerate(part_bounds(song_rows, part_rows)):
        pq.write_table(tiled_rows(real, first, stop, factors),
                       folder / f"part-{index:05d}.parquet")
