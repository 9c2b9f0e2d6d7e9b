"""The last.fm client against a real local HTTP server that imitates last.fm."""
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dataset import lastfm
from fake_lastfm import FakeLastfm, Reply, error, toptags

KEY = "SECRETKEY0123456789abcdef"
REPO = Path(__file__).resolve().parents[1]
TRACK = "track.getTopTags"
ARTIST = "artist.getTopTags"


class FakeClock:
    """Time that moves only when slept, so backoff and pacing cost no real time."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.on_sleep = None
        self._lock = threading.Lock()

    def time(self):
        return self.now

    def sleep(self, seconds):
        if self.on_sleep:
            self.on_sleep()
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def server():
    with FakeLastfm(KEY) as fake:
        yield fake


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cache_path(tmp_path):
    return tmp_path / "cache" / "lastfm.sqlite"


def make_client(server, cache_path, clock, **options):
    options = {"rate": 5, "timeout": 2.0, **options}
    return lastfm.Client(KEY, lastfm.Cache(cache_path), url=server.url, clock=clock.time,
                         sleep=clock.sleep, **options)


def test_track_tags_are_asked_with_the_documented_query(server, cache_path, clock):
    server.script(TRACK, "Gob", "Face the Ashes",
                  Reply(body=toptags([("punk rock", 100), ("punk", "60")])))
    client = make_client(server, cache_path, clock)
    answer = client.track_tags("Gob", "Face the Ashes")
    assert answer == lastfm.Answer(True, [("punk rock", 100), ("punk", 60)], cached=False)
    assert server.requests[0][1] == {"method": TRACK, "artist": "Gob", "track": "Face the Ashes",
                                     "autocorrect": "1", "format": "json", "api_key": KEY}


def test_a_second_run_asks_nothing_already_answered_not_found_included(server, cache_path, clock):
    server.script(ARTIST, "Gob", "", Reply(body=toptags([("punk", 100)])))
    first = make_client(server, cache_path, clock)
    assert first.artist_tags("Gob").tags == [("punk", 100)]
    assert first.track_tags("Nobody", "Nothing").found is False
    first.cache.close()
    second = make_client(server, cache_path, clock)
    assert second.artist_tags("Gob") == lastfm.Answer(True, [("punk", 100)], cached=True)
    assert second.track_tags("Nobody", "Nothing") == lastfm.Answer(False, [], cached=True)
    assert (len(server.requests), second.requests, second.cache_hits) == (2, 0, 2)


@pytest.mark.parametrize("status", [200, 404])
def test_error_6_is_an_answer_not_a_failure(server, cache_path, clock, status):
    server.script(TRACK, "A", "B", Reply(status=status, body=error(6, "Track not found")))
    client = make_client(server, cache_path, clock)
    assert client.track_tags("A", "B").found is False
    assert len(server.requests) == 1


def test_empty_and_single_tag_answers(server, cache_path, clock):
    server.script(ARTIST, "Empty", "", Reply(body={"toptags": {"tag": [], "@attr": {}}}))
    server.script(ARTIST, "Old", "", Reply(body={"toptags": {"#text": "\n", "@attr": {}}}))
    server.script(ARTIST, "One", "", Reply(body={"toptags": {"tag": {"name": "jazz", "count": 7}}}))
    client = make_client(server, cache_path, clock)
    assert client.artist_tags("Empty") == lastfm.Answer(True, [], cached=False)
    assert client.artist_tags("Old") == lastfm.Answer(True, [], cached=False)
    assert client.artist_tags("One").tags == [("jazz", 7)]


@pytest.mark.parametrize("status", [200, 400, 404])
def test_transient_last_fm_errors_are_retried_whatever_the_http_status(
        server, cache_path, clock, status):
    for code in (8, 11, 16, 29):
        server.script(ARTIST, f"E{code}", "", Reply(status=status, body=error(code)),
                      Reply(body=toptags([("rock", 100)])))
    client = make_client(server, cache_path, clock)
    for code in (8, 11, 16, 29):
        assert client.artist_tags(f"E{code}").tags == [("rock", 100)]
        assert server.count(artist=f"E{code}") == 2


def test_error_29_with_429_honours_retry_after_for_every_client_sharing_the_cache(
        server, cache_path, clock):
    server.script(ARTIST, "Busy", "",
                  Reply(status=429, body=error(29), headers={"Retry-After": "7"}),
                  Reply(body=toptags([("jazz", 100)])))
    client = make_client(server, cache_path, clock)
    other_process = make_client(server, cache_path, clock)
    slots_seen_by_the_other = []
    clock.on_sleep = lambda: slots_seen_by_the_other.append(
        other_process.cache.reserve_slot(0.2, clock.time) - clock.now)
    assert client.artist_tags("Busy").tags == [("jazz", 100)]
    # While the client waits out Retry-After, the other client's next slot is held back too.
    assert slots_seen_by_the_other and slots_seen_by_the_other[0] >= 7


def test_server_errors_back_off_exponentially_then_fail_without_caching(server, cache_path, clock):
    server.script(ARTIST, "Down", "", Reply(status=503, body="<html>Service Unavailable</html>"))
    client = make_client(server, cache_path, clock, rate=1000)
    with pytest.raises(lastfm.FetchFailed, match="HTTP 503"):
        client.artist_tags("Down")
    assert server.count(artist="Down") == 6
    backoffs = [s for s in clock.sleeps if s >= 0.4]  # pacing sleeps are 1 ms at this rate
    assert len(backoffs) == 5
    for retry, delay in enumerate(backoffs):
        assert 0.5 * 2 ** retry <= delay < 2 ** retry
    assert client.cache.get(ARTIST, "Down", "") is None  # a failure is asked again next run


def test_500s_then_an_answer(server, cache_path, clock):
    server.script(ARTIST, "Flaky", "", Reply(status=500, body=""), Reply(status=502, body=""),
                  Reply(body=toptags([("blues", 100)])))
    client = make_client(server, cache_path, clock)
    assert client.artist_tags("Flaky").tags == [("blues", 100)]
    assert server.count(artist="Flaky") == 3


def test_malformed_json_is_retried_then_recorded_as_a_failure(server, cache_path, clock):
    server.script(ARTIST, "Garbled", "", Reply(body='{"toptags": {"tag": [{"na'))
    server.script(ARTIST, "Once", "", Reply(body="not json"), Reply(body=toptags([("folk", 90)])))
    client = make_client(server, cache_path, clock)
    with pytest.raises(lastfm.FetchFailed, match="malformed"):
        client.artist_tags("Garbled")
    assert server.count(artist="Garbled") == 6
    assert client.artist_tags("Once").tags == [("folk", 90)]


def test_slow_answers_time_out_and_are_retried(server, cache_path, clock):
    server.script(ARTIST, "Slow", "", Reply(body=toptags([("jazz", 100)]), delay=1.5),
                  Reply(body=toptags([("jazz", 100)])))
    client = make_client(server, cache_path, clock, timeout=0.3)
    assert client.artist_tags("Slow").tags == [("jazz", 100)]
    assert server.count(artist="Slow") == 2


def test_connection_errors_are_retried_then_fail(cache_path, clock):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = lastfm.Client(KEY, lastfm.Cache(cache_path), url=f"http://127.0.0.1:{port}/2.0/",
                           clock=clock.time, sleep=clock.sleep)
    with pytest.raises(lastfm.FetchFailed, match="connection error") as failure:
        client.artist_tags("Anyone")
    assert client.requests == 6
    assert KEY not in str(failure.value)


def test_unicode_names_reach_last_fm_and_the_cache_intact(server, cache_path, clock):
    names = [("Sigur Rós", "Hoppípolla"), ("坂本龍一", "戦場のメリークリスマス"),
             ("Mötley Crüe", "Kickstart")]
    for artist, title in names:
        server.script(TRACK, artist, title, Reply(body=toptags([(f"{artist} ♥", 100)])))
    client = make_client(server, cache_path, clock)
    for artist, title in names:
        assert client.track_tags(artist, title).tags == [(f"{artist} ♥", 100)]
    assert [(p["artist"], p["track"]) for _, p in server.requests] == names
    again = make_client(server, cache_path, clock)
    assert [again.track_tags(a, t).tags for a, t in names] == [[(f"{a} ♥", 100)] for a, _ in names]
    assert again.requests == 0


@pytest.mark.parametrize("code", [10, 26])
def test_a_refused_key_stops_everything_at_once_without_showing_it(server, cache_path, clock, code):
    server.script(ARTIST, "First", "", Reply(status=403, body=error(code, f"bad key {KEY}")))
    client = make_client(server, cache_path, clock)
    with pytest.raises(lastfm.LastfmError, match=f"error {code}") as refused:
        client.artist_tags("First")
    with pytest.raises(lastfm.LastfmError):
        client.artist_tags("Second")
    assert len(server.requests) == 1
    assert KEY not in str(refused.value)


def _request_starts_respect_rate(arrivals, rate, jitter=0.1):
    """No ``rate`` + 1 requests within one second (to within loopback/scheduling jitter)."""
    arrivals = sorted(arrivals)
    rate = int(rate)
    return all(later - earlier >= 1 - jitter
               for earlier, later in zip(arrivals, arrivals[rate:]))


def test_threads_never_exceed_the_rate_measured_by_the_server(server, cache_path):
    client = lastfm.Client(KEY, lastfm.Cache(cache_path), url=server.url, rate=5)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(client.artist_tags, [f"Artist {i}" for i in range(12)]))
    assert [a.found for a in answers] == [False] * 12
    arrivals = [arrival for arrival, _ in server.requests]
    assert len(arrivals) == 12
    assert _request_starts_respect_rate(arrivals, 5)
    # and the pacing is not wildly slower than asked: 12 requests at 5/s span about 2.2 s
    assert max(arrivals) - min(arrivals) < 2.2 + 1.0


RUN_CLIENT = textwrap.dedent("""
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from dataset import lastfm
    url, cache, rate, prefix, count = sys.argv[1:6]
    import os
    client = lastfm.Client(os.environ["LASTFM_API_KEY"], lastfm.Cache(cache), url=url,
                           rate=float(rate))
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(client.artist_tags, [f"{prefix} {i}" for i in range(int(count))]))
""")


def _start_client_process(server, cache_path, rate, prefix, count):
    env = {**os.environ, "LASTFM_API_KEY": KEY, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", RUN_CLIENT, server.url, str(cache_path),
                             str(rate), prefix, str(count)], cwd=REPO, env=env)


def test_processes_sharing_a_cache_share_the_rate_limit(server, cache_path):
    lastfm.Cache(cache_path).close()  # created once, so neither process races to create it
    processes = [_start_client_process(server, cache_path, 5, name, 6) for name in ("P", "Q")]
    assert [process.wait(timeout=60) for process in processes] == [0, 0]
    arrivals = [arrival for arrival, _ in server.requests]
    assert len(arrivals) == 12
    assert {p["artist"][0] for _, p in server.requests} == {"P", "Q"}
    assert _request_starts_respect_rate(arrivals, 5)


def test_a_killed_run_loses_nothing_and_the_next_run_asks_only_the_rest(server, cache_path):
    for i in range(40):
        server.script(ARTIST, f"Band {i}", "", Reply(body=toptags([(f"tag{i}", 100)]), delay=0.02))
    process = _start_client_process(server, cache_path, 100, "Band", 40)
    deadline = time.monotonic() + 30
    while len(server.requests) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()
    process.wait()
    asked_before = len(server.requests)
    assert 10 <= asked_before < 40
    with sqlite3.connect(cache_path) as db:
        stored = db.execute("SELECT count(*) FROM answers").fetchone()[0]
    assert asked_before - 3 <= stored <= asked_before  # at most the 3 in flight are lost
    client = lastfm.Client(KEY, lastfm.Cache(cache_path), url=server.url, rate=100)
    answers = [client.artist_tags(f"Band {i}") for i in range(40)]
    assert [a.tags for a in answers] == [[(f"tag{i}", 100)] for i in range(40)]
    assert (client.cache_hits, client.requests) == (stored, 40 - stored)


def test_the_key_is_never_written_to_the_cache(server, cache_path, clock):
    server.script(ARTIST, "Gob", "", Reply(body=toptags([("punk", 100)])))
    server.script(ARTIST, "Busy", "", Reply(status=429, body=error(29)), Reply(body=toptags([])))
    client = make_client(server, cache_path, clock)
    client.artist_tags("Gob")
    client.artist_tags("Busy")
    client.track_tags("Unknown", "Song")
    client.cache.close()
    written = b"".join(path.read_bytes() for path in cache_path.parent.iterdir())
    assert b"Gob" in written and KEY.encode() not in written
