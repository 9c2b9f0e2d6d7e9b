"""The per-song feature definition, shared by extract (SongCSV.csv) and predict.

Usage:
    from dataset import features, hdf5_getters
    with hdf5_getters.open_h5_file_read(path) as h5:
        row = features.song_features(h5, songidx=0)   # dict keyed by features.columns()
    features.FAMILIES["timbre_covariance"]             # the columns of one segment family
    features.family_of("timbre_cov_0_1")               # -> "timbre_covariance"
    features.columns(families=["timbre_stats"])        # identity, song-level and chosen families
    rows = features.file_features(h5, crops=features.Crops(4, 30.0))
    song_and_crops = features.crop_rows(row)           # a row with "crops": it, then a row each

``song_features`` is the only place a feature is computed. Missing values are ``None`` (year 0,
empty strings) or NaN (unknown floats, statistics a song has too few segments, beats or sections
for); the CSV writer turns both into empty cells.

Segment columns come in named families (``FAMILIES``), each computed by one small function from
one song's arrays. Statistics are over the song's segments and population ones (ddof 0), as
numpy computes them by default. Timbre is the Echo Nest's 12 MFCC-like dimensions; pitch is the
12-bin chroma (C = 0), normalised by the Echo Nest so its strongest bin is 1 in every segment.
"""
import functools
import math
import typing

import numpy as np

from dataset import hdf5_getters, layout

TEXT_IDENTITY_COLUMNS = ("track_id", "song_id", "artist_id", "artist_name", "title", "release")
IDENTITY_COLUMNS = TEXT_IDENTITY_COLUMNS + ("year",)
SONG_LEVEL_COLUMNS = (
    "duration", "key", "key_confidence", "mode", "mode_confidence", "tempo", "time_signature",
    "time_signature_confidence", "loudness", "end_of_fade_in", "start_of_fade_out",
    "danceability", "energy", "artist_familiarity", "artist_hotttnesss", "song_hotttnesss",
    "artist_latitude", "artist_longitude",
)
# Events counted per second of the song: name of the column -> array whose length is counted.
RATE_ARRAYS = {
    "segments_per_second": "segments_start", "beats_per_second": "beats_start",
    "bars_per_second": "bars_start", "tatums_per_second": "tatums_start",
    "sections_per_second": "sections_start",
}
DIMENSIONS = 12  # timbre dimensions and pitch classes alike
# (i, j), i < j: the upper triangle of a 12 x 12 matrix, row by row (numpy.triu_indices' order).
PAIRS = tuple((i, j) for i in range(DIMENSIONS) for j in range(i + 1, DIMENSIONS))
LAG = 8  # segments between the timbres compared by timbre_lag_deltas
BLOCKS = 8  # parts of the song compared by timbre_block_contrast
SONG_TABLE_BLOCK = 10_000  # song-table rows read at once (a summary file's: 55 MB)
CROP = "crop"  # the column numbering a song's crops from 1 (0: the song itself)
CROPS = "crops"  # the key of a row's crops until crop_rows makes rows of them


class Crops(typing.NamedTuple):
    """``count`` windows of ``seconds`` each cut from every song, spread evenly over it; none
    from a song no longer than one window."""
    count: int = 0
    seconds: float = 30.0

    def starts(self, duration):
        """The windows' start times (s) in a song of ``duration`` seconds."""
        if not self.count or not duration > self.seconds:
            return []
        free = duration - self.seconds
        return [free * (number + 0.5) / self.count for number in range(self.count)]


NO_CROPS = Crops()


def _per_dimension(*stems):
    return tuple(f"{stem}_{i}" for stem in stems for i in range(DIMENSIONS))


def _per_pair(stem):
    return tuple(f"{stem}_{i}_{j}" for i, j in PAIRS)


# --- the families: name -> (columns, function of a _Song returning their values in order) ---

def _timbre_stats(song):
    if not song.segments:
        return _nan(2 * DIMENSIONS)
    return np.concatenate([song.timbre_mean, _std(song.timbre_centred, song.segments)])


def _pitch_stats(song):
    if not song.segments:
        return _nan(2 * DIMENSIONS)
    return np.concatenate([song.pitch_mean, _std(song.pitches - song.pitch_mean, song.segments)])


def _segment_loudness(song):
    values = []
    for name in ("segments_loudness_max", "segments_loudness_start"):
        array = song.array(name)
        if not len(array):
            values += [math.nan, math.nan]
        else:
            mean = _mean(array)
            values += [mean, _std(array - mean, len(array))]
    return values


def _event_rates(song):
    duration = song.duration
    return [song.length(array) / duration if duration and duration > 0 else math.nan
            for array in RATE_ARRAYS.values()]


def _timbre_covariance(song):
    """How the timbre dimensions move together (the diagonal is timbre_std squared)."""
    if not song.segments:
        return _nan(len(PAIRS))
    centred = song.timbre_centred
    return (centred.T @ centred).ravel().take(_UPPER_FLAT) / song.segments


def _timbre_deltas(song):
    if song.segments < 2:
        return _nan(2 * DIMENSIONS)
    timbre = song.timbre
    steps = timbre[1:] - timbre[:-1]
    count = len(steps)
    # The steps' mean is (last - first) / count: their spread needs no second pass.
    mean = (timbre[-1] - timbre[0]) / count
    spread = np.einsum("ij,ij->j", steps, steps) / count - mean * mean
    return np.concatenate([np.add.reduce(np.abs(steps), axis=0) / count,
                           np.sqrt(np.maximum(spread, 0.0))])


def _timbre_lag_deltas(song):
    """Change over LAG segments (about 2 s), where one segment is about 0.25 s."""
    if song.segments <= LAG:
        return _nan(DIMENSIONS)
    timbre = song.timbre
    return np.add.reduce(np.abs(timbre[LAG:] - timbre[:-LAG]), axis=0) / (len(timbre) - LAG)


def _timbre_block_contrast(song):
    """The song cut into BLOCKS parts of (nearly) equal segment counts, as numpy.array_split
    cuts it; the spread over the parts of each part's mean timbre: how much the song's sound
    changes from one part to another, without reading the section boundaries."""
    count = song.segments
    if count < BLOCKS:
        return _nan(DIMENSIONS)
    size, longer = divmod(count, BLOCKS)  # the first `longer` parts get one segment more
    firsts = [block * size + min(block, longer) for block in range(BLOCKS)]
    sizes = np.diff(firsts + [count])
    means = np.add.reduceat(song.timbre, firsts, axis=0) / sizes[:, None]
    return _std(means - _mean(means), BLOCKS)


def _chroma_key_invariant(song):
    """The mean chroma rotated so its strongest pitch class comes first: the same for a song
    and its transposition."""
    if not song.segments:
        return _nan(DIMENSIONS)
    mean = song.pitch_mean
    strongest = int(mean.argmax())
    return np.concatenate([mean[strongest:], mean[:strongest]])


_FAMILY_DEFINITIONS = {
    # The columns SongCSV.csv had before families: names, order and values are kept, since they
    # are in users' SongCSVs and in the feature_names of their checkpoints.
    "timbre_stats": (_per_dimension("timbre_mean", "timbre_std"), _timbre_stats),
    "pitch_stats": (_per_dimension("pitch_mean", "pitch_std"), _pitch_stats),
    "segment_loudness": (("segment_loudness_max_mean", "segment_loudness_max_std",
                          "segment_loudness_start_mean", "segment_loudness_start_std"),
                         _segment_loudness),
    "event_rates": (tuple(RATE_ARRAYS), _event_rates),
    # Kept by bench/bench_features.py's ablation (README, "Feature families").
    "timbre_covariance": (_per_pair("timbre_cov"), _timbre_covariance),
    "timbre_deltas": (_per_dimension("timbre_delta_abs_mean", "timbre_delta_std"),
                      _timbre_deltas),
    "timbre_lag_deltas": (_per_dimension(f"timbre_delta{LAG}_abs_mean"), _timbre_lag_deltas),
    "timbre_block_contrast": (_per_dimension("timbre_block_std"), _timbre_block_contrast),
    "chroma_key_invariant": (_per_dimension("pitch_rotated_mean"), _chroma_key_invariant),
}
_UPPER_FLAT = np.array([i * DIMENSIONS + j for i, j in PAIRS])  # the pairs in a flat matrix


# numpy's mean and std over axis 0 by the same operations, so the same bits as the columns always
# had, without numpy's Python wrappers: a fifth of the families' time on songs of a few hundred
# segments.
def _mean(values):
    return np.add.reduce(values, axis=0) / len(values)


def _std(centred, count):
    """The std given the values centred on their _mean (not computed again)."""
    return np.sqrt(np.add.reduce(centred * centred, axis=0) / count)


def _nan(count):
    return [math.nan] * count


FAMILIES = {name: columns for name, (columns, _) in _FAMILY_DEFINITIONS.items()}
SEGMENT_COLUMNS = tuple(column for columns in FAMILIES.values() for column in columns)
_FAMILY_OF = {**{name: "identity" for name in IDENTITY_COLUMNS},
              **{name: "song_level" for name in SONG_LEVEL_COLUMNS},
              **{column: family for family, columns in FAMILIES.items() for column in columns}}


def columns(segments=True, families=None):
    """The ordered feature columns ``song_features`` returns: identity, song-level, then the
    segment families (all of them, or those named in ``families``; none without ``segments``)."""
    if not segments:
        return IDENTITY_COLUMNS + SONG_LEVEL_COLUMNS
    unknown = set(families or ()) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown feature families: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(FAMILIES)})")
    chosen = FAMILIES if families is None else [name for name in FAMILIES if name in families]
    return (IDENTITY_COLUMNS + SONG_LEVEL_COLUMNS
            + tuple(column for name in chosen for column in FAMILIES[name]))


def family_of(column):
    """The family of a column of ``columns()``: a key of FAMILIES, "identity" or "song_level".

    Raises ValueError for a name that is not a feature column.
    """
    try:
        return _FAMILY_OF[column]
    except KeyError:
        raise ValueError(f"{column!r} is not a column of dataset.features") from None


def song_features(h5, songidx=0, segments=True):
    """Features of song ``songidx`` of an open MSD file, as a dict in ``columns()`` order.

    With ``segments=False`` only the song tables are read, which also works on summary files.
    Raises hdf5_getters.SongFileError when the file lacks something needed.
    """
    # This song's row and the next one, whose idx_ fields end this song's slice of each array.
    tables = _song_tables(h5, songidx, songidx + 2)
    if not len(tables["metadata"]):
        raise hdf5_getters.SongFileError(
            f"song index {songidx} out of range (file has {hdf5_getters.get_num_songs(h5)})")
    return next(_block_features(h5, tables, 1, segments))


def file_features(h5, segments=True, start=0, stop=None, crops=NO_CROPS):
    """Features of songs ``start`` to ``stop`` - 1 (to the last when None) of an open file;
    with ``crops``, each row's CROPS key holds its crops' segment columns (see ``crop_rows``).

    Aggregate and summary files hold up to a million songs: the song tables are read
    SONG_TABLE_BLOCK rows at a time (a million rows of the metadata table alone are 5 GB), and
    each column of a block is converted at once (a conversion per field would dominate).
    """
    first = start
    while stop is None or first < stop:
        last = first + SONG_TABLE_BLOCK if stop is None else min(first + SONG_TABLE_BLOCK, stop)
        # One row more: its idx_ fields end the block's last song's slice of each array. The
        # rows read say where the file ends (counting its songs first would cost a single-track
        # file one more dataset to open).
        tables = _song_tables(h5, first, last + 1)
        yield from _block_features(h5, tables, min(len(tables["metadata"]), last - first),
                                   segments, crops)
        if len(tables["metadata"]) <= last - first:
            return
        first = last


# The song table each identity and song-level column is read from, in columns() order.
_GROUP_OF = {name: layout.GROUP_OF_FIELD[name] for name in IDENTITY_COLUMNS + SONG_LEVEL_COLUMNS}
# The fields read from each song table: those columns, and where each song's part of the
# analysis arrays (those the segment families read) starts.
_TABLE_FIELDS = {group: [name for name, of in _GROUP_OF.items() if of == group]
                 for group in layout.GROUPS}
_TABLE_FIELDS["analysis"] += sorted({layout.idx_column(name)
                                     for name, group in layout.ARRAYS.items()
                                     if group == "analysis"})


def _song_tables(h5, start, stop):
    """Rows ``start`` to ``stop`` - 1 of each song table, checked to hold what is computed on
    (hdf5_getters.SongFileError otherwise), so that an error while computing is a bug."""
    tables = {group: hdf5_getters.check_table(
                  group, hdf5_getters.read_rows(hdf5_getters.open_dataset(h5, f"{group}/songs"),
                                                start, stop), _TABLE_FIELDS[group])
              for group in layout.GROUPS}
    rows = {group: len(table) for group, table in tables.items()}
    if len(set(rows.values())) > 1:
        raise hdf5_getters.SongFileError(
            f"song tables of different lengths from song {start}: "
            + ", ".join(f"/{group}/songs {count}" for group, count in rows.items()))
    return tables


def _block_features(h5, tables, count, segments, crops=NO_CROPS):
    """The features of the first ``count`` songs of ``tables``, one dict per song."""
    values = {name: _column(tables[group][name][:count], name in IDENTITY_COLUMNS)
              for name, group in _GROUP_OF.items()}
    for row, song in enumerate(zip(*values.values())):
        features = dict(zip(values, song))
        if segments:
            song = _Song(h5, tables, row, features["duration"])
            features.update(segment_features(song))
            if crops.count:
                features[CROPS] = [segment_features(_Window(song, start, crops.seconds))
                                   for start in crops.starts(features["duration"])]
        yield features


def _column(values, identity):
    """A song-table column as Python values; an identity column's empty text and year 0 are
    unknown (None)."""
    values = (hdf5_getters.decode_column(values) if values.dtype.kind == "S"
              else values.tolist())
    return [value or None for value in values] if identity else values


def crop_rows(row):
    """``row`` (numbered crop 0) and a row for each of its CROPS (numbered from 1): the song's
    columns but the segment families'. The CROPS key is removed from ``row``."""
    crops = row.pop(CROPS, [])
    row[CROP] = 0
    return [row] + [{**row, **crop, CROP: number} for number, crop in enumerate(crops, 1)]


def segment_features(song):
    """The segment families' columns of a _Song (or a _Window of one), as a dict."""
    values = np.concatenate([np.asarray(compute(song), dtype=np.float64)
                             for _, compute in _FAMILY_DEFINITIONS.values()])
    # One conversion to Python floats, what the CSV and Parquet writers expect.
    return dict(zip(SEGMENT_COLUMNS, values.tolist()))


def _event_of(name):
    """The event whose arrays ``name`` is one of: segments_timbre -> "segments"."""
    return name.split("_")[0]


class _Song:
    """One song's arrays, each read once, when a family first asks for it, and their means."""

    def __init__(self, h5, tables, row, duration):
        self.h5 = h5
        self.tables = tables
        self.row = row
        self.duration = duration
        self._arrays = {}
        self._rows_of_event = {}  # "segments", "beats", ... -> the rows of its arrays read

    def _open(self, name):
        group = layout.ARRAYS[name]
        dataset = hdf5_getters.open_dataset(self.h5, f"{group}/{name}")
        idx = self.tables[group][layout.idx_column(name)]
        stop = int(idx[self.row + 1]) if self.row + 1 < len(idx) else None
        return dataset, int(idx[self.row]), stop

    def array(self, name):
        """This song's part of array ``name``, checked to have the layout's shape and type and,
        unless empty (missing), as many rows as the other arrays of its event read before
        (hdf5_getters.SongFileError otherwise)."""
        if name not in self._arrays:
            values = hdf5_getters.check_array(name, hdf5_getters.read_rows(*self._open(name)))
            if len(values):
                event = _event_of(name)
                rows = self._rows_of_event.setdefault(event, len(values))
                if len(values) != rows:
                    raise hdf5_getters.SongFileError(
                        f"/{layout.ARRAYS[name]}/{name} has {len(values)} rows for song "
                        f"{self.row} where the other {event} arrays have {rows}")
            self._arrays[name] = values
        return self._arrays[name]

    def length(self, name):
        """The length of this song's part of array ``name``, without reading it."""
        if name in self._arrays:
            return len(self._arrays[name])
        if _event_of(name) in self._rows_of_event:
            return self._rows_of_event[_event_of(name)]  # an event's arrays have a row each
        dataset, start, stop = self._open(name)
        return (hdf5_getters.array_rows(dataset) if stop is None else stop) - start

    @property
    def timbre(self):
        return self.array("segments_timbre")

    @property
    def pitches(self):
        return self.array("segments_pitches")

    @property
    def segments(self):
        return len(self.timbre)

    # Shared by several families.
    @functools.cached_property
    def timbre_mean(self):
        return _mean(self.timbre)

    @functools.cached_property
    def timbre_centred(self):
        return self.timbre - self.timbre_mean

    @functools.cached_property
    def pitch_mean(self):
        return _mean(self.pitches)


class _Window(_Song):
    """``seconds`` of a song from ``start``: the rows of each of its arrays whose event (segment,
    beat, bar, tatum, section) starts in the window; its duration is the window's."""

    def __init__(self, song, start, seconds):
        self.song = song
        self.start = start
        self.stop = start + seconds
        self.duration = seconds
        self._arrays = {}

    def array(self, name):
        if name not in self._arrays:
            times = self.song.array(_event_of(name) + "_start")
            values = self.song.array(name)
            if len(values) == len(times):
                self._arrays[name] = values[(times >= self.start) & (times < self.stop)]
            else:  # one of them missing (Song.array checked the rest): none is placed in it
                self._arrays[name] = values[:0]
        return self._arrays[name]

    def length(self, name):
        return len(self.array(name))
