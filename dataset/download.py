"""Download the Million Song Subset, the full dataset's summary file, the Last.fm dataset's subset
or tag database, the list of song-track mismatches, or tagtraum's genre labels.

Usage:
    python -m dataset.download TARGET [--dest data] [--url URL] [--sha256 HEX] [--retries 5]

TARGET is one of TARGETS below (--help lists them). The file is fetched into DEST/<file>.partial
with a progress bar, resumed with an HTTP Range request when the connection breaks, then checked:
an archive reads to the end, holds no absolute or ``..`` path and has the expected entry at its top;
lastfm_tags.db is a sound SQLite database with the Last.fm dataset's tables; the summary file
opens as HDF5 with the three song tables; the mismatch list has that list's line format; and the
file matches --sha256 when given. Only then is it renamed to DEST/<file>. An archive is unpacked
through a temporary folder in DEST that is renamed into place. Nothing ever looks finished before
it is, and what is already there is skipped: the result (nothing to do) or a checked archive (no
new download).

Ctrl-C stops it within a moment, even while the network is silent (a second Ctrl-C at once), and
keeps DEST/<file>.partial: run the same command again to resume.

Exit status: 0 done; 1 network failure (run again: it resumes); 2 bad arguments or a bad download;
130 interrupted (run again: it resumes).
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "the download")

import argparse
import contextlib
import functools
import gzip
import hashlib
import os
import queue
import shutil
import sqlite3
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from dataset import cli, songfiles
from dataset.errors import InputError, describe, first_line

# Small enough that a cut connection loses little (what arrived before the cut is kept) and that
# Ctrl-C is noticed between chunks.
CHUNK = 64 * 1024
TIMEOUT = (30, 60)  # seconds to connect, seconds of silence mid-download
RETRIES = 5
POLL = 0.1  # seconds between looks at Ctrl-C while waiting for the network or a retry


class DownloadError(Exception):
    """The network failed us: unreachable, HTTP error, connection cut too many times."""


class _Retry(Exception):
    """A failure worth another attempt (connection cut, server error)."""


# --- What a download must be before it gets its final name -------------------------------------

def check_archive(path, unpacked, is_zip):
    """Raise InputError unless ``path`` (a zip, else a .tar.gz) reads to the end without error,
    every member stays inside the destination, and ``unpacked`` is at its top level."""
    path = Path(path)
    try:
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                for info in archive.infolist():
                    with archive.open(info) as member:
                        _read_to_end(member)  # zipfile checks the member's CRC at its end
        else:
            with gzip.open(path, "rb") as stream:
                with tarfile.open(fileobj=stream, mode="r|") as archive:
                    names = [member.name for member in _checking(archive)]
                _read_to_end(stream)  # to the end, where gzip checks its CRC and length
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(f"{path}: corrupt archive ({describe(err)})") from None
    unsafe = [name for name in names
              if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts]
    if unsafe:
        raise InputError(f"{path}: unsafe member path {unsafe[0]!r} (absolute or with '..')")
    top = sorted({PurePosixPath(name).parts[0] for name in names if PurePosixPath(name).parts})
    if unpacked not in top:
        raise InputError(f"{path}: no {unpacked} at the archive's top level (it holds: "
                         f"{', '.join(top[:5]) or 'nothing'})")


# The columns dataset/labels.py reads: tid_tag holds ROWIDs of tids and tags, val the tag count.
TAG_DATABASE_COLUMNS = {"tids": {"tid"}, "tags": {"tag"}, "tid_tag": {"tid", "tag", "val"}}


def check_tag_database(path):
    """Raise InputError unless ``path`` is a sound SQLite database (PRAGMA quick_check: every
    page there and well-formed) with the Last.fm dataset's tables and columns."""
    # immutable: read the file as it is, creating no journal or lock beside it.
    uri = f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            # A query aborts when Ctrl-C was pressed (quick_check reads the whole file).
            db.set_progress_handler(interrupts.requested, 100_000)
            for table, needed in TAG_DATABASE_COLUMNS.items():
                columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if not columns:
                    raise InputError(f"{path}: not the Last.fm dataset's lastfm_tags.db (no "
                                     f"table {table})")
                if needed - columns:
                    raise InputError(f"{path}: not the Last.fm dataset's lastfm_tags.db (table "
                                     f"{table} has no column {min(needed - columns)})")
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as err:
        interrupts.check()  # the query was aborted for Ctrl-C, not by a damaged file
        raise InputError(f"{path}: not a sound SQLite database ({first_line(err)})") from None
    if verdict != "ok":
        raise InputError(f"{path}: damaged SQLite database ({first_line(verdict)})")


def check_summary_file(path):
    """Raise InputError unless ``path`` opens as HDF5 with the summary file's three song tables:
    the fields the getters read, one row per song in each, the first and last rows readable."""
    # Imported here: h5py and numpy take longer to import than everything else this command
    # needs, and only this target uses them.
    from dataset import hdf5_getters, layout

    try:
        with hdf5_getters.open_h5_file_read(path) as h5:
            rows = {}
            for group in layout.GROUPS:
                table = hdf5_getters.open_dataset(h5, f"{group}/songs")
                rows[group] = table.shape[0]
                first = hdf5_getters.read_rows(table, 0, 1)
                missing = sorted(set(layout.song_fields(group)) - set(first.dtype.names or ()))
                if missing:
                    raise hdf5_getters.SongFileError(f"/{group}/songs has no field {missing[0]}")
                hdf5_getters.read_rows(table, rows[group] - 1)  # the last chunk decodes too
    except hdf5_getters.SongFileError as err:
        raise InputError(f"{path}: not the dataset's summary file ({err})") from None
    except (OSError, ValueError, KeyError) as err:  # a chunk that does not decode
        raise InputError(f"{path}: damaged HDF5 file ({describe(err)})") from None
    if len(set(rows.values())) > 1 or not rows["metadata"]:
        counts = ", ".join(f"/{group}/songs {count:,}" for group, count in rows.items())
        raise InputError(f"{path}: not the dataset's summary file (rows: {counts})")


def check_mismatch_list(path):
    """Raise InputError unless ``path`` is a non-empty text of mismatch lines and nothing else."""
    with open(path, "rb") as stream:
        lines = stream.read().splitlines()
    if not lines:
        raise InputError(f"{path}: empty, not the list of song-track mismatches")
    for number, line in enumerate(lines, 1):
        if not songfiles.MISMATCH_LINE.fullmatch(line.decode("utf-8", errors="replace")):
            shown = line[:60].decode("utf-8", errors="replace")
            raise InputError(f"{path}: line {number} is not a mismatch line "
                             f"('ERROR: <SO... TR...> ... != ...'): {shown!r}")


# --- The targets --------------------------------------------------------------------------------

class Target(NamedTuple):
    url: str
    file: str               # the downloaded file's name under --dest
    about: str              # what it is, for --help
    check: Callable         # check(path) raises InputError unless the download is usable
    unpacked: str = None    # an archive's top-level entry; once it exists, the target is done


def _archive(url, file, about, unpacked):
    check = functools.partial(check_archive, unpacked=unpacked, is_zip=file.endswith(".zip"))
    return Target(url, file, about, check, unpacked)


MSD_FILES = "http://millionsongdataset.com/sites/default/files"
# Each address as the dataset's own pages publish it (a test pins them):
#   msd-subset, msd-summary  millionsongdataset.com/pages/getting-dataset/ ("Million Song
#                            Subset"; "Additional files": msd_summary_file.h5)
#   lastfm-*                 millionsongdataset.com/lastfm/ ("Getting the dataset")
#   mismatches               millionsongdataset.com/tasteprofile/ and the blog post
#                            millionsongdataset.com/blog/12-2-12-fixing-matching-errors/
#   tagtraum-*               www.tagtraum.com/msd_genre_datasets.html ("Genre Ground Truth")
TARGETS = {
    "msd-subset": _archive("http://labrosa.ee.columbia.edu/~dpwe/tmp/millionsongsubset.tar.gz",
                           "millionsongsubset.tar.gz",
                           "the 10,000 song files of the subset, ~1.8 GB", "MillionSongSubset"),
    "msd-summary": Target(f"{MSD_FILES}/AdditionalFiles/msd_summary_file.h5",
                          "msd_summary_file.h5", "song tables of all 1,000,000 songs, ~300 MB",
                          check_summary_file),
    "lastfm-subset": _archive(f"{MSD_FILES}/lastfm/lastfm_subset.zip", "lastfm_subset.zip",
                              "Last.fm tags of the subset's songs, one JSON file each",
                              "lastfm_subset"),
    "lastfm-tags-db": Target(f"{MSD_FILES}/lastfm/lastfm_tags.db", "lastfm_tags.db",
                             "Last.fm tags of all 505,216 tagged tracks, SQLite",
                             check_tag_database),
    "mismatches": Target(f"{MSD_FILES}/tasteprofile/sid_mismatches.txt", "sid_mismatches.txt",
                         "the 19,094 song-track mismatches, ~2 MB", check_mismatch_list),
    "tagtraum-cd1": _archive("https://www.tagtraum.com/genres/msd_tagtraum_cd1.cls.zip",
                             "msd_tagtraum_cd1.cls.zip", "genres of 133,676 tracks",
                             "msd_tagtraum_cd1.cls"),
    "tagtraum-cd2": _archive("https://www.tagtraum.com/genres/msd_tagtraum_cd2.cls.zip",
                             "msd_tagtraum_cd2.cls.zip", "genres of 280,831 tracks, some "
                             "ambiguous", "msd_tagtraum_cd2.cls"),
    "tagtraum-cd2c": _archive("https://www.tagtraum.com/genres/msd_tagtraum_cd2c.cls.zip",
                              "msd_tagtraum_cd2c.cls.zip", "CD2 without the ambiguous ones, "
                              "191,401 tracks", "msd_tagtraum_cd2c.cls"),
}


# --- Fetching -----------------------------------------------------------------------------------

def fetch(url, partial, retries=RETRIES, timeout=TIMEOUT):
    """Download ``url`` into the file ``partial``, continuing the bytes it already holds.

    ``retries`` counts attempts in a row that brought no new byte (with a growing pause); an
    attempt that made progress is resumed at once. Raises DownloadError when it gives up, and
    KeyboardInterrupt after Ctrl-C (see interrupts), with what arrived kept in ``partial``.
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
        _pause(wait)


def _fetch_once(url, partial, timeout):
    """One HTTP request continuing ``partial``; returns once the whole file is there."""
    offset = _size(partial)
    headers = {"Accept-Encoding": "identity"}  # the bytes as published, never re-encoded
    if offset:
        headers["Range"] = f"bytes={offset}-"
    stream = _in_background(functools.partial(_get, url, headers, timeout))
    try:
        response = next(stream)
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
            for chunk in stream:
                out.write(chunk)
                bar.update(len(chunk))
    except requests.RequestException as err:
        raise _Retry(describe(_innermost(err))) from None
    finally:
        stream.close()
    if total is not None and _size(partial) < total:
        raise _Retry(f"connection closed at {_size(partial):,} of {total:,} bytes")


def _get(url, headers, timeout):
    """The streamed response to a GET, then its body in chunks."""
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        yield response
        yield from response.iter_content(CHUNK)


def _in_background(produce):
    """The items of the generator ``produce()``, made in a helper thread.

    A socket read in this (the main) thread would notice Ctrl-C only when data or the timeout
    came, up to a minute later on a silent connection; waiting on a queue instead, this thread
    calls interrupts.check() before every item and every POLL seconds. The helper's exceptions
    are raised here. Closing this generator stops the helper at its next item (a helper still
    blocked in a read is a daemon thread: it never keeps the process alive).
    """
    # Reading runs ahead of writing by two items at most: what Ctrl-C can discard.
    items = queue.Queue(maxsize=2)
    stop = threading.Event()

    def run():
        made = produce()
        try:
            for item in made:
                if not _offer(items, ("item", item), stop):
                    return
            _offer(items, ("end", None), stop)
        except Exception as err:  # noqa: BLE001 - handed to the main thread, which raises it
            _offer(items, ("error", err), stop)
        finally:
            made.close()

    threading.Thread(target=run, daemon=True, name="download").start()
    try:
        while True:
            interrupts.check()
            try:
                kind, value = items.get(timeout=POLL)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def _offer(items, item, stop):
    """Put ``item`` on the queue unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            items.put(item, timeout=POLL)
            return True
        except queue.Full:
            continue
    return False


def _pause(seconds):
    """time.sleep that notices Ctrl-C every POLL seconds (it would sleep through it)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        interrupts.check()
        time.sleep(min(left, POLL))
    interrupts.check()


# --- Putting it in place ------------------------------------------------------------------------

def check_download(path, target, sha256=None):
    """Raise InputError unless the downloaded ``path`` matches ``sha256`` (when given) and is a
    sound ``target`` file (its check)."""
    if sha256:
        actual = file_sha256(path)
        if actual != sha256:
            raise InputError(f"{target.file}: SHA-256 is {actual}, expected {sha256}")
    target.check(path)


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
                opened.extractall(work, _checking(opened.infolist()))
        else:
            with tarfile.open(archive, "r:gz") as opened:
                # filter="data" refuses links and paths leaving work
                opened.extractall(work, _checking(opened), filter="data")
        for entry in sorted(work.iterdir(), key=lambda entry: entry.name == unpacked):
            if not (dest / entry.name).exists():
                os.replace(entry, dest / entry.name)
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(f"{archive}: cannot unpack ({describe(err)})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest / unpacked


def get_target(target, url, dest, sha256=None, retries=RETRIES):
    """Download, check and (an archive) unpack ``target`` into the folder ``dest``, skipping what
    is there; returns the path of the result."""
    done = dest / (target.unpacked or target.file)
    if done.exists():
        print(f"{done} is already there; nothing to do")
        return done
    dest.mkdir(parents=True, exist_ok=True)
    downloaded = dest / target.file
    if downloaded.exists():  # an archive not unpacked yet
        print(f"{downloaded} is already downloaded; not fetching it again")
        if sha256 and file_sha256(downloaded) != sha256:
            raise InputError(f"{downloaded}: SHA-256 differs from --sha256; delete it to "
                             f"download again")
    else:
        print(f"downloading {url} to {downloaded}")
        started = time.perf_counter()
        partial = downloaded.with_name(downloaded.name + ".partial")
        fetch(url, partial, retries)
        try:
            check_download(partial, target, sha256)
        except InputError as err:
            partial.unlink()  # a bad download is not worth resuming
            raise InputError(f"{err}; the download was removed") from None
        os.replace(partial, downloaded)
        print(f"downloaded {downloaded} ({_size(downloaded):,} bytes) in "
              f"{time.perf_counter() - started:.1f} s; checked")
    if target.unpacked:
        print(f"unpacked {unpack(downloaded, dest, target.unpacked)}")
    return done


# --- Small helpers ------------------------------------------------------------------------------

def _checking(items):
    """``items``, calling interrupts.check() before each: Ctrl-C stops a long loop over them."""
    for item in items:
        interrupts.check()
        yield item


def _read_to_end(stream):
    while stream.read(CHUNK):
        interrupts.check()


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in _checking(iter(lambda: stream.read(1 << 20), b"")):
            digest.update(block)
    return digest.hexdigest()


def check_url(url):
    """Raise InputError unless ``url`` is an http(s) address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{url}: not an http:// or https:// address")


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


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Defaults shown, and the targets' table kept as written."""


def parse_args(argv):
    width = max(map(len, TARGETS))
    parser = argparse.ArgumentParser(
        prog=cli.module_prog("dataset.download"),
        description="Download and check one of the data sets (unpacking an archive), skipping "
                    "what is there. Ctrl-C keeps the partial download; run again to resume.",
        epilog="targets:\n" + "\n".join(
            f"  {name:{width}}  {t.file}{' -> ' + t.unpacked if t.unpacked else ''}\n"
            f"  {'':{width}}  {t.about}" for name, t in TARGETS.items()),
        formatter_class=_HelpFormatter)
    parser.add_argument("target", choices=sorted(TARGETS), metavar="TARGET",
                        help="what to get (see targets below)")
    parser.add_argument("--url", help="download from here instead of the published address")
    parser.add_argument("--dest", default="data", help="folder for the download (and its "
                                                       "contents)")
    parser.add_argument("--sha256", type=_sha256_hex, help="expected SHA-256 of the download")
    parser.add_argument("--retries", type=int, default=RETRIES,
                        help="attempts in a row without progress before giving up")
    args = parser.parse_args(argv)
    if args.retries < 0:
        parser.error("--retries must be at least 0")
    return args


def main(argv=None):
    with interrupts.stop_on_interrupt():
        args = parse_args(argv)
        target = TARGETS[args.target]
        url = args.url or target.url
        try:
            check_url(url)
            get_target(target, url, Path(args.dest), args.sha256, args.retries)
        except DownloadError as err:
            print(f"download: error: {err}", file=sys.stderr)
            return 1
        except InputError as err:
            print(f"download: error: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # disk full, permissions: say which file, no traceback
            print(f"download: error: {describe(err)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("download: interrupted; run again to resume", file=sys.stderr)
            return 130
    return 0


def command():
    """The installed command, msd-download: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "the download")


if __name__ == "__main__":
    sys.exit(command())
