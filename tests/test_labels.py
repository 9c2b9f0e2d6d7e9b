"""Label sources as extract uses them: .cls files, the Last.fm dataset (folder, zip, SQLite), the
last.fm web API (against a local imitation), the artist tags in the song files, several sources in
order, and 'none'."""
import argparse
import io
import json
import shutil
import sqlite3
import zipfile

import pytest

from dataset import genres, labels, lastfm, songfiles
from dataset.sample import write_song_file
from fake_lastfm import FakeLastfm, Reply, toptags
from songs import make_song

KEY = "SECRETKEY0123456789abcdef"
SAMPLE_IDS = ["TRAAABD128F429CF47", "TRAAADZ128F9348C2E", "TRAAAEF128F4273421",
              "TRAAAFD128F92F423A"]
EXPECTED_FROM_TAGS = {  # the four real Last.fm dataset samples, through the shipped vocabulary
    "TRAAABD128F429CF47": "r&b/soul",  # 60s 100, soul 52, pop 41, rock 35
    "TRAAADZ128F9348C2E": "latin",
    "TRAAAEF128F4273421": "rock",      # new wave
    "TRAAAFD128F92F423A": "punk",      # punk rock 100, punk 60
}


def parse(argv):
    parser = argparse.ArgumentParser()
    labels.add_arguments(parser)
    return parser.parse_args(argv)


def songs_of(track_ids):
    return [{"track_id": track_id, "artist_name": None, "title": None} for track_id in track_ids]


def label_all(source_path, track_ids):
    with labels.open_source(str(source_path)) as source:
        return source.label(songs_of(track_ids)), source.summary()


def test_none_gives_empty_label_columns():
    with labels.open_source("none") as source:
        assert source.label(songs_of(["TRAAABD128F429CF47"])) == [
            {"genre": "", "genre_source": "", "tags": ""}]
        assert source.summary() == ""


def test_tagtraum_genres_pass_through_as_they_are(shared_data):
    cls = shared_data / "tagtraum" / "msd_tagtraum_cd1.cls"
    rows, summary = label_all(cls, ["TRAAABD128F429CF47", "TRAAADZ128F9348C2E"])
    assert rows == [{"genre": "Pop_Rock", "genre_source": "cls:msd_tagtraum_cd1", "tags": ""},
                    {"genre": "", "genre_source": "", "tags": ""}]
    assert summary == "labels from msd_tagtraum_cd1.cls: 1 labelled, 1 unlabelled, 0 failed"


def test_a_cls_line_with_a_minority_genre_keeps_the_majority(tmp_path):
    cls = tmp_path / "magd.cls"
    cls.write_text("# MAGD\nTRAAAAA128F00000AA\tJazz\tVocal\r\nTRAAAAB128F00000AB\tRap\n")
    rows, _ = label_all(cls, ["TRAAAAA128F00000AA", "TRAAAAB128F00000AB"])
    assert [row["genre"] for row in rows] == ["Jazz", "Rap"]


@pytest.mark.parametrize("content, complaint", [
    (b"TRAAAAA128F00000AA Jazz\n", r"magd.cls:1: expected TRACK_ID<TAB>genre"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a readable genre file"),
    (b"", "no TRACK_ID<TAB>genre line"),
    (b"# only a comment\n\n", "no TRACK_ID<TAB>genre line"),
])
def test_a_file_that_is_no_label_source_is_refused(tmp_path, content, complaint):
    path = tmp_path / "magd.cls"
    path.write_bytes(content)
    with pytest.raises(labels.LabelError, match=complaint):
        labels.open_source(str(path))


def test_a_missing_path_is_refused(tmp_path):
    with pytest.raises(labels.LabelError, match="no such file or folder"):
        labels.open_source(str(tmp_path / "lastfm_train"))


def test_the_last_fm_dataset_folder_labels_the_real_samples(shared_data):
    rows, summary = label_all(shared_data / "lastfm_subset", SAMPLE_IDS + ["TRZZZZZ128F00000ZZ"])
    assert [row["genre"] for row in rows] == [EXPECTED_FROM_TAGS[t] for t in SAMPLE_IDS] + [""]
    gob = rows[SAMPLE_IDS.index("TRAAAFD128F92F423A")]
    assert gob == {"genre": "punk", "genre_source": "lastfm-dataset",
                   "tags": "punk rock:100;punk:60"}
    box_tops = genres.parse_tags(rows[0]["tags"])
    assert len(box_tops) == genres.TAGS_KEPT and box_tops[:2] == [("60s", 100), ("soul", 52)]
    assert summary.endswith("4 labelled, 1 unlabelled, 0 failed")


def _sample_files(shared_data):
    return {t: shared_data / "lastfm_subset" / "A" / "A" / "A" / f"{t}.json" for t in SAMPLE_IDS}


def test_zip_sqlite_and_a_train_test_folder_agree_with_the_folder(shared_data, tmp_path):
    samples = _sample_files(shared_data)
    archive = tmp_path / "lastfm_subset.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for track_id, path in samples.items():
            zipped.write(path, f"lastfm_subset/A/A/A/{track_id}.json")
    database = tmp_path / "lastfm_tags.db"
    with sqlite3.connect(database) as db:  # the official schema: tid_tag holds ROWIDs
        db.executescript("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT);"
                         "CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT);"
                         "CREATE INDEX idx_tid ON tids (tid);")
        db.execute("INSERT INTO tids VALUES ('TRYYYYY128F00000YY')")  # in the dataset, no tags
        for track_id, path in samples.items():
            tid = db.execute("INSERT INTO tids VALUES (?)", (track_id,)).lastrowid
            for name, count in json.loads(path.read_text(encoding="utf-8"))["tags"]:
                row = db.execute("SELECT ROWID FROM tags WHERE tag = ?", (name,)).fetchone()
                if row is None:
                    row = (db.execute("INSERT INTO tags VALUES (?)", (name,)).lastrowid,)
                tag = row[0]
                db.execute("INSERT INTO tid_tag VALUES (?, ?, ?)", (tid, tag, float(count)))
    split = tmp_path / "lastfm"
    for part, track_ids in (("lastfm_train", SAMPLE_IDS[:2]), ("lastfm_test", SAMPLE_IDS[2:])):
        (split / part / "A" / "A" / "A").mkdir(parents=True)
        for track_id in track_ids:
            shutil.copy(samples[track_id], split / part / "A" / "A" / "A")
    wanted = SAMPLE_IDS + ["TRYYYYY128F00000YY", "TRZZZZZ128F00000ZZ"]
    from_folder, _ = label_all(shared_data / "lastfm_subset", wanted)
    for source in (archive, database, split):
        assert label_all(source, wanted)[0] == from_folder


def test_a_damaged_json_file_fails_that_song_only(shared_data, tmp_path):
    folder = tmp_path / "lastfm_train" / "A" / "A" / "A"
    folder.mkdir(parents=True)
    shutil.copy(_sample_files(shared_data)["TRAAAFD128F92F423A"], folder)
    (folder / "TRAAABD128F429CF47.json").write_text('{"tags": [["soul", ')
    rows, summary = label_all(tmp_path / "lastfm_train",
                              ["TRAAABD128F429CF47", "TRAAAFD128F92F423A"])
    assert [row["genre"] for row in rows] == ["", "punk"]
    assert summary.endswith("1 labelled, 0 unlabelled, 1 failed")


def test_an_empty_folder_or_zip_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(labels.LabelError, match="no Last.fm dataset JSON files"):
        label_all(tmp_path / "empty", [])
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zipped:
        zipped.writestr("README.txt", "nothing")
    with pytest.raises(labels.LabelError, match=r"no \.json file"):
        label_all(tmp_path / "empty.zip", [])


@pytest.fixture
def server():
    with FakeLastfm(KEY) as fake:
        yield fake


SONGS = [
    {"track_id": "T1", "artist_name": "Gob", "title": "Face the Ashes"},      # track tags
    {"track_id": "T2", "artist_name": "Gob", "title": "Bones"},               # unknown track
    {"track_id": "T3", "artist_name": "Sigur Rós", "title": "Hoppípolla"},    # no genre in tags
    {"track_id": "T4", "artist_name": None, "title": "Untitled"},            # nothing to ask
    {"track_id": "T5", "artist_name": "Nobody", "title": None},              # unknown artist
]


def script_last_fm(server):
    server.script("track.getTopTags", "Gob", "Face the Ashes",
                  Reply(body=toptags([("punk rock", 100), ("punk", 60)])))
    server.script("artist.getTopTags", "Gob", "",
                  Reply(body=toptags([("punk", 100), ("rock", 40)])))
    server.script("track.getTopTags", "Sigur Rós", "Hoppípolla",
                  Reply(status=200, body=toptags([("beautiful", 100), ("icelandic", 80)])))
    server.script("artist.getTopTags", "Sigur Rós", "",
                  Reply(body=toptags([("post-rock", 100), ("ambient", 70)])))


def test_last_fm_labels_by_track_then_artist_and_a_rerun_asks_nothing(
        server, tmp_path, monkeypatch):
    script_last_fm(server)
    monkeypatch.setenv("LASTFM_API_KEY", KEY)
    settings = {"lastfm_url": server.url, "cache": tmp_path / "cache.sqlite"}
    with labels.open_source("lastfm", **settings) as source:
        rows = source.label(SONGS)
        summary = source.summary()
    assert rows == [
        {"genre": "punk", "genre_source": "lastfm-track", "tags": "punk rock:100;punk:60"},
        {"genre": "punk", "genre_source": "lastfm-artist", "tags": "punk:100;rock:40"},
        {"genre": "rock", "genre_source": "lastfm-artist", "tags": "post-rock:100;ambient:70"},
        {"genre": "", "genre_source": "", "tags": ""},
        {"genre": "", "genre_source": "", "tags": ""},
    ]
    # 3 track queries, then one per artist (Gob once for both of its songs)
    assert len(server.requests) == 6 and server.count(method="artist.getTopTags", artist="Gob") == 1
    assert summary == ("labels from last.fm: 3 labelled (1 by track tags, 2 by artist tags), "
                       "2 unlabelled, 0 failed; 6 requests, 0 cache hits")
    with labels.open_source("lastfm", **settings) as again:
        assert again.label(SONGS) == rows
        assert again.summary().endswith("0 requests, 6 cache hits")
    assert len(server.requests) == 6


def test_failures_are_counted_and_the_key_appears_nowhere(server, tmp_path, capsys):
    script_last_fm(server)
    server.script("track.getTopTags", "Gob", "Bones", Reply(status=500, body=f"oops {KEY}"))
    cache = tmp_path / "cache.sqlite"
    client = lastfm.Client(KEY, lastfm.Cache(cache), url=server.url, rate=1000,
                           sleep=lambda seconds: None)
    progress = io.StringIO()
    with labels.LastfmLabels(client, genres.load_vocabulary(), 10, threads=4,
                             progress=progress) as source:
        rows = source.label(SONGS)
        summary = source.summary()
    assert [row["genre"] for row in rows] == ["punk", "", "rock", "", ""]
    assert "1 failed; 10 requests" in summary  # Bones: 6 attempts, no artist fallback
    shown = progress.getvalue() + summary + "".join(capsys.readouterr())
    assert "req/s" in progress.getvalue() and "cached" in progress.getvalue()
    written = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert KEY not in shown and KEY.encode() not in written


def test_a_refused_key_is_a_label_error_without_the_key(server, tmp_path):
    with labels.open_source("lastfm", lastfm_url=server.url, lastfm_api_key="WRONG" + KEY,
                            cache=tmp_path / "cache.sqlite") as source:
        with pytest.raises(labels.LabelError, match="error 10") as refused:
            source.label(SONGS)
    assert KEY not in str(refused.value)
    assert len(server.requests) <= 3  # the tracks already under way, nothing after


def test_a_cache_that_is_not_sqlite_is_a_label_error(tmp_path):
    cache = tmp_path / "cache.sqlite"
    cache.write_text("my notes, not a database " * 100)
    with pytest.raises(labels.LabelError, match="cannot use .* as the last.fm cache"):
        labels.open_source("lastfm", lastfm_api_key=KEY, cache=cache)


def test_last_fm_without_a_key_is_a_label_error(monkeypatch):
    monkeypatch.delenv("LASTFM_API_KEY", raising=False)
    with pytest.raises(labels.LabelError, match="LASTFM_API_KEY"):
        labels.open_source("lastfm")


@pytest.mark.parametrize("option", [["--rate", "6"], ["--rate", "0"], ["--min-tag-count", "-1"],
                                    ["--lastfm-threads", "0"]])
def test_out_of_range_settings_are_usage_errors(option, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse(option)
    assert exit_.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_a_broken_vocabulary_is_a_label_error(shared_data, tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    vocabulary.write_text("punk\n")
    with pytest.raises(labels.LabelError, match="vocabulary.tsv:1"):
        labels.open_source(str(shared_data / "lastfm_subset"), genre_vocabulary=vocabulary)


def songs_from_files(paths, source):
    """The songs of ``paths`` as extract hands them to ``source``: with the arrays it needs."""
    return [row for path in paths
            for row in songfiles.read_song_file(path, segments=False,
                                              song_arrays=source.song_arrays)]


def real_files(shared_data, track_ids):
    return [shared_data / "MillionSongSubset" / "data" / t[2] / t[3] / t[4] / f"{t}.h5"
            for t in track_ids]


def test_artist_tags_in_real_song_files_label_offline(shared_data):
    files = real_files(shared_data, SAMPLE_IDS)
    with labels.open_source("echonest-terms") as terms:
        rows = terms.label(songs_from_files(files, terms))
        summary = terms.summary()
    # Box Tops: pop rock 85, soft rock 79, classic rock 78, ... outvote blue-eyed soul 100 and
    # soul 78; Gob: pop punk 100, ska punk 96, punk pop 94, ...
    assert [row["genre"] for row in rows] == ["rock", "latin", "rock", "punk"]
    assert {row["genre_source"] for row in rows} == {"echonest-terms"}
    assert rows[0]["tags"].startswith("blue-eyed soul:100;pop rock:85;blues-rock:83;")
    assert len(genres.parse_tags(rows[0]["tags"])) == genres.TAGS_KEPT
    assert summary == ("labels from echonest-terms in the song files: 4 labelled, 0 unlabelled, "
                       "0 failed")

    with labels.open_source("musicbrainz-tags") as mbtags:
        rows = mbtags.label(songs_from_files(files, mbtags))
    assert rows[0] == {"genre": "rock", "genre_source": "musicbrainz-tags",
                       "tags": "classic pop and rock:100"}
    assert rows[3] == {"genre": "", "genre_source": "", "tags": ""}  # Gob has no MusicBrainz tag


def test_several_sources_label_each_song_from_the_first_that_knows_it(shared_data):
    # tagtraum labels the first only, the Last.fm sample the first two, the terms all three.
    ids = ["TRAAABD128F429CF47", "TRAAADZ128F9348C2E", "TRAAAFP128F931B4E3"]
    cls = shared_data / "tagtraum" / "msd_tagtraum_cd1.cls"
    with labels.open_source(f"{cls},{shared_data / 'lastfm_subset'},echonest-terms") as source:
        assert source.song_arrays == ("artist_terms", "artist_terms_weight")
        rows = source.label(songs_from_files(real_files(shared_data, ids), source))
        summary = source.summary()
    assert [(row["genre"], row["genre_source"]) for row in rows] == [
        ("Pop_Rock", "cls:msd_tagtraum_cd1"), ("latin", "lastfm-dataset"),
        ("hip-hop", "echonest-terms")]
    assert rows[2]["tags"] == "rap:100;def jam:64"
    assert summary.splitlines()[0] == (
        "labels from msd_tagtraum_cd1.cls, then the Last.fm dataset "
        f"{shared_data / 'lastfm_subset'}, then echonest-terms in the song files: 3 labelled "
        "(1 cls:msd_tagtraum_cd1, 1 lastfm-dataset, 1 echonest-terms), 0 unlabelled, "
        "0 look-ups failed")
    assert summary.splitlines()[1:] == [  # each source's own line: it was asked what was left
        "  labels from msd_tagtraum_cd1.cls: 1 labelled, 2 unlabelled, 0 failed",
        f"  labels from the Last.fm dataset {shared_data / 'lastfm_subset'}: 1 labelled, "
        "1 unlabelled, 0 failed",
        "  labels from echonest-terms in the song files: 1 labelled, 0 unlabelled, 0 failed"]


def test_genre_names_label_the_songs_tagtraum_leaves_out_in_its_genres(shared_data):
    # As above, but the tags name CD1's genres: the songs CD1 does not list join its classes.
    ids = ["TRAAABD128F429CF47", "TRAAADZ128F9348C2E", "TRAAAFP128F931B4E3",
           "TRAAAFD128F92F423A"]
    cls = shared_data / "tagtraum" / "msd_tagtraum_cd1.cls"
    with labels.open_source(f"{cls},{shared_data / 'lastfm_subset'},echonest-terms",
                            genre_names=genres.TAGTRAUM_NAMES) as source:
        rows = source.label(songs_from_files(real_files(shared_data, ids), source))
    assert [(row["genre"], row["genre_source"]) for row in rows] == [
        ("Pop_Rock", "cls:msd_tagtraum_cd1"), ("Latin", "lastfm-dataset"),
        ("Rap", "echonest-terms"), ("Pop_Rock", "cls:msd_tagtraum_cd1")]
    assert rows[2]["tags"] == "rap:100;def jam:64"  # the tags themselves are kept as they are


def test_a_broken_genre_names_file_is_a_label_error(shared_data, tmp_path):
    names = tmp_path / "names.tsv"
    names.write_text("rock\tPop_Rock\nopera\tVocal\n")
    with pytest.raises(labels.LabelError, match="names.tsv:2: 'opera' is not a genre"):
        labels.open_source(str(shared_data / "lastfm_subset"), genre_names=names)


def generated_songs(tmp_path, source, songs, arrays=True):
    path = tmp_path / "songs.h5"
    write_song_file(path, songs, arrays=arrays)
    return source.label(songs_from_files([path], source))


def test_artist_tags_of_each_song_of_an_aggregate_file_and_the_threshold(tmp_path):
    with labels.open_source("echonest-terms") as terms:
        rows = generated_songs(tmp_path, terms, [
            make_song("TRGEN000000000001", artist_terms=["bebop", "rock"],
                      artist_terms_weight=[0.5, 0.4]),
            # the only genre term at 5 % of the strongest: below --min-tag-count 10
            make_song("TRGEN000000000002", artist_terms=["female vocalist", "jazz"],
                      artist_terms_weight=[1.0, 0.05]),
            make_song("TRGEN000000000003", artist_terms=[], artist_terms_weight=[])])
    assert [row["genre"] for row in rows] == ["jazz", "", ""]
    assert rows[0]["tags"] == "bebop:100;rock:80"
    assert rows[1]["tags"] == "female vocalist:100;jazz:5"


def test_songs_of_a_summary_file_have_no_artist_tags_and_are_unlabelled_not_failed(tmp_path):
    with labels.open_source("musicbrainz-tags") as mbtags:
        rows = generated_songs(tmp_path, mbtags, [make_song("TRSUM000000000001")], arrays=False)
        assert mbtags.summary().endswith("0 labelled, 1 unlabelled, 0 failed")
    assert rows == [{"genre": "", "genre_source": "", "tags": ""}]


@pytest.mark.parametrize("value, complaint", [
    ("echonest-terms,,musicbrainz-tags", "without empty names or 'none'"),
    ("none,echonest-terms", "without empty names or 'none'"),
    ("echonest-terms,echonest", "echonest: no such file or folder"),
])
def test_a_bad_list_of_sources_is_refused(value, complaint):
    with pytest.raises(labels.LabelError, match=complaint):
        labels.open_source(value)


def test_a_path_with_a_comma_is_one_source(tmp_path):
    cls = tmp_path / "genres, mine.cls"
    cls.write_text("TRAAAAA128F00000AA\tJazz\n")
    rows, _ = label_all(cls, ["TRAAAAA128F00000AA"])
    assert rows[0]["genre"] == "Jazz"
