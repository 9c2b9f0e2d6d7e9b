"""The h5py reader: official getter names, real files, aggregate and summary files, bad files."""
import math

import h5py

import numpy as np
import pytest

from dataset import hdf5_getters as g
from dataset.sample import write_song_file
from songs import make_song

# Every getter of the dataset authors' hdf5_getters.py.
OFFICIAL_GETTERS = """
get_num_songs get_artist_familiarity get_artist_hotttnesss get_artist_id get_artist_mbid
get_artist_playmeid get_artist_7digitalid get_artist_latitude get_artist_longitude
get_artist_location get_artist_name get_release get_release_7digitalid get_song_id
get_song_hotttnesss get_title get_track_7digitalid get_similar_artists get_artist_terms
get_artist_terms_freq get_artist_terms_weight get_analysis_sample_rate get_audio_md5
get_danceability get_duration get_end_of_fade_in get_energy get_key get_key_confidence
get_loudness get_mode get_mode_confidence get_start_of_fade_out get_tempo get_time_signature
get_time_signature_confidence get_track_id get_segments_start get_segments_confidence
get_segments_pitches get_segments_timbre get_segments_loudness_max
get_segments_loudness_max_time get_segments_loudness_start get_sections_start
get_sections_confidence get_beats_start get_beats_confidence get_bars_start get_bars_confidence
get_tatums_start get_tatums_confidence get_artist_mbtags get_artist_mbtags_count get_year
""".split()


@pytest.fixture
def soul_deep(shared_data):
    path = shared_data / "MillionSongSubset/data/A/A/A/TRAAABD128F429CF47.h5"
    with g.open_h5_file_read(path) as h5:
        yield h5


def test_real_file_reads_as_documented(soul_deep):
    assert g.get_num_songs(soul_deep) == 1
    assert g.get_title(soul_deep) == "Soul Deep"
    assert g.get_artist_name(soul_deep) == "The Box Tops"
    assert g.get_year(soul_deep) == 1969
    assert g.get_tempo(soul_deep) == pytest.approx(121.274)
    assert g.get_segments_timbre(soul_deep).shape == (550, 12)
    assert g.get_segments_pitches(soul_deep).shape == (550, 12)
    assert math.isnan(g.get_song_hotttnesss(soul_deep))
    assert g.get_danceability(soul_deep) == 0.0


def test_every_official_getter_exists_and_returns_python_strings(soul_deep):
    for name in OFFICIAL_GETTERS:
        getter = getattr(g, name)
        value = getter(soul_deep)
        assert not isinstance(value, bytes), name
        if isinstance(value, np.ndarray) and value.dtype == object:
            assert all(isinstance(v, str) for v in value), name
    assert "classic pop and rock" in list(g.get_artist_mbtags(soul_deep))
    assert isinstance(g.get_artist_terms(soul_deep)[0], str)


def test_aggregate_file_slices_each_songs_arrays(tmp_path):
    songs = [make_song("TRAGG000000000001", seed=1, segments=7),
             make_song("TRAGG000000000002", seed=2, segments=3),
             make_song("TRAGG000000000003", seed=3, segments=5)]
    path = tmp_path / "aggregate.h5"
    write_song_file(path, songs)
    with g.open_h5_file_read(path) as h5:
        assert g.get_num_songs(h5) == 3
        for index, song in enumerate(songs):
            assert g.get_track_id(h5, index) == song["track_id"]
            np.testing.assert_array_equal(g.get_segments_timbre(h5, index), song["segments_timbre"])
            np.testing.assert_array_equal(g.get_beats_start(h5, index), song["beats_start"])
            # The official getters read this one from the wrong table for all but the last song.
            assert list(g.get_artist_mbtags(h5, index)) == song["artist_mbtags"]
            assert list(g.get_artist_mbtags_count(h5, index)) == song["artist_mbtags_count"]
            assert list(g.get_artist_terms_weight(h5, index)) == song["artist_terms_weight"]


def test_utf8_names_nan_and_year_zero_round_trip(tmp_path):
    path = tmp_path / "TRUTF000000000001.h5"
    write_song_file(path, [make_song("TRUTF000000000001", artist_name="Björk Guðmundsdóttir",
                                     title="Jóga – 東京", year=0, artist_latitude=float("nan"))])
    with g.open_h5_file_read(path) as h5:
        assert g.get_artist_name(h5) == "Björk Guðmundsdóttir"
        assert g.get_title(h5) == "Jóga – 東京"
        assert g.get_year(h5) == 0
        assert math.isnan(g.get_artist_latitude(h5))


def test_summary_file_has_fields_but_no_arrays(tmp_path):
    path = tmp_path / "summary.h5"
    write_song_file(path, [make_song("TRSUM000000000001"), make_song("TRSUM000000000002", seed=1)],
                    arrays=False)
    with g.open_h5_file_read(path) as h5:
        assert g.get_track_id(h5, 1) == "TRSUM000000000002"
        with pytest.raises(g.SongFileError, match="summary file"):
            g.get_segments_timbre(h5, 0)


def test_song_index_out_of_range_is_a_clear_error(tmp_path):
    path = tmp_path / "one.h5"
    write_song_file(path, [make_song("TRONE000000000001")])
    with g.open_h5_file_read(path) as h5, pytest.raises(g.SongFileError, match="out of range"):
        g.get_tempo(h5, 1)


def test_non_hdf5_and_incomplete_files_raise_song_file_error(tmp_path):
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(g.SongFileError, match="not a readable HDF5 file"):
        g.open_h5_file_read(text)

    partial = tmp_path / "partial.h5"
    with h5py.File(partial, "w") as h5:
        h5.create_group("metadata")
    with pytest.raises(g.SongFileError, match="missing table"):
        g.open_h5_file_read(partial)


def test_song_array_parts_give_every_songs_part_of_an_aggregate_file(tmp_path):
    songs = [make_song("TRAGG000000000001", seed=1, artist_terms=["jazz", "bebop", "swing"],
                       artist_terms_weight=[1.0, 0.5, 0.25]),
             make_song("TRAGG000000000002", seed=2, artist_mbtags=[], artist_mbtags_count=[]),
             make_song("TRAGG000000000003", seed=3)]
    path = tmp_path / "aggregate.h5"
    write_song_file(path, songs)
    names = ("artist_terms", "artist_terms_weight", "artist_mbtags", "artist_mbtags_count")
    with g.open_h5_file_read(path) as h5:
        assert g.song_array_parts(h5, names) == {
            name: [list(song[name]) for song in songs] for name in names}
    assert not g.is_summary_file(path)


def test_a_summary_file_is_recognised_and_its_songs_have_no_array_parts(tmp_path):
    path = tmp_path / "subset_msd_summary_file.h5"
    write_song_file(path, [make_song("TRSUM000000000001"), make_song("TRSUM000000000002")],
                    arrays=False)
    assert g.is_summary_file(path)
    with g.open_h5_file_read(path) as h5:
        assert g.song_array_parts(h5, ["artist_terms"]) == {"artist_terms": [[], []]}
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    assert not g.is_summary_file(text)  # unreadable: not recognised, reading it says why


def test_real_summary_file_is_recognised(shared_data):
    subset = shared_data / "MillionSongSubset"
    assert g.is_summary_file(subset / "AdditionalFiles/subset_msd_summary_file.h5")
    soul_deep = subset / "data/A/A/A/TRAAABD128F429CF47.h5"
    assert not g.is_summary_file(soul_deep)
    with g.open_h5_file_read(soul_deep) as h5:
        parts = g.song_array_parts(h5, ["artist_terms", "artist_mbtags_count"])
    assert parts["artist_terms"][0][:2] == ["blue-eyed soul", "pop rock"]
    assert parts["artist_mbtags_count"] == [[1]]
