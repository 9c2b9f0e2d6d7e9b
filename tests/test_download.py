"""python -m dataset.download against a real HTTP server on 127.0.0.1 serving small archives."""
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dataset import download

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
    ``ignore_range`` answers every request with the whole file (200)."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.cuts, self.ignore_range = {}, {}, False
        self.requests = []  # (path, Range header or None, status, body bytes sent)

    def url(self, path):
        return f"http://127.0.0.1:{self.server_port}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server
        data = server.files.get(self.path)
        wanted = self.headers.get("Range")
        if data is None:
            return self._reply(404, b"", wanted)
        start = int(wanted[len("bytes="):].split("-")[0]) if wanted else 0
        if wanted and not server.ignore_range:
            if start >= len(data):
                return self._reply(416, b"", wanted, {"Content-Range": f"bytes */{len(data)}"})
            return self._reply(206, data[start:], wanted,
                               {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        return self._reply(200, data, wanted)

    def _reply(self, status, body, wanted, headers=None):
        cuts = self.server.cuts.get(self.path) or []
        sent = cuts.pop(0) if cuts and status in (200, 206) else len(body)
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:sent])
        self.wfile.flush()
        if sent < len(body):
            self.close_connection = True  # the connection breaks mid-file
        self.server.requests.append((self.path, wanted, status, sent))

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
PUBLISHED = {
    "msd-subset": "http://labrosa.ee.columbia.edu/~dpwe/tmp/millionsongsubset.tar.gz",
    "lastfm-subset": "http://millionsongdataset.com/sites/default/files/lastfm/lastfm_subset.zip",
    "tagtraum-cd1": "https://www.tagtraum.com/genres/msd_tagtraum_cd1.cls.zip",
    "tagtraum-cd2c": "https://www.tagtraum.com/genres/msd_tagtraum_cd2c.cls.zip",
}


def test_every_target_downloads_from_its_published_address():
    assert {name: target.url for name, target in download.TARGETS.items()} == PUBLISHED
