"""Read Million Song Dataset HDF5 files with h5py, through the official getters' API.

Usage:
    from dataset import hdf5_getters as g
    with g.open_h5_file_read("TRAAABD128F429CF47.h5") as h5:
        for songidx in range(g.get_num_songs(h5)):
            print(g.get_title(h5, songidx), g.get_tempo(h5, songidx))

Same names and signatures as the dataset authors' ``hdf5_getters.py`` (which needs PyTables 2),
without PyTables. Works on single-track files, aggregate files (many songs, arrays concatenated
and sliced with the ``idx_*`` fields) and summary files (song tables only: array getters raise
``SongFileError``). Strings come back as ``str``. Compound fields are read by name, so their
on-disk (alphabetical) order does not matter. The layout read is dataset/layout.py's.
"""
import functools

import h5py
import numpy as np

from dataset import layout
from dataset.errors import first_line


class SongFileError(Exception):
    """A file that is not a readable MSD song file, or lacks what was asked of it."""


class SongFile:
    """An open MSD HDF5 file (a context manager); ``id`` is its low-level h5py FileID, which
    every getter reads through."""

    def __init__(self, file_id):
        self.id = file_id

    def close(self):
        self.id.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_h5_file_read(h5filename):
    """Open an MSD HDF5 file for reading (a SongFile); raise SongFileError if it is not one.

    Opened at h5py's low level: h5py.File's object layer costs a third of the time it takes
    to open a small song file.
    """
    try:
        h5 = SongFile(h5py.h5f.open(str(h5filename).encode(), h5py.h5f.ACC_RDONLY))
    except (OSError, ValueError) as err:
        raise SongFileError(f"not a readable HDF5 file ({first_line(err)})") from None
    for group in layout.GROUPS:
        if not h5.id.__contains__(f"{group}/songs".encode()):
            h5.close()
            raise SongFileError(f"missing table /{group}/songs")
    return h5


def is_summary_file(path):
    """Whether ``path`` is an MSD summary file: the song tables without any per-song array.

    False for anything else, unreadable files included (reading them says what is wrong).
    """
    try:
        with open_h5_file_read(path) as h5:
            return not any(h5.id.__contains__(f"{group}/{name}".encode())
                           for name, group in layout.ARRAYS.items())
    except SongFileError:
        return False


def get_num_songs(h5):
    """Number of songs in the file (1 for a single-track file)."""
    return open_dataset(h5, "metadata/songs").shape[0]


def open_dataset(h5, path):
    """The low-level dataset at ``path``: h5py's object layer costs more than the read itself."""
    try:
        return h5py.h5d.open(h5.id, path.encode())
    except KeyError:
        if path.endswith("/songs"):
            raise SongFileError(f"missing table /{path}") from None
        raise SongFileError(f"no array /{path} (a summary file has song tables only: "
                            "use --no-segments)") from None


def decode(value):
    """A fixed-length byte string from the file as str (UTF-8, undecodable bytes replaced)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def decode_column(values):
    """A column of fixed-length byte strings as a list of str, each as ``decode`` gives it."""
    if len(values) > 1:
        # numpy finds where each value ends by looking through its whole width (1,024 bytes for
        # a title); one pass over the column's bytes finds the longest, and the rest is cut off.
        values = values.astype(f"S{_longest(values)}")
    return [value.decode("utf-8", errors="replace") for value in values.tolist()]


def _longest(values):
    """The length of the longest of the fixed-length byte strings ``values`` (at least 1)."""
    used = np.flatnonzero(np.bitwise_or.reduce(values[:, None].view(np.uint8), axis=0))
    return int(used[-1]) + 1 if len(used) else 1


def read_rows(dataset, start=0, stop=None):
    """``dataset[start:stop]`` along the first axis of a low-level h5py dataset.

    Read in the file's own data type: HDF5 then needs no conversion, where h5py's slicing sets
    one up for every dataset it opens, which costs more than the read itself on small song files.
    """
    file_type = dataset.get_type()
    return _read_slice(dataset, start, stop, _numpy_dtype(file_type), file_type)


def _read_slice(dataset, start, stop, dtype, memory_type):
    shape = dataset.shape
    stop = shape[0] if stop is None else min(stop, shape[0])
    start = min(start, stop)
    count = (stop - start,) + shape[1:]
    values = np.empty(count, dtype=dtype)
    if count[0]:
        file_space = dataset.get_space()
        file_space.select_hyperslab((start,) + (0,) * (len(shape) - 1), count)
        dataset.read(h5py.h5s.create_simple(count), file_space, values, mtype=memory_type)
    return values


@functools.lru_cache(maxsize=64)
def _dtype_of_encoded_type(encoded_type):
    return h5py.h5t.decode(encoded_type).dtype


def _numpy_dtype(file_type):
    # h5py builds a compound table's dtype member by member (0.2 ms, more than reading the row);
    # every MSD file has the same few types, so build each once.
    return _dtype_of_encoded_type(file_type.encode())


def read_column(dataset, field, start=0, stop=None):
    """Rows ``start`` to ``stop`` - 1 (all by default) of column ``field`` of a low-level
    compound dataset (a song table) as a numpy array: HDF5 converts that member only, not the
    whole rows."""
    file_type = dataset.get_type()
    names = [file_type.get_member_name(i) for i in range(file_type.get_nmembers())]
    if field.encode() not in names:
        raise SongFileError(f"song table has no field {field!r}")
    member_type = file_type.get_member_type(names.index(field.encode()))
    dtype = np.dtype([(field, _numpy_dtype(member_type))])
    return _read_slice(dataset, start, stop, dtype, h5py.h5t.py_create(dtype))[field]


def song_array_parts(h5, names, start=0, stop=None):
    """{name: the part of array ``name`` of each song ``start`` to ``stop`` - 1 (every song by
    default), in song order, as a list (strings decoded)} for each of ``names``; every song's
    part is empty when the file has no such array (a summary file). One read per song, so an
    aggregate file's whole array is never held; a single-track file's part is the whole array,
    read without its song table."""
    songs = get_num_songs(h5)
    stop = songs if stop is None else min(stop, songs)
    starts_of = {}  # idx_ column -> where each song's part starts (shared by array families)
    parts = {}
    for name in names:
        group = layout.ARRAYS[name]
        try:
            dataset = h5py.h5d.open(h5.id, f"{group}/{name}".encode())
        except KeyError:
            parts[name] = [[] for _ in range(start, stop)]
            continue
        if songs == 1:
            bounds = [(0, None)]
        else:
            column = layout.idx_column(name)
            if column not in starts_of:
                # One row more: its idx_ field ends the last song's part.
                starts_of[column] = read_column(open_dataset(h5, f"{group}/songs"), column,
                                                start, stop + 1).tolist()
            starts = starts_of[column]
            bounds = zip(starts[:stop - start], starts[1:] + [None])
        parts[name] = [read_rows(dataset, first, last).tolist() for first, last in bounds]
        if dataset.get_type().get_class() == h5py.h5t.STRING:
            parts[name] = [[decode(value) for value in part] for part in parts[name]]
    return parts


def _song_rows(h5, group, songidx, count):
    """Up to ``count`` rows of /<group>/songs from song ``songidx``, which must exist."""
    table = open_dataset(h5, f"{group}/songs")
    if not 0 <= songidx < table.shape[0]:
        raise SongFileError(f"song index {songidx} out of range (file has {table.shape[0]})")
    return read_rows(table, songidx, songidx + count)


def _table_row(h5, group, songidx):
    return _song_rows(h5, group, songidx, 1)[0]


def _field(h5, group, name, songidx):
    row = _table_row(h5, group, songidx)
    if name not in row.dtype.names:
        raise SongFileError(f"/{group}/songs has no field {name!r}")
    return decode(row[name].item())


def array_bounds(h5, name, songidx=0):
    """(start, stop) of song ``songidx``'s slice of array ``name``; stop None for the last song."""
    column = layout.idx_column(name)
    # This song's row and the next one, whose idx_ field ends this song's slice.
    rows = _song_rows(h5, layout.ARRAYS[name], songidx, 2)
    return int(rows[0][column]), (int(rows[1][column]) if len(rows) == 2 else None)


def get_array(h5, name, songidx=0):
    """Song ``songidx``'s part of the per-song array ``name`` (numpy array; strings decoded)."""
    dataset = open_dataset(h5, f"{layout.ARRAYS[name]}/{name}")
    start, stop = array_bounds(h5, name, songidx)
    values = read_rows(dataset, start, stop)
    if values.dtype.kind == "S":
        return np.array([decode(v) for v in values], dtype=object)
    return values


def _make_field_getter(group, name):
    def getter(h5, songidx=0):
        return _field(h5, group, name, songidx)
    getter.__name__ = f"get_{name}"
    getter.__doc__ = f"Field {name} of /{group}/songs for song ``songidx``."
    return getter


def _make_array_getter(name):
    def getter(h5, songidx=0):
        return get_array(h5, name, songidx)
    getter.__name__ = f"get_{name}"
    getter.__doc__ = f"Array /{layout.ARRAYS[name]}/{name} for song ``songidx``."
    return getter


# One getter per field and per array, named as in the official module (get_tempo, get_title,
# get_segments_timbre, ...). Generated from the layout so no name can drift.
for _group in layout.GROUPS:
    for _name in layout.song_fields(_group):
        globals()[f"get_{_name}"] = _make_field_getter(_group, _name)
for _name in layout.ARRAYS:
    globals()[f"get_{_name}"] = _make_array_getter(_name)
del _group, _name
