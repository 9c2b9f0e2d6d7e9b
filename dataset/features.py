"""The per-song feature definition, shared by extract (SongCSV.csv) and predict.

Usage:
    from dataset import features, hdf5_getters
    with hdf5_getters.open_h5_file_read(path) as h5:
        row = features.song_features(h5, songidx=0)   # dict keyed by features.columns()
    features.FAMILIES["timbre_covariance"]             # the columns of one segment family
    features.family_of("timbre_cov_0_1")               # -> "timbre_covariance"
    features.columns(families=["timbre_stats"])        # identity, song-level and chosen families

``song_features`` is the only place a feature is computed. Missing values are ``None`` (year 0,
empty strings) or NaN (unknown floats, statistics a song has too few segments, beats or sections
for); the CSV writer turns both into empty cells.

Segment columns come in named families (``FAMILIES``), each computed by one small function from
one song's arrays. Statistics are over the song's segments and population ones (ddof 0), as
numpy computes them by default. Timbre is the Echo Nest's 12 MFCC-like dimensions; pitch is the
12-bin chroma (C = 0), normalised by the Echo Nest so its strongest bin is 1 in every segment.
"""
import math

import numpy as np

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
DIMENSIONS = 12  # timbre dimensions and pitch classes alike
# (i, j), i < j: the upper triangle of a 12 x 12 matrix, row by row (numpy.triu_indices' order).
PAIRS = tuple((i, j) for i in range(DIMENSIONS) for j in range(i + 1, DIMENSIONS))
PERCENTILES = (10, 90)
LAG = 8  # segments between the timbres compared by timbre_lag_deltas
BLOCKS = 8  # parts of the song compared by timbre_block_contrast


def _per_dimension(*stems):
    return tuple(f"{stem}_{i}" for stem in stems for i in range(DIMENSIONS))


def _per_pair(stem):
    return tuple(f"{stem}_{i}_{j}" for i, j in PAIRS)


# --- the families: name -> (columns, function of a _Song returning their values in order) ---

def _timbre_stats(song):
    return _mean_and_std(song.timbre)


def _pitch_stats(song):
    return _mean_and_std(song.pitches)


def _segment_loudness(song):
    values = []
    for name in ("segments_loudness_max", "segments_loudness_start"):
        array = song.array(name)
        values += [math.nan, math.nan] if not len(array) else [array.mean(), array.std()]
    return values


def _event_rates(song):
    duration = song.duration
    return [song.length(array) / duration if duration and duration > 0 else math.nan
            for array in RATE_ARRAYS.values()]


def _timbre_covariance(song):
    if not song.segments:
        return _nan(len(PAIRS))
    return _upper_triangle(_covariance(song.timbre))


def _timbre_deltas(song):
    if song.segments < 2:
        return _nan(2 * DIMENSIONS)
    steps = np.diff(song.timbre, axis=0)
    return np.concatenate([np.abs(steps).mean(axis=0), steps.std(axis=0)])


def _timbre_lag_deltas(song):
    """Change over LAG segments (about 2 s), where timbre_deltas sees one (about 0.25 s)."""
    if song.segments <= LAG:
        return _nan(DIMENSIONS)
    timbre = song.timbre
    return np.abs(timbre[LAG:] - timbre[:-LAG]).mean(axis=0)


def _timbre_block_contrast(song):
    """The song cut into BLOCKS parts of (nearly) equal segment counts, as numpy.array_split
    cuts it; the spread over the parts of each part's mean timbre: how much the song's sound
    changes from one part to another, without reading the section boundaries."""
    count = song.segments
    if count < BLOCKS:
        return _nan(DIMENSIONS)
    size, longer = divmod(count, BLOCKS)
    index = np.arange(BLOCKS)
    firsts = index * size + np.minimum(index, longer)
    sizes = np.where(index < longer, size + 1, size)
    means = np.add.reduceat(song.timbre, firsts, axis=0) / sizes[:, None]
    return means.std(axis=0)


def _timbre_percentiles(song):
    if not song.segments:
        return _nan(len(PERCENTILES) * DIMENSIONS)
    return _percentiles(song.timbre, PERCENTILES).ravel()


def _chroma_key_invariant(song):
    """The mean chroma rotated so its strongest pitch class comes first: the same for a song
    and its transposition."""
    if not song.segments:
        return _nan(DIMENSIONS)
    mean = song.pitches.mean(axis=0)
    return mean[(np.arange(DIMENSIONS) + mean.argmax()) % DIMENSIONS]


def _chroma_correlation(song):
    """Correlation of the pitch classes over segments: NaN where a class is constant."""
    if not song.segments:
        return _nan(len(PAIRS))
    covariance = _covariance(song.pitches)
    scale = np.sqrt(np.diag(covariance))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = covariance / np.outer(scale, scale)
    return _upper_triangle(correlation)


def _chroma_flux(song):
    """How much the chroma moves between segments, and how spread it is within one: mean
    absolute change per class, and the mean and spread of each segment's chroma entropy."""
    if not song.segments:
        return _nan(3)
    pitches = song.pitches
    flux = np.abs(np.diff(pitches, axis=0)).mean() if song.segments > 1 else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        share = pitches / pitches.sum(axis=1, keepdims=True)
        entropy = -np.where(share > 0, share * np.log(share), 0.0).sum(axis=1)
    return [flux, entropy.mean(), entropy.std()]


def _section_contrast(song):
    """How different the song's sections are: their durations, and the spread over sections of
    each section's mean timbre and mean peak loudness."""
    sections = song.array("sections_start")
    if not len(sections) or not song.segments:
        return _nan(3 + DIMENSIONS)
    durations = np.diff(sections, append=song.duration)
    starts = song.array("segments_start")
    timbre = _group_means(song.timbre, starts, sections)
    loudness = _group_means(song.array("segments_loudness_max")[:, None], starts, sections)
    return [durations.mean(), durations.std(), *timbre.std(axis=0), loudness.std()]


_FAMILY_DEFINITIONS = {
    # The columns SongCSV.csv had before families: names, order and values are kept, since they
    # are in users' SongCSVs and in the feature_names of their checkpoints.
    "timbre_stats": (_per_dimension("timbre_mean", "timbre_std"), _timbre_stats),
    "pitch_stats": (_per_dimension("pitch_mean", "pitch_std"), _pitch_stats),
    "segment_loudness": (("segment_loudness_max_mean", "segment_loudness_max_std",
                          "segment_loudness_start_mean", "segment_loudness_start_std"),
                         _segment_loudness),
    "event_rates": (tuple(RATE_ARRAYS), _event_rates),
    "timbre_covariance": (_per_pair("timbre_cov"), _timbre_covariance),
    "timbre_deltas": (_per_dimension("timbre_delta_abs_mean", "timbre_delta_std"),
                      _timbre_deltas),
    "timbre_lag_deltas": (_per_dimension(f"timbre_delta{LAG}_abs_mean"), _timbre_lag_deltas),
    "timbre_block_contrast": (_per_dimension("timbre_block_std"), _timbre_block_contrast),
    "timbre_percentiles": (_per_dimension(*(f"timbre_p{q}" for q in PERCENTILES)),
                           _timbre_percentiles),
    "chroma_key_invariant": (_per_dimension("pitch_rotated_mean"), _chroma_key_invariant),
    "chroma_correlation": (_per_pair("pitch_corr"), _chroma_correlation),
    "chroma_flux": (("pitch_delta_abs_mean", "pitch_entropy_mean", "pitch_entropy_std"),
                    _chroma_flux),
    "section_contrast": (("section_duration_mean", "section_duration_std",
                          *_per_dimension("section_timbre_std"), "section_loudness_max_std"),
                         _section_contrast),
}


def _mean_and_std(matrix):
    if not len(matrix):
        return _nan(2 * DIMENSIONS)
    return np.concatenate([matrix.mean(axis=0), matrix.std(axis=0)])


def _upper_triangle(matrix):
    return matrix[_UPPER_ROWS, _UPPER_COLUMNS]


_UPPER_ROWS = [i for i, _ in PAIRS]
_UPPER_COLUMNS = [j for _, j in PAIRS]


def _covariance(matrix):
    """Population covariance of the columns of a (rows, 12) matrix with at least one row."""
    centred = matrix - matrix.mean(axis=0)
    return centred.T @ centred / len(matrix)


def _percentiles(values, percentiles):
    """numpy.percentile(values, percentiles, axis=0) (linear interpolation), by a partial sort
    around the needed ranks only: a third of percentile's time on a song's segments."""
    rank = np.asarray(percentiles, dtype=float) / 100 * (len(values) - 1)
    below = np.floor(rank).astype(int)
    above = np.minimum(below + 1, len(values) - 1)
    ordered = np.partition(values, np.union1d(below, above), axis=0)
    weight = (rank - below).reshape((-1,) + (1,) * (values.ndim - 1))
    return ordered[below] * (1 - weight) + ordered[above] * weight


def _group_means(values, times, boundaries):
    """Mean of ``values``' rows per interval between sorted ``boundaries`` (rows before the
    first boundary form a group of their own; empty intervals none)."""
    group = np.searchsorted(boundaries, times, side="right")
    firsts = np.flatnonzero(np.diff(group, prepend=-1))
    sizes = np.diff(firsts, append=len(values))
    return np.add.reduceat(values, firsts, axis=0) / sizes[:, None]


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
        features.update(segment_features(h5, tables, row, features["duration"], features["key"]))
    return features


def segment_features(h5, tables, row, duration, key=0):
    """The segment families' columns of the song at ``row`` of ``tables``, as a dict."""
    song = _Song(h5, tables, row, duration, key)
    values = np.concatenate([np.asarray(compute(song), dtype=np.float64)
                             for _, compute in _FAMILY_DEFINITIONS.values()])
    # One conversion to Python floats, what the CSV and Parquet writers expect.
    return dict(zip(SEGMENT_COLUMNS, values.tolist()))


class _Song:
    """One song's arrays, each read once, when a family first asks for it."""

    def __init__(self, h5, tables, row, duration, key):
        self.h5 = h5
        self.tables = tables
        self.row = row
        self.duration = duration
        self.key = key
        self._arrays = {}

    def _open(self, name):
        group = hdf5_getters.ARRAYS[name]
        dataset = hdf5_getters.open_dataset(self.h5, f"{group}/{name}")
        idx = self.tables[group][hdf5_getters.idx_column(name)]
        stop = int(idx[self.row + 1]) if self.row + 1 < len(idx) else None
        return dataset, int(idx[self.row]), stop

    def array(self, name):
        """This song's part of array ``name``."""
        if name not in self._arrays:
            self._arrays[name] = hdf5_getters.read_rows(*self._open(name))
        return self._arrays[name]

    def length(self, name):
        """The length of this song's part of array ``name``, without reading it."""
        if name in self._arrays:
            return len(self._arrays[name])
        dataset, start, stop = self._open(name)
        return (dataset.shape[0] if stop is None else stop) - start

    @property
    def timbre(self):
        return self.array("segments_timbre")

    @property
    def pitches(self):
        return self.array("segments_pitches")

    @property
    def segments(self):
        return len(self.timbre)

