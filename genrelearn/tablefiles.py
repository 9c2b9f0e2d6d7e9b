"""Song tables on disk: a CSV file, a Parquet file or a folder of Parquet parts, read and written.

Usage:
    from genrelearn import tablefiles
    songs = tablefiles.read("data/SongCSV.parquet")           # extract's folder of parts
    table = tablefiles.read_table("data/preprocessed_data.parquet", splits=("train", "val"))
    tablefiles.write(chunks, "data/preprocessed_data.parquet")   # by the name: CSV or Parquet

A table is a DataFrame whose identifier, label and text columns come first and whose numbers
follow as one float32 block: 200 features of a million songs take 0.8 GB, and a slice of rows
or of the block's columns is a view, not a copy. Parquet is read a batch at a time into that
block, so reading a table needs little more memory than the table. Parquet needs pyarrow (an
optional extra: pip install -r requirements-scale.txt).
"""
import contextlib
import importlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dataset.errors import first_line
from dataset.features import CROP
from dataset.outputs import atomic_output
from dataset.writers import SCALE_INSTALL

LABEL = "genre"
SOURCE = "genre_source"
SPLIT = "split"
SPLIT_SEED = "split_seed"
TRAIN_ONLY = "train_only"
TRACE_COLUMNS = ("track_id", "artist_id", CROP)
# Text that describes a label rather than the song: never a feature, even when numeric.
LABEL_COLUMNS = (LABEL, SOURCE, "tags", SPLIT, SPLIT_SEED, TRAIN_ONLY)
# Identifiers and names are text even when they look like numbers.
TEXT_COLUMNS = TRACE_COLUMNS[:2] + LABEL_COLUMNS[:4] + (TRAIN_ONLY, "song_id", "artist_name",
                                                        "title", "release")
# Identifiers: *_id / *Id / id, MSD's *_7digitalid, *_playmeid, *_mbid, idx_* index fields,
# SecondHandSongs' shs_* clique numbers, and pandas' leftover "Unnamed: 0" index.
IDENTIFIER = re.compile(r"(^|[^a-z])(id|ids|idx|index|mbid|uuid|guid)$|(?-i:[a-z0-9]I[dD])$"
                        r"|7digitalid$|playmeid$|^idx_|^shs_|^unnamed: ?\d+$", re.IGNORECASE)
PART_ROWS = 100_000  # rows a Parquet row group (and a CSV chunk) written at a time


class TableError(Exception):
    """A table that cannot be used: unreadable, no genre, too few genres or songs, no feature."""


def is_identifier(name):
    """Whether a column name looks like an identifier (track_id, artistId, artist_mbid, ...)."""
    return bool(IDENTIFIER.search(str(name)))


def may_be_feature(name):
    """Whether a column of numbers by this name may be a feature: not a trace, label or
    identifier column."""
    return name not in TRACE_COLUMNS + LABEL_COLUMNS and not is_identifier(name)


def is_parquet(path):
    """Whether ``path`` names a Parquet table: a .parquet file or a folder (of parts)."""
    path = Path(path)
    return path.suffix.lower() == ".parquet" or path.is_dir()


def read(path, splits=None, crops=True, text=None):
    """The table at ``path`` (CSV, Parquet file, folder of Parquet parts) as a DataFrame: text
    columns first, numbers after as one float32 block. With ``splits``, only the rows of those
    splits, grouped in that order (each split's rows are then a slice); with ``crops`` False,
    no songs' crops; with ``text``, of a Parquet table's other columns only those named (a
    million titles and tag lists take gigabytes), the others' names in ``attrs["unread"]``.
    ``attrs["file_rows"]`` holds the rows of the whole file. TableError when it cannot be
    read."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: no such file")
    if is_parquet(path):
        return _read_parquet(path, splits, crops, text)
    if not path.is_file():
        raise TableError(f"{path}: not a file")
    return _read_csv(path, splits, crops)


def _read_csv(path, splits, crops):
    try:
        table = pd.read_csv(path, dtype={name: "string" for name in TEXT_COLUMNS},
                            low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as err:
        raise TableError(f"{path}: not a readable CSV ({first_line(err)})") from None
    except OSError as err:  # a permission, a disk error
        raise TableError(f"{path}: cannot read it ({err.strerror or first_line(err)})") from None
    numbers = [name for name in table.columns if _holds_numbers(table[name])]
    kept = _kept_rows(table, splits, crops)
    block = np.empty((len(kept), len(numbers)), dtype=np.float32)
    for column, name in enumerate(numbers):
        block[:, column] = table[name].to_numpy(dtype=np.float32, na_value=np.nan)[kept]
    others = table.drop(columns=numbers).iloc[kept].reset_index(drop=True)
    return _assembled(others, block, numbers, len(table))


def _holds_numbers(column):
    return (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
            and may_be_feature(column.name))


def _read_parquet(path, splits, crops, text_columns):
    pq = _pyarrow_parquet(path)
    files = [path] if path.is_file() else sorted(
        part for part in path.rglob("*.parquet") if not part.name.startswith("."))
    if not files:
        raise TableError(f"{path}: no Parquet file in this folder")
    try:
        schema = pq.read_schema(files[0])
        numbers = [field.name for field in schema if _is_number_field(field)]
        others = [name for name in schema.names if name not in numbers]
        read = [name for name in others if text_columns is None or name in text_columns]
        text = pd.concat([pq.read_table(part, columns=read).to_pandas() for part in files],
                         ignore_index=True)
        kept = _kept_rows(text, splits, crops)
        block = _number_block(pq, files, numbers, kept, len(text))
    except (OSError, ValueError, KeyError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise TableError(f"{path}: not a readable Parquet table ({first_line(err)})") from None
    rows = len(text)
    if len(kept) < rows or (kept != np.arange(rows)).any():  # else the text needs no copy
        text = text.iloc[kept].reset_index(drop=True)
    table = _assembled(text, block, numbers, rows)
    table.attrs["unread"] = [name for name in others if name not in read]
    return table


def _pyarrow_parquet(path):
    try:
        return importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise TableError(f"{path}: reading Parquet needs pyarrow, which is not installed: "
                         f"{SCALE_INSTALL}") from None


def _is_number_field(field):
    pa = importlib.import_module("pyarrow")
    return ((pa.types.is_integer(field.type) or pa.types.is_floating(field.type))
            and may_be_feature(field.name))


def _number_block(pq, files, numbers, kept, rows):
    """The ``numbers`` columns of ``files``' rows ``kept`` (positions, in that order) as a
    float32 block, filled a row group at a time (iter_batches would buffer the whole file)."""
    destination = np.full(rows, -1, dtype=np.int64)
    destination[kept] = np.arange(len(kept))
    block = np.empty((len(kept), len(numbers)), dtype=np.float32)
    start = 0
    for part in files:
        reader = pq.ParquetFile(part)
        for group in range(reader.num_row_groups):
            columns = reader.read_row_group(group, columns=numbers).columns
            count = len(columns[0]) if columns else reader.metadata.row_group(group).num_rows
            places = destination[start:start + count]
            chosen = places >= 0
            for column, values in enumerate(columns):
                block[places[chosen], column] = values.to_numpy()[chosen]
            start += count
    if start != rows:
        raise TableError(f"{files[0].parent}: its parts changed while being read")
    return block


def _kept_rows(text, splits, crops):
    """Positions of the rows of ``splits`` (grouped in that order; None: all, in file order),
    without songs' crops unless ``crops``."""
    keep = np.ones(len(text), dtype=bool)
    if not crops and CROP in text.columns:
        keep &= ~(pd.to_numeric(text[CROP], errors="coerce").fillna(0) > 0).to_numpy()
    if splits is None:
        return np.flatnonzero(keep)
    if SPLIT not in text.columns:
        raise TableError(f"no {SPLIT} column: is it the output of preprocess.py?")
    split = text[SPLIT].astype("string").to_numpy(dtype=object)
    return np.concatenate([np.flatnonzero(keep & (split == name)) for name in splits])


def _assembled(text, block, numbers, file_rows):
    table = pd.concat([text, pd.DataFrame(block, columns=numbers, copy=False)], axis=1)
    table.attrs["file_rows"] = file_rows
    return table


def write(chunks, path):
    """Write the DataFrames ``chunks`` gives (the same columns each) to ``path`` as one table,
    Parquet when its name ends in .parquet, else CSV; it appears only when complete."""
    with atomic_output(path) as temporary:
        if Path(path).suffix.lower() == ".parquet":
            _write_parquet(chunks, temporary, path)
        else:
            with open(temporary, "w", newline="") as stream:
                for number, chunk in enumerate(chunks):
                    chunk.to_csv(stream, header=number == 0, index=False)


def _write_parquet(chunks, temporary, path):
    pa, pq = importlib.import_module("pyarrow"), _pyarrow_parquet(path)
    with contextlib.ExitStack() as stack:
        writer = None
        for chunk in chunks:
            batch = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                # Dictionaries pay for repeated text, never for a feature's distinct floats.
                text = [field.name for field in batch.schema
                        if not pa.types.is_floating(field.type)]
                writer = stack.enter_context(pq.ParquetWriter(temporary, batch.schema,
                                                              use_dictionary=text))
            writer.write_table(batch.cast(writer.schema), row_group_size=PART_ROWS)


def read_table(path, splits=None, crops=True):
    """A training table written by preprocess.py (CSV or Parquet; tablefiles.read gives its
    layout: ``read``, and what ``splits`` and ``crops`` choose); TableError without genre, split or
    features."""
    table = read(path, splits, crops)
    missing = [name for name in (LABEL, SPLIT) if name not in table.columns]
    if missing:
        raise TableError(f"{path}: no {' or '.join(missing)} column: "
                         "is it the output of preprocess.py?")
    if not feature_names_of(table):
        raise TableError(f"{path}: no feature column")
    return table


def feature_names_of(table):
    """The feature columns of a training table: everything but trace, label and split."""
    return [name for name in table.columns if name not in TRACE_COLUMNS + LABEL_COLUMNS]
