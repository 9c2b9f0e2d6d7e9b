"""Finding MSD song files, reading one into feature rows, and the dataset's mismatch list:
what extract and predict both do with song files.

Usage:
    from dataset import songfiles
    for path in songfiles.find_song_files(["MillionSongSubset"]):
        rows = songfiles.read_song_file(path)           # one features.columns() dict per song
    excluded = songfiles.read_mismatches("sid_mismatches.txt")   # track ids
"""
import re
import sys
from pathlib import Path

from dataset import features, hdf5_getters, interrupts
from dataset.errors import describe

# A single-track file's name; any other .h5 met in a folder is checked for being a summary file.
TRACK_FILE_NAME = re.compile(r"TR[A-Z0-9]{16}\.h5", re.IGNORECASE)
# A line of sid_mismatches.txt: ERROR: <SONG_ID TRACK_ID> artist  -  title  !=  artist  -  title
MISMATCH_LINE = re.compile(r"ERROR: <SO[0-9A-Z]+ (TR[0-9A-Z]+)> .* != .*")


class InputError(Exception):
    """Bad command-line input: a missing path, no song file, an unusable list or output, an
    optional package that is not installed, an unreachable scheduler."""


def find_song_files(paths):
    """The .h5 files (any case) named by ``paths`` or found under them, sorted per argument.

    Summary files found in a folder are passed over with a note on stderr: their songs are the
    per-track files' (the subset's top folder holds both). Named as a PATH, one is kept.
    """
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            matches, summaries = [], []
            for candidate in sorted(path.rglob("*")):
                interrupts.check()  # a million files take a while to list
                if candidate.suffix.lower() != ".h5" or not candidate.is_file():
                    continue
                if (not TRACK_FILE_NAME.fullmatch(candidate.name)
                        and hdf5_getters.is_summary_file(candidate)):
                    summaries.append(candidate)
                else:
                    matches.append(str(candidate))
            for summary in summaries:
                print(f"passed over {summary}: a summary file, whose songs are those of the "
                      "per-track files (name it as a PATH to read it)", file=sys.stderr)
            if not matches:
                raise InputError(f"{path}: no .h5 song file in this folder"
                                 + (" (only summary files: name them to read them)"
                                    if summaries else ""))
            found.extend(matches)
        elif path.is_file():
            found.append(str(path))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def read_song_file(path, segments=True, song_arrays=()):
    """One feature dict per song in the file at ``path``; raises SongFileError for a bad file.

    Each dict also holds the song's part of each array named in ``song_arrays`` (as a list, empty
    when the file has no such array, as a summary file), for label sources that need them.
    """
    try:
        with hdf5_getters.open_h5_file_read(path) as h5:
            rows = list(features.file_features(h5, segments))
            if song_arrays:
                for name, parts in hdf5_getters.song_array_parts(h5, song_arrays).items():
                    for row, part in zip(rows, parts, strict=True):
                        row[name] = part
            return rows
    except hdf5_getters.SongFileError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure inside a damaged file is that file's
        raise hdf5_getters.SongFileError(describe(err)) from None


def read_mismatches(path):
    """The track ids of the dataset's sid_mismatches.txt (lines ``ERROR: <SO... TR...> artist -
    title != artist - title``); raises InputError for a file that is not such a list."""
    track_ids = set()
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                match = MISMATCH_LINE.fullmatch(line.rstrip("\r\n"))
                if match is None:
                    raise InputError(f"--mismatches {path}:{number}: expected 'ERROR: <SO... "
                                     f"TR...> artist - title != artist - title', got "
                                     f"{line.strip()[:60]!r}")
                track_ids.add(match.group(1))
    except OSError as err:
        raise InputError(f"--mismatches {path}: {err.strerror or err}") from None
    if not track_ids:
        raise InputError(f"--mismatches {path}: no mismatch line (an empty file?)")
    return frozenset(track_ids)
