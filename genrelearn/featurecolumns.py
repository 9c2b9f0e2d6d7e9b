"""Feature choice: which columns of a song table are features, and their values as float32.

Usage:
    from genrelearn.featurecolumns import choose_features, numeric_features
    names, notes = choose_features(songs, include=["timbre_*"])
    values = numeric_features(songs, names)

A feature is a numeric column that is no identifier, trace or label column (tablefiles names
those); text that reads as numbers counts as numeric.
"""
import fnmatch

import numpy as np
import pandas as pd

from genrelearn import tablefiles
from genrelearn.summaries import summarise
from genrelearn.tablefiles import LABEL_COLUMNS, TRACE_COLUMNS, TableError, is_identifier


def candidate_features(df):
    """Columns of ``df`` that can be features: numeric, not an identifier, trace or label column.

    Returns (features, others) where ``others`` maps each other column to why it is not one
    (the text columns a reader left unread, ``attrs["unread"]``, among them).
    """
    found, others = [], {name: "text" if tablefiles.may_be_feature(name) else
                         "identifier or label" for name in df.attrs.get("unread", ())}
    for name in df.columns:
        if name in TRACE_COLUMNS or name in LABEL_COLUMNS or is_identifier(name):
            others[name] = "identifier or label"
        elif not _is_number_column(df[name]) and _as_numbers(df[name]) is None:
            others[name] = "text"
        else:
            found.append(name)
    return found, others


def choose_features(df, include=None, exclude=None):
    """(feature columns, notes): every candidate feature, or those matching ``include``'s shell
    patterns, minus those matching ``exclude``'s. TableError for a pattern that matches none."""
    found, others = candidate_features(df)
    notes = []
    for reason in ("identifier or label", "text"):
        named = [name for name, why in others.items() if why == reason]
        if named:
            notes.append(f"not features ({reason}): {summarise(named, limit=12)}")
    for patterns, keep in ((include, True), (exclude, False)):
        for pattern in patterns or ():
            if not fnmatch.filter(found, pattern):
                raise TableError(f"{pattern!r} matches no numeric feature column (candidates: "
                                 f"{summarise(found)})")
        if patterns:
            found = [name for name in found
                     if any(fnmatch.fnmatchcase(name, p) for p in patterns) == keep]
    if not found:
        raise TableError("no numeric feature column")
    return found, notes


def number_view(df, names):
    """(a float32 array, the positions of ``names`` in its columns): a view of the columns'
    block where they lie in one float32 run of ``df`` (a table tablefiles read), else a copy.
    TableError naming absent or non-numeric columns."""
    positions = df.columns.get_indexer(list(names))
    if len(positions) and (positions >= 0).all():
        first, last = positions.min(), positions.max() + 1
        run = df.iloc[:, first:last]
        if all(dtype == np.float32 for dtype in run.dtypes):
            return run.to_numpy(), positions - first
    return numeric_features(df, names).to_numpy(dtype=np.float32), np.arange(len(names))


def numeric_features(df, names):
    """Columns ``names`` of ``df`` as float32 (a view of a table's block where it holds them
    in that order); TableError naming absent or non-numeric ones."""
    absent = [name for name in names if name not in df.columns]
    if absent:
        raise TableError(f"missing feature columns: {summarise(absent)}")
    selected = df[list(names)]
    if all(dtype == np.float32 for dtype in selected.dtypes):
        return selected
    columns = {}
    for name in names:
        columns[name] = _as_numbers(df[name])
        if columns[name] is None:
            bad = df[name][pd.to_numeric(df[name].astype("object"), errors="coerce").isna()
                           & df[name].notna()]
            raise TableError(f"column {name!r} is not numeric (e.g. {bad.iloc[0]!r})")
        columns[name] = columns[name].astype(np.float32)
    return pd.DataFrame(columns, index=df.index)


def _is_number_column(column):
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _as_numbers(column):
    """A column as float64, or None when it holds text that is not a number."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    numbers = pd.to_numeric(column.astype("object"), errors="coerce")
    if (numbers.isna() & column.notna()).any():
        return None
    return numbers.astype("float64")
