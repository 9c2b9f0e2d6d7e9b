"""Write files in the Million Song Dataset's HDF5 layout (for the demo sample, tests and benchmarks).

Usage:
    from dataset.sample import write_song_file
    write_song_file("TRXXX.h5", [{"track_id": "TRXXX", "tempo": 120.0,
                                 "segments_timbre": np.zeros((10, 12))}])

The files match the real ones as h5py sees them: gzip-compressed, chunked compound tables with
fields in alphabetical order, fixed-length byte strings, growable arrays, PyTables attributes (so
PyTables reads them too) and the ``idx_*`` mechanism for aggregate files. One song makes a
single-track file, several make an aggregate file, ``arrays=False`` makes a summary file.
"""
import h5py
import numpy as np

from dataset.hdf5_getters import ARRAYS, IDX_COLUMN

TABLE_DTYPES = {
    "metadata": [
        ("analyzer_version", "S32"), ("artist_7digitalid", "<i4"), ("artist_familiarity", "<f8"),
        ("artist_hotttnesss", "<f8"), ("artist_id", "S32"), ("artist_latitude", "<f8"),
        ("artist_location", "S1024"), ("artist_longitude", "<f8"), ("artist_mbid", "S40"),
        ("artist_name", "S1024"), ("artist_playmeid", "<i4"), ("genre", "S1024"),
        ("idx_artist_terms", "<i4"), ("idx_similar_artists", "<i4"), ("release", "S1024"),
        ("release_7digitalid", "<i4"), ("song_hotttnesss", "<f8"), ("song_id", "S32"),
        ("title", "S1024"), ("track_7digitalid", "<i4"),
    ],
    "analysis": [
        ("analysis_sample_rate", "<i4"), ("audio_md5", "S32"), ("danceability", "<f8"),
        ("duration", "<f8"), ("end_of_fade_in", "<f8"), ("energy", "<f8"),
        ("idx_bars_confidence", "<i4"), ("idx_bars_start", "<i4"),
        ("idx_beats_confidence", "<i4"), ("idx_beats_start", "<i4"),
        ("idx_sections_confidence", "<i4"), ("idx_sections_start", "<i4"),
        ("idx_segments_confidence", "<i4"), ("idx_segments_loudness_max", "<i4"),
        ("idx_segments_loudness_max_time", "<i4"), ("idx_segments_loudness_start", "<i4"),
        ("idx_segments_pitches", "<i4"), ("idx_segments_start", "<i4"),
        ("idx_segments_timbre", "<i4"), ("idx_tatums_confidence", "<i4"),
        ("idx_tatums_start", "<i4"), ("key", "<i4"), ("key_confidence", "<f8"),
        ("loudness", "<f8"), ("mode", "<i4"), ("mode_confidence", "<f8"),
        ("start_of_fade_out", "<f8"), ("tempo", "<f8"), ("time_signature", "<i4"),
        ("time_signature_confidence", "<f8"), ("track_id", "S32"),
    ],
    "musicbrainz": [("idx_artist_mbtags", "<i4"), ("year", "<i4")],
}
TABLE_TITLES = {"metadata": "table of metadata for one song",
                "analysis": "table of Echo Nest analysis for one song",
                "musicbrainz": "table of data coming from MusicBrainz"}
GROUP_TITLES = {"metadata": "metadata about the song", "analysis": "Echo Nest analysis of the song",
                "musicbrainz": "data about the song coming from MusicBrainz"}
ARRAY_DTYPES = {"similar_artists": "S20", "artist_terms": "S256", "artist_mbtags": "S256",
                "artist_mbtags_count": "<i4", "segments_pitches": ("<f8", 12),
                "segments_timbre": ("<f8", 12)}
# The filter byte string PyTables stores for complevel 1, zlib, shuffle.
_PYTABLES_FILTERS = np.int64(65793)


def write_song_file(path, songs, arrays=True):
    """Write ``songs`` (dicts of field and array values; missing ones default to 0 / b'' /
    empty) to ``path`` as an MSD HDF5 file."""
    with h5py.File(path, "w") as h5:
        _attrs(h5, CLASS="GROUP", PYTABLES_FORMAT_VERSION="2.0", TITLE="H5 Song File",
               VERSION="1.0")
        for group in TABLE_DTYPES:
            node = h5.create_group(group)
            _attrs(node, CLASS="GROUP", TITLE=GROUP_TITLES[group], VERSION="1.0")
            node.attrs["FILTERS"] = _PYTABLES_FILTERS
        rows = {group: np.zeros(len(songs), dtype=TABLE_DTYPES[group]) for group in TABLE_DTYPES}
        written_idx = set()
        for name, group in ARRAYS.items():
            if not arrays:
                continue
            parts = [_as_array(name, song.get(name)) for song in songs]
            column = IDX_COLUMN.get(name, f"idx_{name}")
            if column not in written_idx:
                # A family sharing one idx column (artist_terms, _freq, _weight) has equal
                # lengths; its first member sets the column.
                written_idx.add(column)
                rows[group][column] = np.cumsum([0] + [len(p) for p in parts[:-1]])
            _write_array(h5[group], name, np.concatenate(parts) if parts else _empty(name))
        for index, song in enumerate(songs):
            for group, table in rows.items():
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
    spec = ARRAY_DTYPES.get(name, "<f8")
    return spec[0] if isinstance(spec, tuple) else spec


def _empty(name):
    spec = ARRAY_DTYPES.get(name, "<f8")
    shape = (0, spec[1]) if isinstance(spec, tuple) else (0,)
    return np.zeros(shape, dtype=_dtype(name))


def _attrs(node, **values):
    for key, value in values.items():
        node.attrs[key] = np.bytes_(value)
