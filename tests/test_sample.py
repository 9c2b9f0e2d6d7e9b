"""The generated demo sample: real MSD layout and readers, tagtraum-style labels, determinism."""
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from dataset import features, hdf5_getters, sample

TRACK_ID = re.compile(r"TR[A-Z]{5}GEN\d{8}")


def read_sample(root):
    """{track_id: feature dict} of every .h5 file under root/data, and their paths."""
    rows, paths = {}, {}
    for path in sorted(Path(root, "data").rglob("*.h5")):
        with hdf5_getters.open_h5_file_read(path) as h5:
            row = features.song_features(h5)
        rows[row["track_id"]] = row
        paths[row["track_id"]] = path
    return rows, paths


def read_cls(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    labels = dict(line.split("\t") for line in lines if not line.startswith("#"))
    return header, labels


def same_row(a, b):
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
        for k in a)


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory):
    dest = tmp_path_factory.mktemp("gen") / "sample"
    labels = sample.generate_sample(dest, songs_per_genre=10, seed=0)
    rows, paths = read_sample(dest)
    return dest, labels, rows, paths


def test_files_sit_in_the_msd_layout_and_read_with_our_getters(small_sample):
    dest, labels, rows, paths = small_sample
    assert len(rows) == 10 * len(sample.GENRE_PROFILES) == len(labels)
    for track_id, path in paths.items():
        assert TRACK_ID.fullmatch(track_id)
        assert path == dest / "data" / track_id[2] / track_id[3] / track_id[4] / f"{track_id}.h5"
        row = rows[track_id]
        assert row["title"].startswith("Generated song ")
        assert row["artist_name"].startswith("Generated artist ")
        assert all(not math.isnan(row[c]) for c in features.SEGMENT_COLUMNS)


def test_label_file_is_tagtraum_cls_marked_generated(small_sample):
    dest, labels, rows, _ = small_sample
    header, cls_labels = read_cls(dest / sample.LABEL_FILE)
    assert any("GENERATED" in line for line in header)
    assert cls_labels == labels
    assert set(cls_labels) == set(rows)
    per_genre = defaultdict(int)
    for genre in cls_labels.values():
        per_genre[genre] += 1
    assert per_genre == {genre: 10 for genre in sample.GENRE_PROFILES}


def test_artists_have_several_songs_and_one_genre_each(small_sample):
    _, labels, rows, _ = small_sample
    genres_of_artist = defaultdict(set)
    songs_of_artist = defaultdict(int)
    for track_id, row in rows.items():
        genres_of_artist[row["artist_id"]].add(labels[track_id])
        songs_of_artist[row["artist_id"]] += 1
    assert all(len(genres) == 1 for genres in genres_of_artist.values())
    assert min(songs_of_artist.values()) >= 2
    assert len(genres_of_artist) == 2 * len(sample.GENRE_PROFILES)


def test_fields_are_realistic_and_consistent(small_sample):
    _, _, rows, paths = small_sample
    values = list(rows.values())
    assert any(row["year"] is None for row in values)          # year 0 = unknown, as in the MSD
    assert any(row["year"] is not None for row in values)
    assert any(math.isnan(row["song_hotttnesss"]) for row in values)
    assert any(not row["artist_name"].isascii() for row in values)
    for row in values:
        # one beat per tempo period, over (almost) the whole song
        assert row["beats_per_second"] == pytest.approx(row["tempo"] / 60, rel=0.1)
        assert row["tatums_per_second"] == pytest.approx(2 * row["beats_per_second"], rel=0.01)
    with hdf5_getters.open_h5_file_read(next(iter(paths.values()))) as h5:
        duration = hdf5_getters.get_duration(h5)
        for name in ("segments_start", "beats_start", "bars_start", "sections_start"):
            starts = hdf5_getters.get_array(h5, name)
            assert np.all(np.diff(starts) > 0) and 0 <= starts[0] and starts[-1] < duration


def test_genres_are_learnable_from_segment_features(small_sample):
    # Nearest genre centroid, trained on half of each genre's artists, tested on the others.
    _, labels, rows, _ = small_sample
    columns = [c for c in features.SEGMENT_COLUMNS if c.startswith("timbre_mean")]
    artists_of_genre = defaultdict(set)
    for track_id, row in rows.items():
        artists_of_genre[labels[track_id]].add(row["artist_id"])
    test_artists = {min(artists) for artists in artists_of_genre.values()}
    train = [r for r in rows.values() if r["artist_id"] not in test_artists]
    test = [r for r in rows.values() if r["artist_id"] in test_artists]

    def matrix(part):
        return np.array([[r[c] for c in columns] for r in part])

    scale = matrix(train).std(axis=0)
    centroids = {genre: matrix([r for r in train if labels[r["track_id"]] == genre]).mean(axis=0)
                 for genre in sample.GENRE_PROFILES}
    predicted = [min(centroids, key=lambda g: np.sum(((x - centroids[g]) / scale) ** 2))
                 for x in matrix(test)]
    accuracy = np.mean([p == labels[r["track_id"]] for p, r in zip(predicted, test)])
    assert accuracy > 0.4  # chance is 1/7


def test_same_seed_same_sample_any_workers_other_seed_differs(tmp_path, small_sample):
    _, labels, rows, _ = small_sample
    again = sample.generate_sample(tmp_path / "again", songs_per_genre=10, seed=0, workers=2)
    again_rows, _ = read_sample(tmp_path / "again")
    assert again == labels
    assert all(same_row(rows[t], again_rows[t]) for t in rows)
    other = sample.generate_sample(tmp_path / "other", songs_per_genre=10, seed=1)
    assert not set(other) & set(labels)


def test_regenerating_replaces_an_earlier_sample_entirely(tmp_path):
    dest = tmp_path / "sample"
    first = sample.generate_sample(dest, songs_per_genre=1, seed=0)
    second = sample.generate_sample(dest, songs_per_genre=1, seed=1)
    rows, _ = read_sample(dest)
    assert set(rows) == set(second) and not set(rows) & set(first)
    assert [p.name for p in tmp_path.iterdir()] == ["sample"]  # no temporary folder left


def test_cli_refuses_a_folder_that_is_not_a_sample(tmp_path, capsys):
    user_file = tmp_path / "mine.txt"
    user_file.write_text("keep me")
    assert sample.main(["--dest", str(tmp_path), "--songs-per-genre", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    assert user_file.read_text() == "keep me"


def test_cli_rejects_a_non_positive_size(tmp_path, capsys):
    assert sample.main(["--dest", str(tmp_path / "s"), "--songs-per-genre", "0"]) == 2
    assert "--songs-per-genre" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_cli_reports_what_it_wrote(tmp_path, capsys):
    assert sample.main(["--dest", str(tmp_path / "s"), "--songs-per-genre", "1",
                        "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {len(sample.GENRE_PROFILES)} GENERATED songs" in out
    assert len(list((tmp_path / "s" / "data").rglob("*.h5"))) == len(sample.GENRE_PROFILES)


def test_pytables_reads_the_files(small_sample):
    tables = pytest.importorskip("tables", reason="PyTables is only in requirements-bench.txt")
    _, _, rows, paths = small_sample
    track_id, path = next(iter(paths.items()))
    with tables.open_file(str(path)) as h5:
        assert h5.root.analysis.songs.cols.tempo[0] == rows[track_id]["tempo"]
        assert h5.root.analysis.songs.cols.track_id[0].decode() == track_id
        assert h5.root.analysis.segments_timbre.shape[1] == 12
