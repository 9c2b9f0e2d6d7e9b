"""Download and unpack the Million Song Subset, the Last.fm subset or tagtraum's genre labels.

Usage:
    python -m dataset.download TARGET [--dest data] [--url URL] [--sha256 HEX] [--retries 5]

TARGET is msd-subset, lastfm-subset, tagtraum-cd1 or tagtraum-cd2c. The archive is fetched into
DEST/<archive>.partial, resumed with an HTTP Range request when the connection breaks, checked
(it opens to the end, holds no absolute or ``..`` path, and matches --sha256 when given), renamed
to DEST/<archive> and unpacked through a temporary folder in DEST that is renamed into place, so
nothing ever looks finished before it is. What is already there is skipped: the unpacked result
(nothing to do) or the checked archive (no new download).

Exit status: 0 done; 1 network failure (run again: it resumes); 2 bad arguments or a bad archive.
"""
import argparse
import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as `python dataset/download.py`: make `dataset` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from tqdm import tqdm

from dataset.errors import describe


class Target(NamedTuple):
    url: str
    archive: str    # the file name under --dest
    unpacked: str   # what the archive holds at its top level; once it exists, the target is done


# Each address as the dataset's own pages publish it (a test pins them):
#   msd-subset    millionsongdataset.com/pages/getting-dataset/ ("Million Song Subset")
#   lastfm-subset millionsongdataset.com/lastfm/ ("Getting the dataset")
#   tagtraum-*    www.tagtraum.com/msd_genre_datasets.html ("Genre Ground Truth")
TARGETS = {
    "msd-subset": Target("http://labrosa.ee.columbia.edu/~dpwe/tmp/millionsongsubset.tar.gz",
                         "millionsongsubset.tar.gz", "MillionSongSubset"),
    "lastfm-subset": Target(
        "http://millionsongdataset.com/sites/default/files/lastfm/lastfm_subset.zip",
        "lastfm_subset.zip", "lastfm_subset"),
    "tagtraum-cd1": Target("https://www.tagtraum.com/genres/msd_tagtraum_cd1.cls.zip",
                           "msd_tagtraum_cd1.cls.zip", "msd_tagtraum_cd1.cls"),
    "tagtraum-cd2c": Target("https://www.tagtraum.com/genres/msd_tagtraum_cd2c.cls.zip",
                            "msd_tagtraum_cd2c.cls.zip", "msd_tagtraum_cd2c.cls"),
}
# Small enough that a cut connection loses little (what arrived before the cut is kept).
CHUNK = 64 * 1024
TIMEOUT = (30, 60)  # seconds to connect, seconds of silence mid-download
RETRIES = 5


class DownloadError(Exception):
    """The network failed us: unreachable, HTTP error, connection cut too many times."""


class ArchiveError(Exception):
    """Bad input: an unusable argument, or an archive that is corrupt, unsafe or unexpected."""


class _Retry(Exception):
    """A failure worth another attempt (connection cut, server error)."""


def fetch(url, partial, retries=RETRIES, timeout=TIMEOUT):
    """Download ``url`` into the file ``partial``, continuing the bytes it already holds.

    ``retries`` counts attempts in a row that brought no new byte (with a growing pause); an
    attempt that made progress is resumed at once. Raises DownloadError when it gives up.
    """
    partial = Path(partial)
    failures = 0
    while True:
        before = _size(partial)
        try:
            _fetch_once(url, partial, timeout)
            return
        except _Retry as err:
            error = err
        if _size(partial) > before:
            failures = 0
            _warn(f"{error}; resuming at {_size(partial):,} bytes")
            continue
        failures += 1
        if failures > retries:
            raise DownloadError(f"{url}: {error} (gave up after {retries} retries; run again to "
                                f"resume)")
        wait = min(2 ** (failures - 1), 30)
        _warn(f"{error}; retrying in {wait} s")
        time.sleep(wait)


def _fetch_once(url, partial, timeout):
    """One HTTP request continuing ``partial``; returns once the whole file is there."""
    offset = _size(partial)
    headers = {"Accept-Encoding": "identity"}  # the bytes as published, never re-encoded
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
            if response.status_code == 416 and offset:
                # Nothing after our last byte: complete if the server's size is ours.
                if _content_range_total(response) == offset:
                    return
                partial.unlink()
                raise _Retry("partial file does not match the server's file; starting over")
            if response.status_code >= 500:
                raise _Retry(f"HTTP {response.status_code} {response.reason}")
            if response.status_code >= 400:
                raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}")
            if response.status_code == 206:
                if _content_range_start(response) != offset:
                    partial.unlink()
                    raise _Retry("server sent a range we did not ask for; starting over")
                mode = "ab"
            else:
                # 200: the server ignores Range and sends the whole file, which replaces the
                # partial one instead of extending it.
                mode, offset = "wb", 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            with open(partial, mode) as out, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=partial.name, disable=None, file=sys.stderr) as bar:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as err:
        raise _Retry(describe(_innermost(err))) from None
    if total is not None and _size(partial) < total:
        raise _Retry(f"connection closed at {_size(partial):,} of {total:,} bytes")


def check_download(path, target, sha256=None):
    """Raise ArchiveError unless the downloaded ``path`` matches ``sha256`` (when given) and is
    a sound archive of ``target`` (see check_archive)."""
    if sha256:
        actual = file_sha256(path)
        if actual != sha256:
            raise ArchiveError(f"{target.archive}: SHA-256 is {actual}, expected {sha256}")
    check_archive(path, target.unpacked, is_zip=target.archive.endswith(".zip"))


def check_archive(path, unpacked, is_zip):
    """Raise ArchiveError unless ``path`` (a zip, else a .tar.gz) reads to the end without error,
    every member stays inside the destination, and ``unpacked`` is at its top level."""
    path = Path(path)
    try:
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
                if bad is not None:
                    raise ArchiveError(f"{path}: corrupt archive (member {bad} fails its CRC)")
                names = archive.namelist()
        else:
            with gzip.open(path, "rb") as stream:
                with tarfile.open(fileobj=stream, mode="r|") as archive:
                    names = [member.name for member in archive]
                while stream.read(CHUNK):  # to the end, where gzip checks its CRC and length
                    pass
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ArchiveError(f"{path}: corrupt archive ({describe(err)})") from None
    unsafe = [name for name in names
              if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts]
    if unsafe:
        raise ArchiveError(f"{path}: unsafe member path {unsafe[0]!r} (absolute or with '..')")
    top = sorted({PurePosixPath(name).parts[0] for name in names if PurePosixPath(name).parts})
    if unpacked not in top:
        raise ArchiveError(f"{path}: no {unpacked} at the archive's top level (it holds: "
                           f"{', '.join(top[:5]) or 'nothing'})")


def unpack(archive, dest, unpacked):
    """Unpack ``archive`` into a temporary folder in ``dest``, then rename its top-level entries
    into ``dest``, ``unpacked`` last so that its presence means the whole archive is there."""
    archive, dest = Path(archive), Path(dest)
    for stale in dest.glob(f".{unpacked}.unpacking-*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{unpacked}.unpacking-", dir=dest))
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(work)
        else:
            with tarfile.open(archive, "r:gz") as opened:
                opened.extractall(work, filter="data")  # refuses links and paths leaving work
        for entry in sorted(work.iterdir(), key=lambda entry: entry.name == unpacked):
            if not (dest / entry.name).exists():
                os.replace(entry, dest / entry.name)
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ArchiveError(f"{archive}: cannot unpack ({describe(err)})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest / unpacked


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_url(url):
    """Raise ArchiveError unless ``url`` is an http(s) address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArchiveError(f"{url}: not an http:// or https:// address")


def _content_range_start(response):
    value = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _content_range_total(response):
    value = response.headers.get("Content-Range", "")  # "bytes */TOTAL"
    try:
        return int(value.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


def _size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _innermost(err):
    """The error requests wrapped (in a urllib3 error, in ...): its message is the readable one."""
    while True:
        inner = err.__cause__ or next((a for a in err.args if isinstance(a, BaseException)), None)
        reason = getattr(err, "reason", None)
        inner = reason if isinstance(reason, BaseException) else inner
        if inner is None:
            return err
        err = inner


def _warn(message):
    print(f"download: {message}", file=sys.stderr)


def _sha256_hex(value):
    if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise argparse.ArgumentTypeError(f"{value!r} is not 64 hexadecimal digits")
    return value.lower()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m dataset.download",
        description="Download, check and unpack one of the data sets, skipping what is there.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("target", choices=sorted(TARGETS),
                        help="what to get: " + "; ".join(f"{name}: {t.archive} -> {t.unpacked}"
                                                         for name, t in TARGETS.items()))
    parser.add_argument("--url", help="download from here instead of the published address")
    parser.add_argument("--dest", default="data", help="folder for the archive and its contents")
    parser.add_argument("--sha256", type=_sha256_hex, help="expected SHA-256 of the archive")
    parser.add_argument("--retries", type=int, default=RETRIES,
                        help="attempts in a row without progress before giving up")
    args = parser.parse_args(argv)
    if args.retries < 0:
        parser.error("--retries must be at least 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    target = TARGETS[args.target]
    url = args.url or target.url
    dest = Path(args.dest)
    unpacked, archive = dest / target.unpacked, dest / target.archive
    try:
        check_url(url)
        if unpacked.exists():
            print(f"{unpacked} is already there; nothing to do")
            return 0
        dest.mkdir(parents=True, exist_ok=True)
        if archive.exists():
            print(f"{archive} is already downloaded; not fetching it again")
            if args.sha256 and file_sha256(archive) != args.sha256:
                raise ArchiveError(f"{archive}: SHA-256 differs from --sha256; delete it to "
                                   f"download again")
        else:
            print(f"downloading {url} to {archive}")
            started = time.perf_counter()
            partial = archive.with_name(archive.name + ".partial")
            fetch(url, partial, args.retries)
            try:
                check_download(partial, target, args.sha256)
            except ArchiveError as err:
                partial.unlink()  # a bad download is not worth resuming
                raise ArchiveError(f"{err}; the download was removed") from None
            os.replace(partial, archive)
            print(f"downloaded {archive} ({_size(archive):,} bytes) in "
                  f"{time.perf_counter() - started:.1f} s; archive checked")
        print(f"unpacked {unpack(archive, dest, target.unpacked)}")
    except DownloadError as err:
        print(f"download: error: {err}", file=sys.stderr)
        return 1
    except ArchiveError as err:
        print(f"download: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, permissions: say which file, no traceback
        print(f"download: error: {describe(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("download: interrupted; run again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
