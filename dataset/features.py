"""The per-song feature definition, shared by extract (SongCSV.csv) and predict.

Usage:
    from dataset import features, hdf5_getters
    with hdf5_getters.open_h5_file_read(path) as h5:
        row = features.song_features(h5, songidx=0)   # dict keyed by features.columns()

``song_features`` is the only place a feature is computed. Missing values are ``None`` (year 0,
empty strings) or NaN (unknown floats, statistics of a song without segments); the CSV writer
turns both into empty cells.
"""
import math

from dataset import hdf5_getters

TEXT_IDENTITY_COLUMNS = ("track_id", "song_id", "artist_id", "artist_name", "title", "release")
IDENTITY_COLUMNS = TEXT_IDENTITY_COLUMNS + ("year",)
SONG_LEVEL_COLUMNS = (
    "duration", "key", "key_confidence", "mode", "mode_confidence", "tempo", "time_signature",
    "time_signature_confidence", "loudness", "end_of_fade_in", "start_of_fade_out",
    "danceability", "energy", "artist_familiarity", "artist_hotttnesss", "song_hotttnesss",
    "artist_latitude", "artist_longitude",
)
_SONG_LEVEL_GROUP = {name: ("metadata" if name.startswith(("artist_", "song_")) else "analysis")
                     for name in SONG_LEVEL_COLUMNS}
# Events counted per second of the song: name of the column -> array whose length is counted.
RATE_ARRAYS = {
    "segments_per_second": "segments_start", "beats_per_second": "beats_start",
    "bars_per_second": "bars_start", "tatums_per_second": "tatums_start",
    "sections_per_second": "sections_start",
}
SEGMENT_COLUMNS = (
    tuple(f"timbre_mean_{i}" for i in range(12)) + tuple(f"timbre_std_{i}" for i in range(12))
    + tuple(f"pitch_mean_{i}" for i in range(12)) + tuple(f"pitch_std_{i}" for i in range(12))
    + ("segment_loudness_max_mean", "segment_loudness_max_std",
       "segment_loudness_start_mean", "segment_loudness_start_std")
    + tuple(RATE_ARRAYS)
)


def columns(segments=True):
    """The ordered feature columns ``song_features`` returns."""
    return IDENTITY_COLUMNS + SONG_LEVEL_COLUMNS + (SEGMENT_COLUMNS if segments else ())


def song_features(h5, songidx=0, segments=True):
    """Features of song ``songidx`` of an open MSD file, as a dict in ``columns()`` order.

    With ``segments=False`` only the song tables are read, which also works on summary files.
    Raises hdf5_getters.SongFileError when the file lacks something needed.
    """
    # This song's row and the next one, whose idx_ fields end this song's slice of each array.
    tables = _song_tables(h5, songidx, songidx + 2)
    return _features(h5, tables, 0, segments)


def file_features(h5, segments=True):
    """Features of every song of an open file, reading each song table once: aggregate and
    summary files hold thousands of songs, and a read per song would dominate."""
    tables = _song_tables(h5, 0, None)
    for row in range(len(tables["metadata"])):
        yield _features(h5, tables, row, segments)


_GROUPS = ("metadata", "analysis", "musicbrainz")


def _song_tables(h5, start, stop):
    tables = {group: hdf5_getters.read_rows(hdf5_getters.open_dataset(h5, f"{group}/songs"),
                                            start, stop) for group in _GROUPS}
    if stop is not None and not len(tables["metadata"]):
        raise hdf5_getters.SongFileError(
            f"song index {start} out of range (file has {hdf5_getters.get_num_songs(h5)})")
    return tables


def _features(h5, tables, row, segments):
    records = {group: tables[group][row] for group in _GROUPS}

    def field(group, name):
        return hdf5_getters.decode(records[group][name].item())

    features = {name: field("analysis" if name == "track_id" else "metadata", name) or None
                for name in TEXT_IDENTITY_COLUMNS}
    features["year"] = field("musicbrainz", "year") or None
    for name in SONG_LEVEL_COLUMNS:
        features[name] = field(_SONG_LEVEL_GROUP[name], name)
    if segments:
        features.update(segment_features(h5, tables, row, features["duration"]))
    return features


def segment_features(h5, tables, row, duration):
    """Statistics of the per-segment arrays and event rates of the song at ``row`` of ``tables``."""
    read = _ArrayReader(h5, tables, row)
    timbre = read("segments_timbre")
    pitches = read("segments_pitches")
    features = {}
    features.update(_column_stats("timbre", timbre))
    features.update(_column_stats("pitch", pitches))
    for name in ("loudness_max", "loudness_start"):
        values = read(f"segments_{name}")
        mean, std = _mean_std(values)
        features[f"segment_{name}_mean"] = mean
        features[f"segment_{name}_std"] = std
    for column, array in RATE_ARRAYS.items():
        count = read.length(array)
        features[column] = count / duration if duration and duration > 0 else math.nan
    return features


class _ArrayReader:
    """Reads one song's part of each array, bounded by the idx_ fields of its table rows."""

    def __init__(self, h5, tables, row):
        self.h5 = h5
        self.tables = tables
        self.row = row

    def _open(self, name):
        group = hdf5_getters.ARRAYS[name]
        dataset = hdf5_getters.open_dataset(self.h5, f"{group}/{name}")
        idx = self.tables[group][hdf5_getters.idx_column(name)]
        stop = int(idx[self.row + 1]) if self.row + 1 < len(idx) else None
        return dataset, int(idx[self.row]), stop

    def __call__(self, name):
        return hdf5_getters.read_rows(*self._open(name))

    def length(self, name):
        dataset, start, stop = self._open(name)
        return (dataset.shape[0] if stop is None else stop) - start


def _column_stats(prefix, matrix):
    if matrix.shape[0] == 0:
        nan = [math.nan] * 12
        means, stds = nan, nan
    else:
        means, stds = matrix.mean(axis=0).tolist(), matrix.std(axis=0).tolist()
    stats = {f"{prefix}_mean_{i}": value for i, value in enumerate(means)}
    stats.update({f"{prefix}_std_{i}": value for i, value in enumerate(stds)})
    return stats


def _mean_std(values):
    if values.shape[0] == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std())
