"""Benchmark: labelling the 10,000 real subset songs from a warm last.fm cache and offline sources,
and last.fm throughput when every answer is slow.

Usage:
    python -m bench.bench_labels [--songs 10000] [--chunk 256] [--latency 0.3] [--latency-songs 40]

Songs (track_id, artist, title) come from ../shared/data/msd10k_songs.csv. Timed, each from opening
the source to the last label, in chunks of CHUNK songs (extract asks last.fm 256 songs at a time,
local sources one file's songs at a time; a local look-up costs the same either way):
  - warm cache: a cache holding a track.getTopTags answer for every song (synthetic tags, seeded),
    the API pointed at a closed port, so that a single request would show as a failure;
  - tagtraum: the real msd_tagtraum_cd1.cls (133,676 songs) read and queried;
  - lastfm_tags.db: an SQLite database in the Last.fm dataset's schema with synthetic tags per song.
Then a local imitation of last.fm answering after LATENCY seconds: requests/s reached at --rate 5.
"""
import argparse
import csv
import random
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench import SHARED_DATA
from dataset import genres, labels, lastfm
# The test suite's local imitation of the last.fm API (a module of the tests/ folder).
from tests.fake_lastfm import FakeLastfm, Reply, toptags

TAG_POOL = (["rock", "pop", "punk rock", "Hip-Hop", "jazz", "soul", "electronic", "indie",
             "metal", "country", "folk", "blues", "reggae", "latin", "classical"]
            + ["seen live", "80s", "90s", "female vocalists", "favourites", "beautiful", "chill"])
KEY = "benchmark-key"


def load_songs(path, count):
    """The first ``count`` songs of msd10k_songs.csv as dicts label() takes."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))[:count]
    return [{"track_id": row["track_id"], "artist_name": row["artist_name"] or None,
             "title": row["title"] or None} for row in rows]


def synthetic_tags(rng):
    names = rng.sample(TAG_POOL, rng.randint(1, 12))
    return [(name, rng.randint(0, 100)) for name in names]


def fill_cache(path, songs, seed=0):
    rng = random.Random(seed)
    with lastfm.Cache(path) as cache:
        for song in songs:
            cache.put("track.getTopTags", (song["artist_name"] or "").strip(),
                      (song["title"] or "").strip(), True, synthetic_tags(rng))
        for artist in sorted({(song["artist_name"] or "").strip() for song in songs}):
            cache.put("artist.getTopTags", artist, "", True, synthetic_tags(rng))


def build_tag_database(path, songs, seed=0):
    """lastfm_tags.db's schema (tid_tag holds ROWIDs of tids and tags) with synthetic tags."""
    rng = random.Random(seed)
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT);"
                         "CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT);"
                         "CREATE INDEX idx_tids ON tids (tid);"
                         "CREATE INDEX idx_tid_tag_tid ON tid_tag (tid);")
        tag_ids = {name: db.execute("INSERT INTO tags VALUES (?)", (name,)).lastrowid
                   for name in TAG_POOL}
        for song in songs:
            tid = db.execute("INSERT INTO tids VALUES (?)", (song["track_id"],)).lastrowid
            db.executemany("INSERT INTO tid_tag VALUES (?, ?, ?)",
                           [(tid, tag_ids[name], float(count))
                            for name, count in synthetic_tags(rng)])


def time_labelling(open_source, songs, chunk):
    """Seconds from opening the source to the last label, and the closing summary."""
    started = time.perf_counter()
    with open_source() as source:
        for start in range(0, len(songs), chunk):
            source.label(songs[start:start + chunk])
        summary = source.summary()
    return time.perf_counter() - started, summary


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/2.0/"


def warm_cache_run(songs, chunk, folder):
    cache = Path(folder) / "lastfm_cache.sqlite"
    fill_cache(cache, songs)
    vocabulary = genres.load_vocabulary()

    def open_source():
        client = lastfm.Client(KEY, lastfm.Cache(cache), url=closed_port_url(),
                               retry=lastfm.RetryPolicy(attempts=1))
        return labels.LastfmLabels(client, vocabulary, genres.DEFAULT_MIN_COUNT)
    return time_labelling(open_source, songs, chunk)


def latency_run(count, latency, folder):
    """Requests/s through LastfmLabels when each answer takes ``latency`` s, at rate 5."""
    songs = [{"track_id": f"T{i}", "artist_name": f"Artist {i}", "title": f"Song {i}"}
             for i in range(count)]
    with FakeLastfm(KEY) as server:
        for song in songs:
            server.script("track.getTopTags", song["artist_name"], song["title"],
                          Reply(body=toptags([("rock", 100)]), delay=latency))
        client = lastfm.Client(KEY, lastfm.Cache(Path(folder) / "latency.sqlite"), url=server.url)
        seconds, _ = time_labelling(
            lambda: labels.LastfmLabels(client, genres.load_vocabulary(), 10), songs, len(songs))
        arrivals = sorted(arrival for arrival, _ in server.requests)
    return len(arrivals), seconds, (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA), help="the shared real MSD material")
    parser.add_argument("--songs", type=int, default=10000, help="songs labelled")
    parser.add_argument("--chunk", type=int, default=256, help="songs per label() call")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per fake answer")
    parser.add_argument("--latency-songs", type=int, default=40,
                        help="songs for the latency run (0 skips it)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    data = Path(args.data)
    if not (data / "msd10k_songs.csv").exists():
        print(f"error: {data / 'msd10k_songs.csv'} not found (see --data)", file=sys.stderr)
        return 2
    songs = load_songs(data / "msd10k_songs.csv", args.songs)
    print(f"{len(songs)} real subset songs, chunks of {args.chunk}")
    with tempfile.TemporaryDirectory() as folder:
        runs = {"warm last.fm cache": lambda: warm_cache_run(songs, args.chunk, folder)}
        cls = data / "tagtraum" / "msd_tagtraum_cd1.cls"
        runs["tagtraum .cls"] = lambda: time_labelling(
            lambda: labels.open_file_source(cls, genres.load_vocabulary()), songs, args.chunk)
        database = Path(folder) / "lastfm_tags.db"
        build_tag_database(database, songs)
        runs["lastfm_tags.db"] = lambda: time_labelling(
            lambda: labels.open_file_source(database, genres.load_vocabulary()), songs, args.chunk)
        for name, run in runs.items():
            seconds, summary = run()
            print(f"{name:20s} {seconds:6.2f} s  {len(songs) / seconds:8.0f} songs/s  | {summary}")
        if args.latency_songs:
            requests, seconds, rate = latency_run(args.latency_songs, args.latency, folder)
            print(f"last.fm at {args.latency:g} s per answer, --rate 5: {requests} requests in "
                  f"{seconds:.1f} s, {rate:.2f} requests/s between first and last "
                  f"(one at a time would give {1 / args.latency:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
