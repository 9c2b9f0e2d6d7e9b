"""Finding MSD song files, reading one into feature rows, and the dataset's mismatch list:
what extract and predict both do with song files.

Usage:
    from dataset import songfiles
    for path in songfiles.find_song_files(["MillionSongSubset"]):
        rows = songfiles.read_song_file(path)           # one features.columns() dict per song
    for part in songfiles.file_parts(paths):            # a big summary file in 10,000-song parts
        rows = songfiles.read_song_file(part.path, start=part.start, stop=part.stop)
    excluded = songfiles.read_mismatches("sid_mismatches.txt")   # track ids
"""
import re
import sys
import typing
from pathlib import Path

from dataset import features, hdf5_getters, interrupts
# InputError is imported from here by predict.py too.
from dataset.errors import InputError

# A single-track file's name; any other .h5 met in a folder is checked for being a summary file.
TRACK_FILE_NAME = re.compile(r"TR[A-Z0-9]{16}\.h5", re.IGNORECASE)
# A line of sid_mismatches.txt: ERROR: <SONG_ID TRACK_ID> artist  -  title  !=  artist  -  title
MISMATCH_LINE = re.compile(r"ERROR: <SO[0-9A-Z]+ (TR[0-9A-Z]+)> .* != .*")


SONGS_PER_PART = features.SONG_TABLE_BLOCK  # a big file's songs read and written together


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


class FilePart(typing.NamedTuple):
    """Songs ``start`` to ``stop`` - 1 of the file at ``path``, which holds ``songs`` songs; the
    whole file when ``songs`` is None. A big aggregate or summary file is read in parts, each
    written (and journalled for --resume) as it comes, so that memory does not grow with it."""
    path: str
    start: int = 0
    stop: int | None = None
    songs: int | None = None

    def __str__(self):  # its name in the --resume journal, the failures list and messages
        return self.path if self.songs is None else f"{self.path}[{self.start}:{self.stop}]"

    @property
    def share(self):
        """The part's share of its file's songs."""
        return 1 if self.songs is None else (self.stop - self.start) / self.songs


def file_parts(paths, songs_per_part=SONGS_PER_PART):
    """Each of ``paths`` as one FilePart, or as parts of ``songs_per_part`` songs when it holds
    more. Only files not named like a single-track file are opened to count their songs."""
    for path in paths:
        songs = 1 if TRACK_FILE_NAME.fullmatch(Path(path).name) else _count_songs(path)
        if songs <= songs_per_part:
            yield FilePart(path)
            continue
        for start in range(0, songs, songs_per_part):
            yield FilePart(path, start, min(start + songs_per_part, songs), songs)


def _count_songs(path):
    try:
        with hdf5_getters.open_h5_file_read(path) as h5:
            return hdf5_getters.get_num_songs(h5)
    except hdf5_getters.SongFileError:  # read whole, reading it says what is wrong with it
        return 1


def read_song_file(path, segments=True, song_arrays=(), start=0, stop=None,
                   crops=features.NO_CROPS):
    """One feature dict per song ``start`` to ``stop`` - 1 (every song by default) of the file at
    ``path``, with its ``crops`` (features.Crops) under features.CROPS.

    Raises hdf5_getters.SongFileError (a one-line reason) for a damaged or incomplete file:
    hdf5_getters turns what HDF5 raises into it and checks the shape and type of what is read.
    Any other exception, one raised while computing on what was read fine, is a bug and
    propagates as it is.

    Each dict also holds the song's part of each array named in ``song_arrays`` (as a list, empty
    when the file has no such array, as a summary file), for label sources that need them.
    """
    with hdf5_getters.open_h5_file_read(path) as h5:
        rows = list(features.file_features(h5, segments, start, stop, crops))
        if song_arrays:
            for name, parts in hdf5_getters.song_array_parts(h5, song_arrays, start,
                                                             stop).items():
                for row, part in zip(rows, parts, strict=True):
                    row[name] = part
        return rows


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
