"""Genre labels for SongCSV.csv: from last.fm, a tagtraum/MAGD .cls file, the Last.fm dataset, or
the artist tags inside the song files (Echo Nest terms, MusicBrainz tags).

Usage (through extract):
    LASTFM_API_KEY=... python -m dataset.extract SONGS --labels lastfm
    python -m dataset.extract SONGS --labels ../shared/data/tagtraum/msd_tagtraum_cd1.cls
    python -m dataset.extract SONGS --labels lastfm_train.zip   # or its folder, or lastfm_tags.db
    python -m dataset.extract SONGS --labels echonest-terms      # or musicbrainz-tags: offline
    python -m dataset.extract SONGS --labels lastfm_train echonest-terms   # first that labels
    python -m dataset.extract SONGS --labels msd_tagtraum_cd1.cls lastfm_train \
        --genre-names dataset/tagtraum_genre_names.tsv       # tags named as CD1's genres
In code:
    with labels.open_source("lastfm_train.zip,echonest-terms", min_tag_count=10) as source:
        source.label([{"track_id": "TR...", "artist_name": "Gob", "title": "Face the Ashes"}])
        # -> [{"genre": "punk", "genre_source": "lastfm-track", "tags": "punk rock:100;punk:60"}]
        print(source.summary())

Tag sources (last.fm, the Last.fm dataset, the song files' artist tags) keep each song's top tags
in ``tags`` and pick the genre from them with dataset/genre_vocabulary.tsv; a .cls file's genre is
passed through as it is (e.g. tagtraum's "Pop_Rock"). A source's ``song_arrays`` names the
per-song arrays it needs in each song dict (read from the song file by extract), its
``batch_size`` how many songs it likes to be asked at once (None: any number; a local look-up).
"""
import argparse
import json
import os
import sqlite3
import sys
import time
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from string import ascii_uppercase

from tqdm import tqdm

from dataset import cli, genres, interrupts, lastfm

LABEL_COLUMNS = ("genre", "genre_source", "tags")
DEFAULT_CACHE = "data/lastfm_cache.sqlite"
DEFAULT_THREADS = 8  # enough to keep 5 requests/s going with up to ~1.5 s per answer
LASTFM_BATCH = 256  # songs asked of last.fm at once: enough to keep every thread busy
POLL_SECONDS = 0.2  # how often a wait for last.fm answers looks for a Ctrl-C
# --labels NAME -> (the song arrays of its tag names, of their strengths)
SONG_FILE_SOURCES = {"echonest-terms": ("artist_terms", "artist_terms_weight"),
                     "musicbrainz-tags": ("artist_mbtags", "artist_mbtags_count")}


class LabelError(Exception):
    """A problem that stops labelling: a bad --labels source, a missing or refused API key."""


def add_arguments(parser):
    """Add the label options (--labels and its settings) to an argparse parser."""
    group = parser.add_argument_group("genre labels")
    cli.add_list_option(group, "--labels", default=["none"], metavar="SOURCE",
                        keep_whole=_is_path,
                        help="'lastfm' (the web API), 'echonest-terms' or 'musicbrainz-tags' "
                             "(the artist's tags in each song file), 'none', or a path: a "
                             "tagtraum/MAGD .cls file, or the Last.fm dataset as a folder or "
                             ".zip of JSON files or its lastfm_tags.db. Several: each song gets "
                             "the first of them that gives it a genre")
    group.add_argument("--lastfm-api-key", metavar="KEY",
                       help="last.fm API key (default: the LASTFM_API_KEY environment "
                            "variable)")
    group.add_argument("--lastfm-url", default=lastfm.DEFAULT_URL, help="last.fm API endpoint")
    group.add_argument("--rate", type=_rate, default=lastfm.MAX_RATE,
                       help=f"most last.fm requests per second, over all threads and processes "
                            f"sharing --cache (at most {lastfm.MAX_RATE:g})")
    group.add_argument("--cache", default=DEFAULT_CACHE,
                       help="SQLite file keeping every last.fm answer (reruns ask nothing twice)")
    group.add_argument("--lastfm-threads", type=_positive_int, default=DEFAULT_THREADS,
                       help="concurrent last.fm requests (the rate limit still applies)")
    group.add_argument("--min-tag-count", type=_non_negative_int, default=genres.DEFAULT_MIN_COUNT,
                       help="smallest summed tag count that makes a genre (counts run 0-100, "
                            "the strongest tag of a song or artist 100)")
    group.add_argument("--genre-vocabulary", default=str(genres.DEFAULT_VOCABULARY), metavar="TSV",
                       help="TAG<TAB>GENRE file mapping tags to genres")
    group.add_argument("--genre-names", metavar="TSV",
                       help="GENRE<TAB>NAME file renaming the vocabulary's genres, e.g. "
                            "dataset/tagtraum_genre_names.tsv: tags then label in tagtraum "
                            "CD1's genres (default: the vocabulary's own names)")


def _rate(text):
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < rate <= lastfm.MAX_RATE:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {lastfm.MAX_RATE:g} (last.fm's limit)")
    return rate


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _is_path(value):
    """Whether a --labels value names a file or folder: then it is one source, commas and all."""
    return Path(value).exists()


def source_names(sources):
    """The sources that --labels ``sources`` names, in order: its values (a list, or one text),
    each split at its commas unless it is a path."""
    values = [sources] if isinstance(sources, str) else list(sources)
    try:
        names = cli.split_list(values, keep_whole=_is_path)
        if len(names) > 1 and "none" in names:
            raise ValueError("none among other sources")
    except ValueError:
        raise LabelError(f"--labels {' '.join(values)}: expected SOURCE[,SOURCE...] without "
                         "empty names or 'none'") from None
    return names


def open_source(sources="none", *, genre_vocabulary=genres.DEFAULT_VOCABULARY, genre_names=None,
                min_tag_count=genres.DEFAULT_MIN_COUNT, lastfm_api_key=None,
                lastfm_url=lastfm.DEFAULT_URL, rate=lastfm.MAX_RATE, cache=DEFAULT_CACHE,
                lastfm_threads=DEFAULT_THREADS, progress=True):
    """The label source that --labels ``sources`` names (see source_names), as a context
    manager; raises LabelError. The other parameters are add_arguments()'s options of the same
    names; ``progress`` False hides last.fm's progress bar."""
    names = source_names(sources)
    if names == ["none"]:
        return NoLabels()
    try:
        vocabulary = genres.load_vocabulary(genre_vocabulary)
        if genre_names:
            vocabulary = genres.load_genre_names(genre_names, vocabulary)
    except genres.VocabularyError as err:
        raise LabelError(str(err)) from None
    opened = []
    try:
        for name in names:
            if name == "lastfm":
                opened.append(_open_lastfm(vocabulary, min_tag_count, lastfm_api_key, lastfm_url,
                                           rate, cache, lastfm_threads, progress))
            elif name in SONG_FILE_SOURCES:
                opened.append(SongFileLabels(name, vocabulary, min_tag_count))
            else:
                opened.append(open_file_source(name, vocabulary, min_tag_count))
    except BaseException:
        for source in opened:
            source.close()
        raise
    return opened[0] if len(opened) == 1 else FirstOf(opened)


def _open_lastfm(vocabulary, min_tag_count, api_key, url, rate, cache_path, threads, progress):
    api_key = api_key or os.environ.get("LASTFM_API_KEY")
    if not api_key:
        raise LabelError("--labels lastfm needs an API key: set LASTFM_API_KEY or pass "
                         "--lastfm-api-key (get one at https://www.last.fm/api/account/create)")
    try:
        cache = lastfm.Cache(cache_path)
    except lastfm.LastfmError as err:
        raise LabelError(str(err)) from None
    client = lastfm.Client(api_key, cache, url=url, rate=rate)
    # Like extract's own bar: on a terminal only, so logs do not fill with bar redraws.
    bar = sys.stderr if progress and sys.stderr.isatty() else None
    return LastfmLabels(client, vocabulary, min_tag_count, threads, progress=bar)


def open_file_source(path, vocabulary, min_count=genres.DEFAULT_MIN_COUNT):
    """A source reading a .cls file or the Last.fm dataset (folder, .zip or SQLite) at ``path``."""
    path = Path(path)
    if path.is_dir():
        return DatasetLabels(JsonFolder(path), vocabulary, min_count)
    if not path.is_file():
        raise LabelError(f"--labels {path}: no such file or folder (expected 'lastfm', "
                         "'echonest-terms', 'musicbrainz-tags', 'none', a .cls file or the "
                         "Last.fm dataset)")
    with open(path, "rb") as stream:
        magic = stream.read(16)
    if magic == b"SQLite format 3\x00":
        return DatasetLabels(TagDatabase(path), vocabulary, min_count)
    if zipfile.is_zipfile(path):
        return DatasetLabels(JsonZip(path), vocabulary, min_count)
    return ClsLabels(path)


def _label(genre=None, source="", tags=()):
    return {"genre": genre or "", "genre_source": source if genre else "",
            "tags": genres.format_tags(tags)}


def _text(value):
    return value.strip() if isinstance(value, str) and value.strip() else None


class _Source:
    """Context manager and tally shared by the sources; subclasses define _label_song."""
    description = ""
    song_arrays = ()
    batch_size = None  # a local look-up takes any number: songs are labelled as they are read

    def __init__(self):
        self.counts = Counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def label(self, songs):
        """One dict of LABEL_COLUMNS per song (dicts with track_id, artist_name, title)."""
        return [self._label_song(song) for song in songs]

    def _tally(self, label, failed=False):
        self.counts["failed" if failed else "labelled" if label["genre"] else "unlabelled"] += 1
        return label

    def summary(self):
        return (f"labels from {self.description}: {self.counts['labelled']} labelled, "
                f"{self.counts['unlabelled']} unlabelled, {self.counts['failed']} failed")


class NoLabels(_Source):
    """--labels none: empty label columns, no summary."""

    def _label_song(self, song):
        return _label()

    def summary(self):
        return ""


class ClsLabels(_Source):
    """TRACK_ID<TAB>genre[<TAB>minority genre] lines (tagtraum, MAGD); the majority genre as is."""

    def __init__(self, path):
        super().__init__()
        path = Path(path)
        self.description = path.name
        self.source = f"cls:{path.stem}"
        self.genre_by_track = {}
        try:
            with open(path, encoding="utf-8") as stream:
                for number, line in enumerate(stream, 1):
                    if line.startswith("#") or not line.strip():
                        continue
                    fields = line.rstrip("\r\n").split("\t")
                    if len(fields) < 2 or not fields[0].startswith("TR") or not fields[1].strip():
                        raise LabelError(f"--labels {path}:{number}: expected "
                                         f"TRACK_ID<TAB>genre, got {line[:60]!r}")
                    self.genre_by_track[fields[0].strip()] = fields[1].strip()
        except (OSError, UnicodeDecodeError) as err:
            raise LabelError(f"--labels {path}: not a readable genre file "
                             f"({getattr(err, 'strerror', None) or err})") from None
        if not self.genre_by_track:
            raise LabelError(f"--labels {path}: no TRACK_ID<TAB>genre line (an empty file?)")

    def _label_song(self, song):
        return self._tally(_label(self.genre_by_track.get(song.get("track_id")), self.source))


class SongFileLabels(_Source):
    """The artist's tags every song file carries: Echo Nest terms (by weight, 0-1) or MusicBrainz
    tags (by count of votes). Strengths become counts relative to the artist's strongest tag
    (100), as last.fm's are, so that the same vote and --min-tag-count apply. Artist-level: every
    song of an artist gets the same genre."""

    def __init__(self, name, vocabulary, min_count):
        super().__init__()
        self.source = name
        self.song_arrays = SONG_FILE_SOURCES[name]
        self.vocabulary = vocabulary
        self.min_count = min_count
        self.description = f"{name} in the song files"

    def _label_song(self, song):
        names, strengths = (song.get(array) or [] for array in self.song_arrays)
        kept = genres.top_tags(genres.relative_counts(names, strengths))
        return self._tally(_label(self.vocabulary.genre_of(kept, self.min_count), self.source,
                                  kept))


class FirstOf(_Source):
    """Several sources in order: each song gets its label from the first source that gives it a
    genre; a song none labels keeps the first tags any source found for it."""

    def __init__(self, sources):
        super().__init__()
        self.sources = sources
        self.song_arrays = tuple(dict.fromkeys(array for source in sources
                                               for array in source.song_arrays))
        self.batch_size = max((source.batch_size for source in sources if source.batch_size),
                              default=None)
        self.description = ", then ".join(source.description for source in sources)
        self._position = {}  # genre_source -> position of the source that gives it

    def label(self, songs):
        labels = [None] * len(songs)
        left = list(range(len(songs)))
        for position, source in enumerate(self.sources):
            if not left:
                break
            answers = source.label([songs[index] for index in left])
            unlabelled = []
            for index, label in zip(left, answers, strict=True):
                if label["genre"] or labels[index] is None or not labels[index]["tags"]:
                    labels[index] = label
                if label["genre"]:
                    self._position.setdefault(label["genre_source"], position)
                else:
                    unlabelled.append(index)
            left = unlabelled
        for label in labels:
            self.counts[label["genre_source"] or "unlabelled"] += 1
        return labels

    def summary(self):
        by_source = ", ".join(f"{self.counts[source]} {source}" for source in sorted(
            self._position, key=lambda source: (self._position[source], source)))
        failed = sum(source.counts["failed"] for source in self.sources)
        labelled = sum(self.counts.values()) - self.counts["unlabelled"]
        return "\n".join([f"labels from {self.description}: {labelled} labelled "
                          f"({by_source or 'none'}), {self.counts['unlabelled']} unlabelled, "
                          f"{failed} look-ups failed"]
                         + ["  " + source.summary() for source in self.sources])

    def close(self):
        for source in self.sources:
            source.close()


class DatasetLabels(_Source):
    """The official Last.fm dataset for the MSD: per-track tag lists read by ``reader``."""

    def __init__(self, reader, vocabulary, min_count):
        super().__init__()
        self.reader = reader
        self.vocabulary = vocabulary
        self.min_count = min_count
        self.description = f"the Last.fm dataset {reader.path}"

    def _label_song(self, song):
        track_id = song.get("track_id")
        try:
            tags = self.reader.tags(track_id) if track_id else None
        except _UnreadableTrack:
            return self._tally(_label(), failed=True)
        kept = genres.top_tags(tags or [])
        return self._tally(_label(self.vocabulary.genre_of(kept, self.min_count),
                                  "lastfm-dataset", kept))

    def close(self):
        self.reader.close()


class _UnreadableTrack(Exception):
    """One track's file in the dataset is damaged: that song fails, the run goes on."""


def _tags_of_json(data):
    try:
        tags = json.loads(data)["tags"]
        return [(tag[0], tag[1]) for tag in tags]
    except (ValueError, KeyError, TypeError, IndexError):
        raise _UnreadableTrack() from None


class JsonFolder:
    """A folder of TRACK_ID.json files, laid out A/B/C/TRABC... as distributed (lastfm_train/,
    lastfm_test/, or a folder holding both) or flat."""

    def __init__(self, path):
        self.path = Path(path)
        candidates = [self.path] + sorted(p for p in self.path.iterdir() if p.is_dir())
        self.layout_roots = [root for root in candidates
                             if any((root / letter).is_dir() for letter in ascii_uppercase)]
        if not self.layout_roots and next(self.path.glob("TR*.json"), None) is None:
            raise LabelError(f"--labels {self.path}: no Last.fm dataset JSON files in this folder")

    def tags(self, track_id):
        """(name, count) pairs of a track, or None when the dataset does not have it."""
        names = [root / track_id[2] / track_id[3] / track_id[4] / f"{track_id}.json"
                 for root in self.layout_roots if len(track_id) > 4]
        for path in names + [self.path / f"{track_id}.json"]:
            try:
                return _tags_of_json(path.read_bytes())
            except FileNotFoundError:
                continue
            except OSError:
                raise _UnreadableTrack() from None
        return None

    def close(self):
        pass


class JsonZip:
    """The Last.fm dataset's lastfm_train.zip / lastfm_test.zip (TRACK_ID.json members)."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as err:
            raise LabelError(f"--labels {self.path}: not a readable zip file ({err})") from None
        self.member_by_track = {Path(name).stem: name for name in self._zip.namelist()
                                if name.endswith(".json")}
        if not self.member_by_track:
            self._zip.close()
            raise LabelError(f"--labels {self.path}: no .json file in this zip")

    def tags(self, track_id):
        name = self.member_by_track.get(track_id)
        if name is None:
            return None
        try:
            return _tags_of_json(self._zip.read(name))
        except (OSError, zipfile.BadZipFile):
            raise _UnreadableTrack() from None

    def close(self):
        self._zip.close()


class TagDatabase:
    """The Last.fm dataset's lastfm_tags.db: tids(tid), tags(tag), tid_tag(tid, tag, val) where
    tid_tag holds ROWIDs of tids and tags and val the tag count."""

    QUERY = ("SELECT tags.tag, tid_tag.val FROM tids JOIN tid_tag ON tid_tag.tid = tids.ROWID "
             "JOIN tags ON tags.ROWID = tid_tag.tag WHERE tids.tid = ? ORDER BY tid_tag.ROWID")

    def __init__(self, path):
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            self._db.execute(self.QUERY, ("",)).fetchall()
        except sqlite3.Error as err:
            raise LabelError(f"--labels {self.path}: not the Last.fm dataset's lastfm_tags.db "
                             f"({err})") from None

    def tags(self, track_id):
        rows = self._db.execute(self.QUERY, (track_id,)).fetchall()
        if rows:
            return rows
        known = self._db.execute("SELECT 1 FROM tids WHERE tid = ?", (track_id,)).fetchone()
        return [] if known else None

    def close(self):
        self._db.close()


class LastfmLabels(_Source):
    """The last.fm web API: track.getTopTags, falling back to artist.getTopTags when the track
    is unknown or its tags make no genre. A chunk's queries run on ``threads`` threads; a track
    query that fails after its retries fails the song (no fallback: a rerun asks it again).
    ``progress``: the file for the progress bar, or None for none."""

    description = "last.fm"
    batch_size = LASTFM_BATCH

    def __init__(self, client, vocabulary, min_count, threads=DEFAULT_THREADS, progress=None):
        super().__init__()
        self.client = client
        self.vocabulary = vocabulary
        self.min_count = min_count
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="lastfm")
        self._bar = tqdm(unit="song", desc="last.fm", file=progress,
                         disable=progress is None, dynamic_ncols=True, mininterval=0.5)
        self._started = time.monotonic()

    def label(self, songs):
        labels = [None] * len(songs)
        by_track, by_artist = defaultdict(list), defaultdict(list)
        for index, song in enumerate(songs):
            artist, title = _text(song.get("artist_name")), _text(song.get("title"))
            if artist is None:
                self._settle(labels, index, _label())
            elif title is None:
                by_artist[(artist,)].append(index)
            else:
                by_track[(artist, title)].append(index)
        track_tags = {}  # evidence kept for songs that the artist's tags do not label either
        for (artist, _), indices, answer in self._fetch_all(self.client.track_tags, by_track):
            for index in indices:
                kept = genres.top_tags(answer.tags) if answer else []
                genre = self.vocabulary.genre_of(kept, self.min_count)
                if answer is None or genre:
                    self._settle(labels, index, _label(genre, "lastfm-track", kept),
                                 failed=answer is None)
                else:
                    track_tags[index] = kept
                    by_artist[(artist,)].append(index)
        for _, indices, answer in self._fetch_all(self.client.artist_tags, by_artist):
            kept = genres.top_tags(answer.tags) if answer else []
            genre = self.vocabulary.genre_of(kept, self.min_count)
            for index in indices:
                evidence = kept if genre or not track_tags.get(index) else track_tags[index]
                self._settle(labels, index, _label(genre, "lastfm-artist", evidence),
                             failed=answer is None)
        return labels

    def _fetch_all(self, fetch, indices_by_query):
        """(query, indices, Answer or None when it failed) as the answers come in; raises
        KeyboardInterrupt within POLL_SECONDS of a Ctrl-C (see dataset/interrupts.py)."""
        futures = {self._executor.submit(fetch, *query): query for query in indices_by_query}
        waiting = set(futures)
        try:
            while waiting:
                done, waiting = wait(waiting, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                interrupts.check()
                for future in done:
                    query = futures[future]
                    try:
                        answer = future.result()
                    except lastfm.FetchFailed:
                        answer = None
                    yield query, indices_by_query[query], answer
        except lastfm.LastfmError as err:
            raise LabelError(str(err)) from None
        finally:
            for future in futures:
                future.cancel()

    def _settle(self, labels, index, label, failed=False):
        labels[index] = self._tally(label, failed)
        if label["genre"]:
            self.counts[label["genre_source"]] += 1
        elapsed = time.monotonic() - self._started
        self._bar.set_postfix_str(
            f"{self.client.requests / max(elapsed, 1e-9):.1f} req/s, "
            f"{self.client.cache_hits} cached, {self.counts['failed']} failed", refresh=False)
        self._bar.update()

    def summary(self):
        return (f"labels from last.fm: {self.counts['labelled']} labelled "
                f"({self.counts['lastfm-track']} by track tags, "
                f"{self.counts['lastfm-artist']} by artist tags), "
                f"{self.counts['unlabelled']} unlabelled, {self.counts['failed']} failed; "
                f"{self.client.requests} requests, {self.client.cache_hits} cache hits")

    def close(self):
        self.client.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._bar.close()
        self.client.cache.close()
