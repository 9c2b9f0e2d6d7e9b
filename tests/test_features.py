"""The feature definition: one implementation for one song or a whole file, documented columns,
feature families, and every segment statistic checked against numpy on real songs."""
import math
import re
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from dataset import features, hdf5_getters
from dataset.sample import write_song_file
from conftest import SHARED_DATA
from songs import make_song

COLUMNS_DOC = Path(__file__).resolve().parents[1] / "docs" / "extract.md"
# The 5 real song files exactly as distributed (see ../shared/data/README.md).
UNTOUCHED = ("TRAAABD128F429CF47", "TRAAADZ128F9348C2E", "TRAAAEF128F4273421",
             "TRAAAFD128F92F423A", "TRAAAFP128F931B4E3")


def same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))


def test_whole_file_and_single_song_reads_agree(tmp_path):
    path = tmp_path / "aggregate.h5"
    write_song_file(path, [make_song(f"TRFEA00000000000{i}", seed=i, segments=3 + i)
                           for i in range(4)])
    with hdf5_getters.open_h5_file_read(path) as h5:
        whole = list(features.file_features(h5))
        one_by_one = [features.song_features(h5, i) for i in range(4)]
    assert [row["track_id"] for row in whole] == [f"TRFEA00000000000{i}" for i in range(4)]
    for a, b in zip(whole, one_by_one):
        assert list(a) == list(features.columns())
        assert all(same(a[name], b[name]) for name in a)
    assert whole[2]["timbre_mean_0"] != whole[3]["timbre_mean_0"]
    assert whole[2]["timbre_cov_0_1"] != whole[3]["timbre_cov_0_1"]


def test_documented_column_table_lists_exactly_the_feature_columns():
    # docs/extract.md, "SongCSV.csv columns": "| `timbre_mean_0` … `timbre_mean_11` |" stands for
    # the 12 dimensions and "| `timbre_cov_0_1` … `timbre_cov_10_11` |" for the 66 pairs i < j.
    section = COLUMNS_DOC.read_text(encoding="utf-8").split("## SongCSV.csv columns\n")[1]
    section = section.split("\n#")[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)`(?: … `([a-z0-9_]+)`)?", section, re.M)
    expanded = []
    for first, last in documented:
        if not last:
            expanded.append(first)
        elif first.endswith("_0_1"):
            stem, top = first[:-4], int(last.rsplit("_", 1)[1])
            expanded += [f"{stem}_{i}_{j}" for i in range(top) for j in range(i + 1, top + 1)]
        else:
            stem, top = first[:-2], int(last.rsplit("_", 1)[1])
            expanded += [f"{stem}_{i}" for i in range(top + 1)]
    assert expanded == list(features.columns()) + ["genre", "genre_source", "tags"]


# --- families ---

def test_columns_before_families_keep_their_names_and_order():
    # They are in users' SongCSVs and in their checkpoints' feature_names.
    before = ([f"{stem}_{i}" for stem in ("timbre_mean", "timbre_std", "pitch_mean", "pitch_std")
               for i in range(12)]
              + ["segment_loudness_max_mean", "segment_loudness_max_std",
                 "segment_loudness_start_mean", "segment_loudness_start_std",
                 "segments_per_second", "beats_per_second", "bars_per_second",
                 "tatums_per_second", "sections_per_second"])
    assert list(features.SEGMENT_COLUMNS[:len(before)]) == before
    assert features.columns(segments=False) == features.IDENTITY_COLUMNS + \
        features.SONG_LEVEL_COLUMNS


def test_every_column_has_one_family_and_families_select_columns():
    families = [features.family_of(name) for name in features.columns()]
    assert set(families) == {"identity", "song_level", *features.FAMILIES}
    for family, names in features.FAMILIES.items():
        assert all(features.family_of(name) == family for name in names)
    chosen = features.columns(families=["timbre_covariance", "timbre_stats"])
    segment_part = chosen[len(features.columns(segments=False)):]
    # In the definition's order, whatever the order asked.
    assert segment_part == features.FAMILIES["timbre_stats"] + \
        features.FAMILIES["timbre_covariance"]
    assert features.columns(families=[]) == features.columns(segments=False)
    with pytest.raises(ValueError, match="timbre_nonsense"):
        features.columns(families=["timbre_nonsense"])
    with pytest.raises(ValueError, match="genre"):
        features.family_of("genre")


# --- values against numpy on real songs: each statistic written out plainly ---

def song_arrays(path):
    """Every array and the song-level fields of a single-track file, read with plain h5py."""
    with h5py.File(path, "r") as h5:
        arrays = {name: h5[f"analysis/{name}"][()] for name in h5["analysis"]
                  if name != "songs"}
        song = h5["analysis/songs"][0]
        arrays["duration"] = float(song["duration"])
    return arrays


def expected(song):
    """{family: {column: value}} of the segment families, computed independently of
    dataset.features."""
    timbre, pitches = song["segments_timbre"], song["segments_pitches"]
    peak, start = song["segments_loudness_max"], song["segments_loudness_start"]
    pitch_mean = pitches.mean(axis=0)
    steps = np.diff(timbre, axis=0)
    blocks = np.array([block.mean(axis=0) for block in np.array_split(timbre, 8)])
    values = {
        "timbre_stats": np.concatenate([timbre.mean(axis=0), timbre.std(axis=0)]),
        "pitch_stats": np.concatenate([pitch_mean, pitches.std(axis=0)]),
        "segment_loudness": [peak.mean(), peak.std(), start.mean(), start.std()],
        "event_rates": [len(song[name]) / song["duration"] for name in
                        ("segments_start", "beats_start", "bars_start", "tatums_start",
                         "sections_start")],
        "timbre_covariance": np.cov(timbre, rowvar=False, bias=True)[np.triu_indices(12, 1)],
        "timbre_deltas": np.concatenate([np.abs(steps).mean(axis=0), steps.std(axis=0)]),
        "timbre_lag_deltas": np.abs(timbre[8:] - timbre[:-8]).mean(axis=0),
        "timbre_block_contrast": blocks.std(axis=0),
        "chroma_key_invariant": np.roll(pitch_mean, -np.argmax(pitch_mean)),
    }
    return {family: dict(zip(features.FAMILIES[family], np.asarray(family_values, float),
                             strict=True))
            for family, family_values in values.items()}


@pytest.fixture(scope="module")
def real_songs():
    """(our row, expected values) of each untouched real file; read once for all families."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real MSD data not found at {SHARED_DATA} "
                    "(present in CI, absent in a fresh clone)")
    folder = SHARED_DATA / "MillionSongSubset" / "data" / "A" / "A" / "A"
    songs = []
    for track_id in UNTOUCHED:
        with hdf5_getters.open_h5_file_read(folder / f"{track_id}.h5") as h5:
            row = features.song_features(h5)
        songs.append((row, expected(song_arrays(folder / f"{track_id}.h5"))))
    return songs


def test_every_family_is_checked_against_numpy():
    # Also where the real files are absent: a new family cannot go unchecked.
    assert set(expected(make_song("TRFEA000000000000", segments=30))) == set(features.FAMILIES)


@pytest.mark.parametrize("family", list(features.FAMILIES))
def test_family_matches_numpy_on_real_songs(real_songs, family):
    for row, want in real_songs:
        assert want[family], family
        for column, value in want[family].items():
            assert row[column] == pytest.approx(value, rel=1e-9, abs=1e-9), \
                (row["track_id"], column)


# --- songs with too few segments, beats or sections ---

def song_row(tmp_path, **fields):
    path = tmp_path / "song.h5"
    write_song_file(path, [make_song("TRFEA000000000000", **fields)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero or empty-mean warnings either
        with hdf5_getters.open_h5_file_read(path) as h5:
            return features.song_features(h5)


def empty(row, family):
    return all(math.isnan(row[column]) for column in features.FAMILIES[family])


def filled(row, family):
    return all(not math.isnan(row[column]) for column in features.FAMILIES[family])


def test_a_song_without_segments_has_empty_segment_statistics(tmp_path):
    row = song_row(tmp_path, segments=0)
    for family in features.FAMILIES:
        if family != "event_rates":
            assert empty(row, family), family
    assert row["segments_per_second"] == 0.0 and row["beats_per_second"] > 0


def test_a_song_with_one_segment(tmp_path):
    row = song_row(tmp_path, segments=1)
    # What one segment determines is filled; what needs more segments is empty.
    assert row["timbre_cov_0_1"] == 0.0
    assert row["pitch_rotated_mean_0"] == max(row[f"pitch_mean_{i}"] for i in range(12)) > 0
    for family in ("timbre_deltas", "timbre_lag_deltas", "timbre_block_contrast"):
        assert empty(row, family), family


def test_a_song_with_just_enough_segments_for_lags_and_blocks(tmp_path):
    row = song_row(tmp_path, segments=8)
    assert math.isnan(row["timbre_delta8_abs_mean_0"])  # needs a 9th segment
    assert row["timbre_block_std_0"] == pytest.approx(row["timbre_std_0"])  # a block a segment
    row = song_row(tmp_path, segments=9)
    assert filled(row, "timbre_lag_deltas")


def test_a_song_without_beats_or_sections(tmp_path):
    nothing = np.zeros(0)
    row = song_row(tmp_path, segments=40, **{f"{name}_{part}": nothing
                                             for name in ("beats", "bars", "tatums", "sections")
                                             for part in ("start", "confidence")})
    assert row["beats_per_second"] == row["sections_per_second"] == 0.0
    for family in features.FAMILIES:
        assert filled(row, family), family


# --- crops: the segment families over windows of a song ---

def window(song, start, seconds):
    """A song's arrays cut, with numpy, to the segments and events that start in the window."""
    cut = {"duration": seconds}
    for name, times in (("segments_timbre", "segments_start"),
                        ("segments_pitches", "segments_start"),
                        ("segments_loudness_max", "segments_start"),
                        ("segments_loudness_start", "segments_start"),
                        *((name, name) for name in ("segments_start", "beats_start",
                                                    "bars_start", "tatums_start",
                                                    "sections_start"))):
        inside = (song[times] >= start) & (song[times] < start + seconds)
        cut[name] = song[name][inside]
    return cut


def test_crops_match_numpy_on_windows_of_real_songs():
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real MSD data not found at {SHARED_DATA} "
                    "(present in CI, absent in a fresh clone)")
    path = SHARED_DATA / "MillionSongSubset" / "data" / "A" / "A" / "A" / f"{UNTOUCHED[0]}.h5"
    with hdf5_getters.open_h5_file_read(path) as h5:
        song_row = next(features.file_features(h5, crops=features.Crops(3, 30.0)))
        plain = features.song_features(h5)
    rows = features.crop_rows(song_row)
    song = song_arrays(path)
    assert [row["crop"] for row in rows] == [0, 1, 2, 3]
    assert all(same(rows[0][name], plain[name]) for name in plain)  # the song's own row
    starts = [(song["duration"] - 30.0) * (number + 0.5) / 3 for number in range(3)]
    assert starts[0] > 0 and starts[-1] + 30.0 < song["duration"]  # spread over the song
    for row, start in zip(rows[1:], starts, strict=True):
        for values in expected(window(song, start, 30.0)).values():
            for column, value in values.items():
                assert row[column] == pytest.approx(value, rel=1e-9, abs=1e-9), (start, column)
        assert row["timbre_mean_0"] != plain["timbre_mean_0"]
        for name in features.IDENTITY_COLUMNS + features.SONG_LEVEL_COLUMNS:
            assert same(row[name], plain[name]), name


def test_a_song_no_longer_than_a_crop_gets_none(tmp_path):
    path = tmp_path / "short.h5"
    write_song_file(path, [make_song("TRFEA000000000000", duration=30.0, segments=40),
                           make_song("TRFEA000000000001", seed=1, duration=31.0, segments=40)])
    with hdf5_getters.open_h5_file_read(path) as h5:
        rows = [features.crop_rows(row)
                for row in features.file_features(h5, crops=features.Crops(2, 30.0))]
    assert [[row["crop"] for row in song] for song in rows] == [[0], [0, 1, 2]]
