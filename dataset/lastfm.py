"""A rate-limited, retrying, cached client for last.fm's track.getTopTags and artist.getTopTags.

Usage:
    from dataset import lastfm
    with lastfm.Cache("data/lastfm_cache.sqlite") as cache:
        client = lastfm.Client(api_key, cache, rate=5)
        answer = client.track_tags("Gob", "Face the Ashes")
        answer.found, answer.tags            # True, [("punk rock", 100), ("punk", 60)]

Every answer, "not found" included, is stored in the SQLite cache before it is returned, so a second
run asks nothing already answered and a killed run resumes where it stopped. The same file holds
the rate limiter's next free request slot: threads and processes sharing a cache never start more
than ``rate`` requests a second between them. The API key is sent to last.fm and nowhere else: not
to the cache, not into any message.
"""
import email.utils
import json
import random
import sqlite3
import threading
import time
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

import requests

from dataset.genres import tag_count

DEFAULT_URL = "https://ws.audioscrobbler.com/2.0/"
MAX_RATE = 5.0  # requests per second, last.fm's stated limit
NOT_FOUND = 6
RETRY_CODES = {8: "operation failed", 11: "service offline", 16: "temporarily unavailable",
               29: "rate limit exceeded"}
KEY_CODES = {10: "invalid API key", 26: "suspended API key"}
RATE_LIMITED = 29
# Longest wait taken on a server's word (Retry-After) or found in the shared slot (a clock set
# back, or a hold-off left by a dead run): beyond it something is wrong, not busy.
MAX_WAIT = 3600.0
USER_AGENT = "msd-genre-classifier (python-requests)"

Answer = namedtuple("Answer", "found tags cached")  # tags: [(name, count)]


class LastfmError(Exception):
    """A problem that stops the run: a rejected API key, an unusable cache file."""


class FetchFailed(Exception):
    """One query failed after all retries; the message is the last reason (never the key)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per query and exponential backoff with jitter: ``base * 2**retry`` capped, times
    a random factor in [0.5, 1) so that threads that failed together do not retry together."""
    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry, rng):
        return min(self.max_delay, self.base_delay * 2 ** retry) * rng.uniform(0.5, 1.0)


class _Retryable(Exception):
    def __init__(self, reason, retry_after=None, rate_limited=False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class Cache:
    """last.fm answers and the shared rate-limit slot, in one SQLite file safe for threads and
    processes (WAL, one committed transaction per answer)."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Each answer is committed at once; in WAL mode NORMAL keeps commits safe from a killed
            # process (not from a power cut) without an fsync per answer.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript("""
                CREATE TABLE IF NOT EXISTS answers (
                    method TEXT NOT NULL, artist TEXT NOT NULL, track TEXT NOT NULL,
                    found INTEGER NOT NULL, tags TEXT NOT NULL, fetched_at REAL NOT NULL,
                    PRIMARY KEY (method, artist, track));
                CREATE TABLE IF NOT EXISTS rate_slot (
                    id INTEGER PRIMARY KEY CHECK (id = 0), next_at REAL NOT NULL);
            """)
        except (OSError, sqlite3.Error) as err:
            raise LastfmError(f"cannot use {self.path} as the last.fm cache: {err}") from None

    def get(self, method, artist, track):
        """The stored Answer for this query, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT found, tags FROM answers WHERE method = ? AND artist = ? AND track = ?",
                (method, artist, track)).fetchone()
        if row is None:
            return None
        return Answer(bool(row[0]), [tuple(tag) for tag in json.loads(row[1])], cached=True)

    def put(self, method, artist, track, found, tags):
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                             (method, artist, track, int(found), json.dumps(tags), time.time()))

    def reserve_slot(self, interval, clock):
        """The start time of the caller's next request, ``interval`` after the one before it,
        whichever thread or process reserved that; ``clock()`` is read inside the transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = clock()
                row = self._db.execute("SELECT next_at FROM rate_slot WHERE id = 0").fetchone()
                slot = now if row is None or row[0] > now + MAX_WAIT else max(now, row[0])
                self._db.execute("INSERT OR REPLACE INTO rate_slot VALUES (0, ?)",
                                 (slot + interval,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return slot

    def hold_off(self, until):
        """No request slot before ``until``, for every thread and process."""
        with self._lock:
            self._db.execute("INSERT INTO rate_slot VALUES (0, ?) ON CONFLICT (id) DO UPDATE "
                             "SET next_at = max(next_at, excluded.next_at)", (until,))

    def close(self):
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client:
    """track.getTopTags and artist.getTopTags through ``cache``, at most ``rate`` requests/s.

    Thread-safe: call it from many threads so that network latency does not cut throughput.
    ``clock``, ``sleep`` and ``seed`` (the backoff jitter) are injectable for tests.
    """

    def __init__(self, api_key, cache, url=DEFAULT_URL, rate=MAX_RATE, timeout=20.0,
                 retry=RetryPolicy(), clock=time.time, sleep=None, seed=0):
        self._api_key = api_key
        self.cache = cache
        self.url = url
        self.interval = 1.0 / rate
        self.timeout = timeout
        self.retry = retry
        self.clock = clock
        self._closed = threading.Event()
        # The default sleep wakes up at close(), so no thread outlives the run in a backoff.
        self.sleep = sleep or self._closed.wait
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions = []
        self._fatal = None
        self.requests = 0
        self.cache_hits = 0

    def track_tags(self, artist, title):
        """Answer for a track (found False: last.fm does not know it); raises FetchFailed."""
        return self._top_tags("track.getTopTags", artist, title)

    def artist_tags(self, artist):
        """Answer for an artist; raises FetchFailed."""
        return self._top_tags("artist.getTopTags", artist, "")

    def close(self):
        self._closed.set()
        self._stop("the last.fm client was closed")
        with self._lock:
            for session in self._sessions:
                session.close()

    def _top_tags(self, method, artist, track):
        answer = self.cache.get(method, artist, track)
        if answer is not None:
            with self._lock:
                self.cache_hits += 1
            return answer
        found, tags = self._fetch(method, artist, track)
        self.cache.put(method, artist, track, found, tags)
        return Answer(found, tags, cached=False)

    def _fetch(self, method, artist, track):
        params = {"method": method, "artist": artist, "autocorrect": "1", "format": "json"}
        if track:
            params["track"] = track
        reason = None
        for retry in range(self.retry.attempts):
            if retry:
                self._wait_before_retry(retry - 1, reason)
            self._wait_for_slot()
            try:
                return self._attempt(params)
            except _Retryable as err:
                reason = err
        raise FetchFailed(f"{reason} (after {self.retry.attempts} attempts)")

    def _wait_before_retry(self, retry, reason):
        delay = self.retry.delay(retry, self._rng)
        if reason.retry_after is not None:
            delay = max(delay, reason.retry_after)
        if reason.rate_limited:  # last.fm says the whole client is too fast: all threads wait
            self.cache.hold_off(self.clock() + delay)
        else:
            self.sleep(delay)

    def _wait_for_slot(self):
        if self._fatal:
            raise LastfmError(self._fatal)
        slot = self.cache.reserve_slot(self.interval, self.clock)
        wait = slot - self.clock()
        if wait > 0:
            self.sleep(wait)
        if self._fatal:
            raise LastfmError(self._fatal)

    def _attempt(self, params):
        with self._lock:
            self.requests += 1
        # Exception texts of requests quote the URL, key included: only their kind is reported.
        try:
            response = self._session().get(self.url, params={**params, "api_key": self._api_key},
                                           timeout=self.timeout)
        except requests.Timeout:
            raise _Retryable("timeout") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            raise _Retryable("connection error") from None
        except requests.RequestException as err:
            raise FetchFailed(f"request failed ({type(err).__name__})") from None
        retry_after = _retry_after(response.headers.get("Retry-After"))
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None:
            code = tag_count(error)
            if code == NOT_FOUND:
                return False, []
            if code in KEY_CODES:
                self._stop(f"last.fm refused the API key (error {code}: {KEY_CODES[code]}); "
                           "check LASTFM_API_KEY or --lastfm-api-key")
                raise LastfmError(self._fatal)
            if code in RETRY_CODES:
                raise _Retryable(f"last.fm error {code} ({RETRY_CODES[code]})", retry_after,
                                 rate_limited=code == RATE_LIMITED)
            raise FetchFailed(f"last.fm error {code}")
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}", retry_after,
                             rate_limited=response.status_code == 429)
        if response.status_code != 200:
            raise FetchFailed(f"HTTP {response.status_code}")
        toptags = body.get("toptags") if isinstance(body, dict) else None
        if not isinstance(toptags, dict):
            raise _Retryable("malformed answer")
        tags = toptags.get("tag") or []
        if isinstance(tags, dict):  # a single tag comes as an object, not a list
            tags = [tags]
        return True, [(str(tag["name"]), tag_count(tag.get("count")))
                      for tag in tags if isinstance(tag, dict) and tag.get("name")]

    def _stop(self, message):
        with self._lock:
            self._fatal = self._fatal or message

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session


def _retry_after(value):
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_WAIT)
