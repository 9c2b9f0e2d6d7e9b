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
import math

import h5py
import numpy as np

from dataset import layout
from dataset.errors import first_line


class SongFileError(Exception):
    """A file that is not a readable MSD song file, or lacks what was asked of it."""


# What h5py raises for a damaged file: HDF5's errors become OSError, RuntimeError, KeyError,
# ValueError or TypeError (h5py/_errors.pyx), and h5py's conversions of a damaged type or shape
# raise ValueError, TypeError or OverflowError. Caught around h5py's calls only, never around
# code that computes on what was read, so that a bug of ours is not taken for a damaged file.
HDF5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, OverflowError)
# Reads of more bytes than this are first checked against the dataset's bytes in the file: a
# damaged shape can claim terabytes, and HDF5 would fill the memory with them.
LARGE_READ_BYTES = 1 << 26
MOST_COMPRESSED = 1100  # deflate, the MSD's compression, shrinks data at most 1,032 times


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
    except HDF5_ERRORS as err:
        raise SongFileError(f"not a readable HDF5 file ({first_line(err)})") from None
    for group in layout.GROUPS:
        if not _contains(h5, f"{group}/songs"):
            h5.close()
            raise SongFileError(f"missing table /{group}/songs")
    return h5


def _contains(h5, path):
    """Whether the file has an object at ``path``; SongFileError when its links are damaged."""
    try:
        return h5.id.__contains__(path.encode())
    except HDF5_ERRORS as err:
        raise SongFileError(f"cannot read /{path} ({first_line(err)})") from None


def is_summary_file(path):
    """Whether ``path`` is an MSD summary file: the song tables without any per-song array.

    False for anything else, unreadable files included (reading them says what is wrong).
    """
    try:
        with open_h5_file_read(path) as h5:
            return not any(_contains(h5, f"{group}/{name}")
                           for name, group in layout.ARRAYS.items())
    except SongFileError:
        return False


def get_num_songs(h5):
    """Number of songs in the file (1 for a single-track file)."""
    return array_rows(open_dataset(h5, "metadata/songs"))


def open_dataset(h5, path):
    """The low-level dataset at ``path``: h5py's object layer costs more than the read itself."""
    try:
        return h5py.h5d.open(h5.id, path.encode())
    except HDF5_ERRORS as err:
        if _contains(h5, path):  # there, but damaged
            raise SongFileError(f"cannot open /{path} ({first_line(err)})") from None
        if path.endswith("/songs"):
            raise SongFileError(f"missing table /{path}") from None
        raise SongFileError(f"no array /{path} (a summary file has song tables only: "
                            "use --no-segments)") from None


def _path_of(dataset):
    """The dataset's path in its file, for messages."""
    try:
        return h5py.h5i.get_name(dataset).decode("utf-8", errors="replace")
    except HDF5_ERRORS:
        return "a dataset"


def array_rows(dataset):
    """The rows (first axis) of a low-level dataset; SongFileError for a damaged one or a single
    value."""
    return _shape(dataset)[0]


def _shape(dataset):
    """The dataset's shape; SongFileError for a damaged one or a scalar (not an array)."""
    try:
        shape = dataset.shape
    except HDF5_ERRORS as err:
        raise SongFileError(f"cannot read {_path_of(dataset)} ({first_line(err)})") from None
    if not shape:
        raise SongFileError(f"{_path_of(dataset)} is a single value, not an array")
    return shape


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
    try:
        file_type = dataset.get_type()
        dtype = _numpy_dtype(file_type)
    except HDF5_ERRORS as err:
        raise SongFileError(f"cannot read the type of {_path_of(dataset)} "
                            f"({first_line(err)})") from None
    return _read_slice(dataset, start, stop, dtype, file_type)


def _read_slice(dataset, start, stop, dtype, memory_type):
    shape = _shape(dataset)
    if start < 0:  # from a song table's idx_ field
        raise SongFileError(f"{_path_of(dataset)}: a song's part starts at row {start}")
    stop = shape[0] if stop is None else min(stop, shape[0])
    start = min(start, stop)
    count = (stop - start,) + shape[1:]
    size = math.prod(count) * dtype.itemsize
    if size > LARGE_READ_BYTES:
        _check_storage(dataset, shape, size)
    values = np.empty(count, dtype=dtype)
    if count[0]:
        try:
            file_space = dataset.get_space()
            file_space.select_hyperslab((start,) + (0,) * (len(shape) - 1), count)
            dataset.read(h5py.h5s.create_simple(count), file_space, values, mtype=memory_type)
        except HDF5_ERRORS as err:
            raise SongFileError(f"cannot read {_path_of(dataset)} ({first_line(err)})") from None
    return values


def _check_storage(dataset, shape, size):
    """SongFileError when reading ``size`` bytes of ``dataset`` would make more of its bytes in
    the file than compression can: a damaged shape, whose read would fill the memory."""
    try:
        stored = dataset.get_storage_size()
    except HDF5_ERRORS as err:
        raise SongFileError(f"cannot read {_path_of(dataset)} ({first_line(err)})") from None
    if size > stored * MOST_COMPRESSED:
        raise SongFileError(f"{_path_of(dataset)} claims a shape of {shape}, more than its "
                            f"{stored} bytes in the file can hold")


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
    try:
        file_type = dataset.get_type()
        names = [file_type.get_member_name(i) for i in range(file_type.get_nmembers())]
        if field.encode() not in names:
            raise SongFileError(f"song table has no field {field!r}")
        member_type = file_type.get_member_type(names.index(field.encode()))
        dtype = np.dtype([(field, _numpy_dtype(member_type))])
        memory_type = h5py.h5t.py_create(dtype)
    except HDF5_ERRORS as err:
        raise SongFileError(f"cannot read the type of {_path_of(dataset)} "
                            f"({first_line(err)})") from None
    return _read_slice(dataset, start, stop, dtype, memory_type)[field]


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
        if not _contains(h5, f"{group}/{name}"):
            parts[name] = [[] for _ in range(start, stop)]
            continue
        dataset = open_dataset(h5, f"{group}/{name}")
        if songs == 1:
            bounds = [(0, None)]
        else:
            column = layout.idx_column(name)
            if column not in starts_of:
                # One row more: its idx_ field ends the last song's part.
                starts = read_column(open_dataset(h5, f"{group}/songs"), column, start, stop + 1)
                if starts.dtype.kind not in "iu":
                    raise SongFileError(f"/{group}/songs field {column!r} holds {starts.dtype}, "
                                        "not row numbers")
                starts_of[column] = starts.tolist()
            starts = starts_of[column]
            bounds = zip(starts[:stop - start], starts[1:] + [None])
        parts[name] = [check_array(name, read_rows(dataset, first, last)).tolist()
                       for first, last in bounds]
        if _ARRAY_FORMS[name][0] == "S":
            parts[name] = [[decode(value) for value in part] for part in parts[name]]
    return parts


def _kinds(declared):
    """The numpy kinds a value of the layout's type ``declared`` may be read as: a number may be
    stored as any kind of number where the layout declares a float."""
    return "S" if declared.startswith("S") else "iu" if declared.startswith("<i") else "fiu"


# Array name -> (the kinds its values may have, the shape of one of its rows).
_ARRAY_FORMS = {name: (_kinds(declared), ()) if isinstance(declared, str)
                else (_kinds(declared[0]), (declared[1],))
                for name, declared in ((name, layout.ARRAY_TYPES.get(name, "<f8"))
                                       for name in layout.ARRAYS)}


def check_array(name, values):
    """``values``, read from array ``name``, when their rows have the layout's shape and type
    (12 numbers a row for segments_timbre and segments_pitches, a number or a string for the
    others); SongFileError otherwise, since computing on them would fail or mislead."""
    kinds, row_shape = _ARRAY_FORMS[name]
    if values.shape[1:] != row_shape or values.dtype.kind not in kinds:
        raise SongFileError(f"/{layout.ARRAYS[name]}/{name} holds "
                            f"{_in_rows(values.dtype, values.shape[1:])} where the layout has "
                            f"{_in_rows('strings' if kinds == 'S' else 'numbers', row_shape)}")
    return values


def _in_rows(what, row_shape):
    return f"{what} in rows of {' x '.join(map(str, row_shape))}" if row_shape else f"{what}"


def check_table(group, table, fields):
    """``table``, rows read from /``group``/songs, when it has each of ``fields`` with the
    layout's type; SongFileError otherwise."""
    problem = _table_problem(group, table.dtype, tuple(fields))
    if problem:
        raise SongFileError(problem)
    return table


@functools.lru_cache(maxsize=64)
def _table_problem(group, dtype, fields):
    # Every file of a dataset has the same few table types: each is looked at once.
    declared = dict(layout.SONG_TABLES[group])
    for field in fields:
        if field not in (dtype.names or ()):
            return f"/{group}/songs has no field {field!r}"
        member = dtype.fields[field][0]
        if member.shape or member.kind not in _kinds(declared[field]):
            return (f"/{group}/songs field {field!r} holds {member}, "
                    f"not the layout's {declared[field]}")
    return None


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
    rows = check_table(layout.ARRAYS[name], _song_rows(h5, layout.ARRAYS[name], songidx, 2),
                       [column])
    return int(rows[0][column]), (int(rows[1][column]) if len(rows) == 2 else None)


def get_array(h5, name, songidx=0):
    """Song ``songidx``'s part of the per-song array ``name`` (numpy array; strings decoded)."""
    dataset = open_dataset(h5, f"{layout.ARRAYS[name]}/{name}")
    start, stop = array_bounds(h5, name, songidx)
    values = check_array(name, read_rows(dataset, start, stop))
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
