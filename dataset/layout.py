"""The Million Song Dataset's HDF5 song-file layout, declared once: what hdf5_getters reads and
what sample.write_song_file writes.

Usage:
    from dataset import layout
    for group in layout.GROUPS:                       # /metadata, /analysis, /musicbrainz
        layout.SONG_TABLES[group]                     # /<group>/songs: [(field, on-disk type)]
        layout.song_fields(group)                     # its value fields (no idx_* field)
    layout.GROUP_OF_FIELD["tempo"]                    # -> "analysis": /analysis/songs
    layout.ARRAYS["segments_timbre"]                  # -> "analysis": /analysis/segments_timbre
    layout.idx_column("artist_terms_freq")            # -> "idx_artist_terms"

Each group holds a song table (one row per song) and per-song arrays, concatenated over the
file's songs: a song's part of an array starts at its row's ``idx_*`` field and ends at the next
row's. A summary file has the song tables only. Types are numpy's spelling of the real files':
fixed-length byte strings (``S32``), little-endian int32 and float64.
"""

GROUPS = ("metadata", "analysis", "musicbrainz")

# The song table's fields in each group, in the file's order (alphabetical, as PyTables writes).
SONG_TABLES = {
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

# Per-song array -> the group holding it (and the song table with its idx_ column).
ARRAYS = {
    "similar_artists": "metadata", "artist_terms": "metadata",
    "artist_terms_freq": "metadata", "artist_terms_weight": "metadata",
    "segments_start": "analysis", "segments_confidence": "analysis",
    "segments_pitches": "analysis", "segments_timbre": "analysis",
    "segments_loudness_max": "analysis", "segments_loudness_max_time": "analysis",
    "segments_loudness_start": "analysis", "sections_start": "analysis",
    "sections_confidence": "analysis", "beats_start": "analysis", "beats_confidence": "analysis",
    "bars_start": "analysis", "bars_confidence": "analysis", "tatums_start": "analysis",
    "tatums_confidence": "analysis",
    "artist_mbtags": "musicbrainz", "artist_mbtags_count": "musicbrainz",
}
# An array's on-disk type when it is not float64; (type, width) for one of rows (12 per segment).
ARRAY_TYPES = {"similar_artists": "S20", "artist_terms": "S256", "artist_mbtags": "S256",
               "artist_mbtags_count": "<i4", "segments_pitches": ("<f8", 12),
               "segments_timbre": ("<f8", 12)}
# The official idx_ column for the artist_terms family is idx_artist_terms, shared by the three.
IDX_COLUMN = {"artist_terms_freq": "idx_artist_terms", "artist_terms_weight": "idx_artist_terms",
              "artist_mbtags_count": "idx_artist_mbtags"}


def idx_column(name):
    """The song-table column holding where each song's part of array ``name`` starts."""
    return IDX_COLUMN.get(name, f"idx_{name}")


def song_fields(group):
    """The fields of ``group``'s song table that hold a song's value: all but the idx_ columns."""
    return tuple(name for name, _ in SONG_TABLES[group] if not name.startswith("idx_"))


# Song-table field -> the group whose table holds it (track_id is analysis's, year musicbrainz's).
GROUP_OF_FIELD = {name: group for group in GROUPS for name in song_fields(group)}
