"""python -m dataset.download against a real HTTP server on 127.0.0.1 serving small generated
files (and real ones from ../shared/data when present), in this process and as a subprocess that
gets Ctrl-C."""
import gzip
import hashlib
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import pytest

from dataset import download, hdf5_getters, labels
from dataset.sample import write_song_file
import terminal

REPO = Path(__file__).resolve().parents[1]

# Random (incompressible) content, several download chunks long, so a cut lands mid-file.
SONG_BYTES = os.urandom(5 * download.CHUNK)
CLS_TEXT = "# tagtraum CD1\nTRAAABD128F429CF47\tPop_Rock\n"


def tar_gz(members):
    """A .tar.gz holding ``members`` {name: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


SUBSET_MEMBER = "MillionSongSubset/data/A/A/A/TRAAABD128F429CF47.h5"
SUBSET = tar_gz({SUBSET_MEMBER: SONG_BYTES})
TAGTRAUM = zip_bytes({"msd_tagtraum_cd1.cls": CLS_TEXT})


class ArchiveServer(ThreadingHTTPServer):
    """Serves ``files`` {path: bytes} with Range support, and misbehaves on request:
    ``cuts`` {path: [bytes to send before closing, ...]} for successive requests,
    ``ignore_range`` answers every request with the whole file (200),
    ``errors`` {path: status} answers with that status and no body,
    ``gate`` (a Gate) holds the next response at a chosen byte."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.cuts, self.ignore_range, self.errors = {}, {}, False, {}
        self.gate = None
        self.answered, self.handling = [], 0
        self.recorded = threading.Condition()

    @property
    def requests(self):
        """(path, Range header or None, status, body bytes sent) of each request answered, once
        every handler has recorded its own: a client can read a whole answer before the
        handler's thread gets to record it."""
        with self.recorded:
            self.recorded.wait_for(lambda: len(self.answered) == self.handling, timeout=10)
            return list(self.answered)

    def url(self, path):
        return f"http://127.0.0.1:{self.server_port}{path}"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # not a client stopped by Ctrl-C
            super().handle_error(request, client_address)


class Gate:
    """Holds one response at byte ``offset`` of the file (None: before the status line) until
    released, so that a test can press Ctrl-C at that moment; records the request's Range."""

    def __init__(self, offset=None):
        self.offset, self.range = offset, None
        self.reached, self.release = threading.Event(), threading.Event()

    def hold(self, wanted):
        self.range = wanted
        self.reached.set()
        self.release.wait(10)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server
        with server.recorded:
            server.handling += 1
        data = server.files.get(self.path)
        wanted = self.headers.get("Range")
        if server.gate and server.gate.offset is None:
            gate, server.gate = server.gate, None
            gate.hold(wanted)
        if data is None or self.path in server.errors:
            return self._reply(server.errors.get(self.path, 404), b"", wanted)
        start = int(wanted[len("bytes="):].split("-")[0]) if wanted else 0
        if wanted and not server.ignore_range:
            if start >= len(data):
                return self._reply(416, b"", wanted, {"Content-Range": f"bytes */{len(data)}"})
            return self._reply(206, data[start:], wanted,
                               {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
                               start)
        return self._reply(200, data, wanted)

    def _reply(self, status, body, wanted, headers=None, start=0):
        server = self.server
        cuts = server.cuts.get(self.path) or []
        sent = cuts.pop(0) if cuts and status in (200, 206) else len(body)
        gate = server.gate if status in (200, 206) else None
        server.gate = None if gate else server.gate
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if gate:
                split = min(max(gate.offset - start, 0), sent)
                self.wfile.write(body[:split])
                self.wfile.flush()
                gate.hold(wanted)
                self.wfile.write(body[split:sent])
            else:
                self.wfile.write(body[:sent])
            self.wfile.flush()
        except ConnectionError:  # the client stopped mid-file (Ctrl-C)
            sent = None
        if sent != len(body):
            self.close_connection = True  # the connection breaks mid-file
        with server.recorded:
            server.answered.append((self.path, wanted, status, sent))
            server.recorded.notify_all()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ArchiveServer()
    httpd.files = {"/millionsongsubset.tar.gz": SUBSET, "/msd_tagtraum_cd1.cls.zip": TAGTRAUM}
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def get(server, tmp_path, target="msd-subset", path="/millionsongsubset.tar.gz", *extra):
    return download.main([target, "--url", server.url(path), "--dest", str(tmp_path / "data"),
                          "--retries", "0", *extra])


def leftovers(data):
    """Temporary files and folders a run must not leave behind."""
    return sorted(p.name for p in data.iterdir() if p.name.endswith(".partial")
                  or p.name.startswith("."))


def test_downloads_checks_and_unpacks_the_subset(server, tmp_path, capsys):
    assert get(server, tmp_path) == 0
    data = tmp_path / "data"
    assert (data / SUBSET_MEMBER).read_bytes() == SONG_BYTES
    assert (data / "millionsongsubset.tar.gz").read_bytes() == SUBSET
    assert leftovers(data) == []
    assert "unpacked" in capsys.readouterr().out


def test_unpacks_a_zip_target(server, tmp_path):
    assert get(server, tmp_path, "tagtraum-cd1", "/msd_tagtraum_cd1.cls.zip") == 0
    assert (tmp_path / "data" / "msd_tagtraum_cd1.cls").read_text() == CLS_TEXT


def test_resumes_a_cut_connection_with_a_range_request(server, tmp_path, capsys):
    half = len(SUBSET) // 2
    server.cuts["/millionsongsubset.tar.gz"] = [half]
    assert get(server, tmp_path) == 0
    assert (tmp_path / "data" / SUBSET_MEMBER).read_bytes() == SONG_BYTES
    (_, first_range, _, first_sent), (_, second_range, status, second_sent) = server.requests
    assert first_range is None and status == 206
    resumed_at = int(second_range[len("bytes="):-1])
    assert 0 < resumed_at <= half
    assert first_sent + second_sent < 1.5 * len(SUBSET)  # what arrived was not fetched again
    assert "resuming" in capsys.readouterr().err


def test_server_ignoring_range_restarts_the_file_from_zero(server, tmp_path):
    server.ignore_range = True
    server.cuts["/millionsongsubset.tar.gz"] = [len(SUBSET) // 2]
    assert get(server, tmp_path) == 0
    assert [status for _, _, status, _ in server.requests] == [200, 200]
    assert server.requests[1][1] is not None  # it asked for a range and got the whole file
    assert (tmp_path / "data" / "millionsongsubset.tar.gz").read_bytes() == SUBSET


def test_a_stale_partial_file_is_replaced_when_range_is_ignored(server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "millionsongsubset.tar.gz.partial").write_bytes(b"not the archive" * 100)
    server.ignore_range = True
    assert get(server, tmp_path) == 0
    assert (data / "millionsongsubset.tar.gz").read_bytes() == SUBSET


def test_a_complete_partial_file_is_not_fetched_again(server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "millionsongsubset.tar.gz.partial").write_bytes(SUBSET)
    assert get(server, tmp_path) == 0
    assert [(status, sent) for _, _, status, sent in server.requests] == [(416, 0)]
    assert (data / SUBSET_MEMBER).read_bytes() == SONG_BYTES


@pytest.mark.parametrize("target, path, body", [
    ("msd-subset", "/millionsongsubset.tar.gz", os.urandom(4000)),
    ("msd-subset", "/millionsongsubset.tar.gz", SUBSET[:-40]),  # truncated, but sent whole
    ("msd-subset", "/millionsongsubset.tar.gz",  # the tar reads fine; gzip's CRC is wrong
     SUBSET[:-8] + bytes([SUBSET[-8] ^ 1]) + SUBSET[-7:]),
    ("msd-subset", "/millionsongsubset.tar.gz", gzip.compress(b"not a tar file" * 100)),
    ("tagtraum-cd1", "/msd_tagtraum_cd1.cls.zip",  # one byte changed inside a stored member
     zip_bytes({"msd_tagtraum_cd1.cls": CLS_TEXT}, zipfile.ZIP_STORED).replace(b"Rock", b"Roll")),
], ids=["garbage", "truncated-gzip", "gzip-crc", "gzip-of-non-tar", "zip-crc"])
def test_a_corrupt_archive_is_refused_and_removed(server, tmp_path, capsys, target, path, body):
    server.files[path] = body
    assert get(server, tmp_path, target, path) == 2
    err = capsys.readouterr().err
    assert "corrupt archive" in err and len(err.strip().splitlines()) == 1
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("target, path, body", [
    ("msd-subset", "/millionsongsubset.tar.gz", tar_gz({"../evil.txt": b"x", SUBSET_MEMBER: b""})),
    ("msd-subset", "/millionsongsubset.tar.gz", tar_gz({"/tmp/evil.txt": b"x",
                                                         SUBSET_MEMBER: b""})),
    ("lastfm-subset", "/lastfm_subset.zip", zip_bytes({"../evil.txt": b"x",
                                                       "lastfm_subset/A/A/A/x.json": b"{}"})),
], ids=["tar-dotdot", "tar-absolute", "zip-dotdot"])
def test_members_escaping_the_destination_are_refused(server, tmp_path, capsys, target, path,
                                                      body):
    server.files[path] = body
    assert get(server, tmp_path, target, path) == 2
    assert "unsafe member path" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert list((tmp_path / "data").iterdir()) == []


def test_an_archive_without_the_expected_folder_is_refused(server, tmp_path, capsys):
    server.files["/millionsongsubset.tar.gz"] = tar_gz({"Other/x.h5": b"x"})
    assert get(server, tmp_path) == 2
    assert "no MillionSongSubset at the archive's top level (it holds: Other)" in \
        capsys.readouterr().err


def test_sha256_is_checked(server, tmp_path, capsys):
    wrong = "0" * 64
    assert get(server, tmp_path, "msd-subset", "/millionsongsubset.tar.gz",
               "--sha256", wrong) == 2
    assert "SHA-256 is" in capsys.readouterr().err
    assert list((tmp_path / "data").iterdir()) == []
    right = hashlib.sha256(SUBSET).hexdigest().upper()
    assert get(server, tmp_path, "msd-subset", "/millionsongsubset.tar.gz",
               "--sha256", right) == 0


def test_skips_what_is_already_there(server, tmp_path, capsys):
    assert get(server, tmp_path) == 0
    assert get(server, tmp_path) == 0
    assert "already there; nothing to do" in capsys.readouterr().out
    assert len(server.requests) == 1
    shutil.rmtree(tmp_path / "data" / "MillionSongSubset")
    assert get(server, tmp_path) == 0
    assert "already downloaded; not fetching it again" in capsys.readouterr().out
    assert len(server.requests) == 1
    assert (tmp_path / "data" / SUBSET_MEMBER).read_bytes() == SONG_BYTES


def test_an_interrupted_unpack_never_looks_done(server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "millionsongsubset.tar.gz").write_bytes(SUBSET)
    stale = data / ".MillionSongSubset.unpacking-x1y2" / "MillionSongSubset" / "data"
    stale.mkdir(parents=True)  # what a run killed mid-unpack leaves
    assert get(server, tmp_path) == 0
    assert (data / SUBSET_MEMBER).read_bytes() == SONG_BYTES
    assert leftovers(data) == []
    assert server.requests == []


def test_http_errors_and_unreachable_servers_give_one_line_and_exit_1(server, tmp_path, capsys):
    assert get(server, tmp_path, "msd-subset", "/missing.tar.gz") == 1
    assert "HTTP 404" in capsys.readouterr().err
    url = server.url("/millionsongsubset.tar.gz")
    server.shutdown()
    server.server_close()
    assert download.main(["msd-subset", "--url", url, "--dest", str(tmp_path / "data"),
                          "--retries", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("download: error:") and "run again to resume" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_a_non_http_url_exits_2(tmp_path, capsys):
    assert download.main(["msd-subset", "--url", "ftp://example.org/x.tar.gz",
                          "--dest", str(tmp_path / "data")]) == 2
    assert "not an http:// or https:// address" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("args, message", [
    (["msd-subset", "--sha256", "abc"], "not 64 hexadecimal digits"),
    (["no-such-target"], "invalid choice"),
    (["msd-subset", "--retries", "-1"], "--retries must be at least 0"),
])
def test_bad_arguments_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        download.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# The published addresses, copied from the dataset's pages (see dataset/download.py): a second
# copy, so that a typo in either fails here instead of in a user's `make all`.
MSD_FILES = "http://millionsongdataset.com/sites/default/files"
PUBLISHED = {
    "msd-subset": "http://labrosa.ee.columbia.edu/~dpwe/tmp/millionsongsubset.tar.gz",
    "msd-summary": f"{MSD_FILES}/AdditionalFiles/msd_summary_file.h5",
    "lastfm-subset": f"{MSD_FILES}/lastfm/lastfm_subset.zip",
    "lastfm-tags-db": f"{MSD_FILES}/lastfm/lastfm_tags.db",
    "mismatches": f"{MSD_FILES}/tasteprofile/sid_mismatches.txt",
    "tagtraum-cd1": "https://www.tagtraum.com/genres/msd_tagtraum_cd1.cls.zip",
    "tagtraum-cd2": "https://www.tagtraum.com/genres/msd_tagtraum_cd2.cls.zip",
    "tagtraum-cd2c": "https://www.tagtraum.com/genres/msd_tagtraum_cd2c.cls.zip",
}


def test_every_target_downloads_from_its_published_address():
    assert {name: target.url for name, target in download.TARGETS.items()} == PUBLISHED


def test_the_data_docs_list_every_target_with_its_address():
    page = (REPO / "docs" / "data.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines()
            if line.startswith("| `")}
    for name, url in PUBLISHED.items():
        assert name in rows, f"docs/data.md's download table has no row for {name}"
        assert url in rows[name], f"docs/data.md's row for {name} does not give {url}"


@pytest.mark.parametrize("target", ["tagtraum-cd1", "tagtraum-cd2", "tagtraum-cd2c"])
def test_unpacks_each_tagtraum_file(server, tmp_path, target):
    name = download.TARGETS[target].unpacked
    server.files[f"/{name}.zip"] = zip_bytes({name: CLS_TEXT})
    assert get(server, tmp_path, target, f"/{name}.zip") == 0
    assert (tmp_path / "data" / name).read_text() == CLS_TEXT
    assert leftovers(tmp_path / "data") == []


# --- Files that are not archives: checked, then renamed into place --------------------------------

TAGS = {"TRAAABD128F429CF47": [("60s", 100.0), ("soul", 80.0)],
        "TRAAAFD128F92F423A": [("punk rock", 100.0), ("punk", 60.0)]}


def tag_database(path, songs=2000, tables=("tids", "tags", "tid_tag")):
    """A lastfm_tags.db in the Last.fm dataset's schema with TAGS and ``songs`` more tracks
    (enough pages that a cut-off copy lacks some); returns its bytes."""
    with sqlite3.connect(path) as db:
        for table, columns in {"tids": "tid TEXT", "tags": "tag TEXT",
                               "tid_tag": "tid INT, tag INT, val FLOAT"}.items():
            if table in tables:
                db.execute(f"CREATE TABLE {table} ({columns})")
        if "tid_tag" in tables:
            tracks = {**TAGS, **{f"TRGEN{n:013d}": [("rock", 1.0)] for n in range(songs)}}
            tag_rows = {}
            for track, tags in tracks.items():
                tid = db.execute("INSERT INTO tids VALUES (?)", (track,)).lastrowid
                for tag, count in tags:
                    if tag not in tag_rows:
                        tag_rows[tag] = db.execute("INSERT INTO tags VALUES (?)", (tag,)).lastrowid
                    db.execute("INSERT INTO tid_tag VALUES (?, ?, ?)", (tid, tag_rows[tag], count))
    db.close()
    return Path(path).read_bytes()


def summary_file(path, songs=3, groups=("metadata", "analysis", "musicbrainz")):
    """A summary file (song tables, no arrays) of ``songs`` songs; only ``groups`` kept."""
    write_song_file(path, [{"track_id": f"TRGEN{n:013d}", "song_id": f"SOGEN{n:013d}",
                            "title": f"Song {n}", "tempo": 100.0 + n, "year": 1990 + n}
                           for n in range(songs)], arrays=False)
    with h5py.File(path, "a") as h5:
        for group in set(h5) - set(groups):
            del h5[group]
    return Path(path).read_bytes()


MISMATCHES = (b"ERROR: <SOUMNSI12AB0182807 TRMMGKQ128F9325E10> Digital Underground  -  The Way "
              b"We Swing  !=  Linkwood  -  Whats up with the Underground\n"
              b"ERROR: <SOCMRBE12AB018C546 TRMMREB12903CEB1B1> Jimmy Reed  -  The Sun Is "
              b"Shining  !=  Slim Harpo  -  I Got Love If You Want It\n")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """{kind: bytes} of good and bad files for the non-archive targets."""
    folder = tmp_path_factory.mktemp("generated")
    database = tag_database(folder / "tags.db")
    summary = summary_file(folder / "summary.h5")
    return {
        "tags-db": database,
        "tags-db without tid_tag": tag_database(folder / "two.db", tables=("tids", "tags")),
        "tags-db cut in half": database[:len(database) // 2],
        "summary": summary,
        "summary without musicbrainz": summary_file(folder / "nomb.h5",
                                                    groups=("metadata", "analysis")),
        "summary cut in half": summary[:len(summary) // 2],
    }


def test_downloads_and_checks_the_tag_database(server, tmp_path, generated, capsys):
    server.files["/lastfm_tags.db"] = generated["tags-db"]
    assert get(server, tmp_path, "lastfm-tags-db", "/lastfm_tags.db") == 0
    data = tmp_path / "data"
    assert sorted(p.name for p in data.iterdir()) == ["lastfm_tags.db"]
    database = labels.TagDatabase(data / "lastfm_tags.db")  # as extract --labels reads it
    assert database.tags("TRAAAFD128F92F423A") == TAGS["TRAAAFD128F92F423A"]
    database.close()
    assert "checked" in capsys.readouterr().out
    assert get(server, tmp_path, "lastfm-tags-db", "/lastfm_tags.db") == 0
    assert "already there; nothing to do" in capsys.readouterr().out
    assert len(server.requests) == 1


def test_downloads_and_checks_a_summary_file(server, tmp_path, generated):
    server.files["/msd_summary_file.h5"] = generated["summary"]
    assert get(server, tmp_path, "msd-summary", "/msd_summary_file.h5") == 0
    with hdf5_getters.open_h5_file_read(tmp_path / "data" / "msd_summary_file.h5") as h5:
        assert hdf5_getters.get_num_songs(h5) == 3
        assert hdf5_getters.get_title(h5, 2) == "Song 2"
    assert leftovers(tmp_path / "data") == []


def test_downloads_and_checks_the_mismatch_list(server, tmp_path):
    server.files["/sid_mismatches.txt"] = MISMATCHES
    assert get(server, tmp_path, "mismatches", "/sid_mismatches.txt") == 0
    assert (tmp_path / "data" / "sid_mismatches.txt").read_bytes() == MISMATCHES


@pytest.mark.parametrize("target, file", [
    ("mismatches", "sid_mismatches.txt"),
    ("msd-summary", "MillionSongSubset/AdditionalFiles/subset_msd_summary_file.h5"),
])
def test_the_real_files_pass_their_check(server, tmp_path, shared_data, target, file):
    real = (shared_data / file).read_bytes()
    server.files["/real"] = real
    assert get(server, tmp_path, target, "/real") == 0
    assert (tmp_path / "data" / download.TARGETS[target].file).read_bytes() == real


@pytest.mark.parametrize("target, kind, message", [
    ("lastfm-tags-db", "html", "not a sound SQLite database (file is not a database)"),
    ("lastfm-tags-db", "tags-db without tid_tag",
     "not the Last.fm dataset's lastfm_tags.db (no table tid_tag)"),
    ("lastfm-tags-db", "tags-db cut in half", "not a sound SQLite database"),
    ("msd-summary", "html", "not the dataset's summary file (not a readable HDF5 file"),
    ("msd-summary", "summary without musicbrainz",
     "not the dataset's summary file (missing table /musicbrainz/songs)"),
    ("msd-summary", "summary cut in half", "not the dataset's summary file"),
    ("mismatches", "html", "line 1 is not a mismatch line"),
    ("mismatches", "empty", "empty, not the list of song-track mismatches"),
    ("mismatches", "one bad line", "line 3 is not a mismatch line"),
])
def test_a_bad_file_is_refused_and_removed(server, tmp_path, generated, capsys, target, kind,
                                           message):
    bodies = {**generated, "html": b"<html><body>Page not found</body></html>\n", "empty": b"",
              "one bad line": MISMATCHES + b"TRMMGKQ128F9325E10 no longer listed\n"}
    server.files["/file"] = bodies[kind]
    assert get(server, tmp_path, target, "/file") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].endswith("the download was removed")
    assert list((tmp_path / "data").iterdir()) == []


# --- Ctrl-C, as a user presses it ---------------------------------------------------------------

def start_download(server, dest, *extra):
    return terminal.foreground_job(
        [sys.executable, "-m", "dataset.download", "msd-subset", "--dest", str(dest),
         "--url", server.url("/millionsongsubset.tar.gz"), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_ctrl_c_at_any_moment_stops_with_130_and_a_rerun_resumes(server, tmp_path):
    song = os.urandom(40 * download.CHUNK)  # 2.5 MB: many chunks between two moments
    archive = tar_gz({SUBSET_MEMBER: song})
    server.files["/millionsongsubset.tar.gz"] = archive
    data = tmp_path / "data"
    partial = data / "millionsongsubset.tar.gz.partial"
    # Ten moments: nine bytes spread over the file, and once before the server's first byte.
    moments = [len(archive) * k // 10 for k in range(1, 10)]
    moments.insert(3, None)
    for number, offset in enumerate(moments):
        kept = partial.stat().st_size if partial.exists() else 0
        server.gate = gate = Gate(offset)
        run = start_download(server, data)
        assert gate.reached.wait(10), "the download never reached the moment"
        if offset is not None:  # let the bytes before the moment arrive
            wait_until(lambda kept=kept: partial.exists() and partial.stat().st_size > kept)
        run.send_signal(signal.SIGINT)
        if number % 2:
            gate.release.set()  # the data flows on as Ctrl-C lands; else the server stays silent
        try:
            _, err = run.communicate(timeout=10)
        finally:
            gate.release.set()
        assert run.returncode == 130, err
        assert err.strip().splitlines()[-1] == "download: interrupted; run again to resume"
        assert gate.range == (f"bytes={kept}-" if kept else None)  # it resumed where it stopped
        assert [p.name for p in data.iterdir()] in ([], [partial.name])  # nothing looks done
        assert archive.startswith(partial.read_bytes() if partial.exists() else b"")
    assert partial.stat().st_size > len(archive) // 2
    run = start_download(server, data)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert (data / SUBSET_MEMBER).read_bytes() == song
    assert leftovers(data) == []


def test_ctrl_c_during_a_pause_between_retries_stops_at_once(server, tmp_path):
    server.errors["/millionsongsubset.tar.gz"] = 503
    run = start_download(server, tmp_path / "data", "--retries", "5")
    # The third pause is 4 s long: room to tell "at once" from "after the pause" on a busy
    # machine, where a process takes a while to exit.
    for pause in (1, 2, 4):
        assert f"retrying in {pause} s" in run.stderr.readline()
    run.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = run.communicate(timeout=10)
    assert run.returncode == 130, err
    assert time.monotonic() - started < 3  # before the pause was over
    assert len(server.requests) == 3  # and no fourth attempt
