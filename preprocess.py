"""Clean SongCSV.csv into a model-ready table with an artist-disjoint train/val/test split.

Usage:
    python preprocess.py --input data/SongCSV.csv --output data/preprocessed_data.csv

Rows without a genre, duplicate songs and genres with fewer than --min-per-genre songs are
dropped; identifier and free-text columns are not features; constant columns are dropped.
Missing numeric values are kept empty and flagged: each feature column with a gap gets a 0/1
column ``<name>_missing``; training imputes the gap with the train split's mean (0 after
standardisation), so test rows never shape the imputation. ``track_id`` and ``artist_id`` stay for
tracing rows back and are never features. The ``split`` column is stratified by genre and, when
``artist_id`` is present, artist-disjoint: one artist's songs all land in the same split.
"""
import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from dataset import features
from dataset.errors import first_line

LABEL = "genre"
SPLIT = "split"
SPLITS = ("train", "val", "test")
TRACE_COLUMNS = ("track_id", "artist_id")
# year is an identity column of SongCSV.csv but a number worth learning from (era).
FEATURE_COLUMNS = ("year",) + features.SONG_LEVEL_COLUMNS + features.SEGMENT_COLUMNS
MISSING_SUFFIX = "_missing"


class PreprocessError(Exception):
    """Input that cannot become a training table: unreadable, no genre, one genre, no feature."""


class OutputError(Exception):
    """An output path that cannot be written, e.g. under a file or without permission."""


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    An OSError while writing becomes OutputError naming ``path``.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        os.replace(temporary, path)
    except OSError as err:
        raise OutputError(f"{path}: cannot write it ({err.strerror}: {err.filename})") from None
    finally:
        # Not only FileNotFoundError: under a file, unlink raises NotADirectoryError.
        with contextlib.suppress(OSError):
            temporary.unlink()


def read_csv(path):
    """A CSV as a DataFrame, ids and labels as strings; PreprocessError when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise PreprocessError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    # Identifiers and names are text even when they look like numbers.
    text_columns = {name: "string" for name in features.TEXT_IDENTITY_COLUMNS
                    + (LABEL, "genre_source", "tags", SPLIT)}
    try:
        return pd.read_csv(path, dtype=text_columns, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as err:
        raise PreprocessError(f"{path}: not a readable CSV ({first_line(err)})") from None


def preprocess(df, min_per_genre=10, val_fraction=0.15, test_fraction=0.15, seed=0, notes=None):
    """The training table of a SongCSV-style DataFrame (see module docstring).

    Returns columns: track_id and artist_id (where present), genre, split, then the features.
    When ``notes`` is a list, a line per decision (what was dropped and why) is appended to it.
    """
    notes = [] if notes is None else notes
    if LABEL not in df.columns:
        raise PreprocessError(f"no {LABEL!r} column (columns: {', '.join(map(str, df.columns))})")
    df = _drop_unlabelled(df, notes)
    df = _drop_duplicates(df, notes)
    df = _drop_rare_genres(df, min_per_genre, notes)
    numeric = feature_frame(df, _feature_columns(df, notes))
    feature_names = _drop_constant(numeric, notes)
    gappy = [name for name in feature_names if numeric[name].isna().any()]
    if gappy:
        notes.append(f"{len(gappy)} feature columns have missing values, flagged in "
                     f"<name>{MISSING_SUFFIX} and imputed with the train mean when training: "
                     + _summarise(gappy))
    flags = [f"{name}{MISSING_SUFFIX}" for name in gappy]
    trace = [name for name in TRACE_COLUMNS if name in df.columns]
    table = pd.concat([df[trace + [LABEL]], feature_frame(numeric, feature_names + flags)],
                      axis=1).reset_index(drop=True)
    table.insert(len(trace) + 1, SPLIT, assign_splits(
        table[LABEL].to_numpy(), artist_groups(table), val_fraction, test_fraction, seed))
    return _drop_genres_missing_from_train(table, notes)


def feature_frame(df, feature_names):
    """Numeric columns ``feature_names`` of ``df``, computing ``<name>_missing`` flags from
    ``<name>`` when the flag itself is not a column (a raw SongCSV row at prediction time).

    The one place missing-value flags are made. Raises PreprocessError naming absent columns.
    """
    columns, absent = {}, []
    for name in feature_names:
        base = name[:-len(MISSING_SUFFIX)] if name.endswith(MISSING_SUFFIX) else None
        if name in df.columns:
            columns[name] = _numeric(df[name], name)
        elif base is not None and base in df.columns:
            columns[name] = df[base].isna().astype("float64")
        else:
            absent.append(name)
    if absent:
        raise PreprocessError(f"missing feature columns: {_summarise(absent)}")
    return pd.DataFrame(columns, index=df.index)


def read_table(path):
    """A table written by ``preprocess``; PreprocessError when it lacks genre, split or features."""
    table = read_csv(path)
    missing = [name for name in (LABEL, SPLIT) if name not in table.columns]
    if missing:
        raise PreprocessError(f"{path}: no {' or '.join(missing)} column: "
                              "is it the output of preprocess.py?")
    if not feature_names_of(table):
        raise PreprocessError(f"{path}: no feature column")
    return table


def split_arrays(table, split, feature_names, classes):
    """(features float32, genre indices int64) of the rows of ``split``, columns in order."""
    rows = table[table[SPLIT] == split]
    index = {genre: i for i, genre in enumerate(classes)}
    unknown = sorted(set(rows[LABEL]) - set(index))
    if unknown:
        raise PreprocessError(f"{split} split has genres the model does not know: "
                              + _summarise(unknown))
    # Copies: pandas hands out read-only views, which torch.from_numpy warns about.
    features = feature_frame(rows, feature_names).to_numpy(dtype=np.float32, copy=True)
    return features, rows[LABEL].map(index).to_numpy(dtype=np.int64, copy=True)


def train_genres(table):
    """The genres of the train split, sorted: a model's classes in output order."""
    return sorted(table.loc[table[SPLIT] == "train", LABEL].unique())


def feature_names_of(table):
    """The feature columns of a preprocessed table: everything but trace, label and split."""
    return [name for name in table.columns if name not in TRACE_COLUMNS + (LABEL, SPLIT)]


def assign_splits(genres, groups, val_fraction, test_fraction, seed):
    """'train'/'val'/'test' per row, stratified by genre, rows sharing a group kept together."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise PreprocessError("--val-fraction and --test-fraction must be in (0, 1) with a sum < 1")
    splits = np.full(len(genres), "train", dtype=object)
    test = holdout_mask(genres, groups, test_fraction, seed)
    rest = np.flatnonzero(~test)
    val = holdout_mask(genres[rest], None if groups is None else groups[rest],
                       val_fraction / (1 - test_fraction), seed)
    splits[test] = "test"
    splits[rest[val]] = "val"
    return splits


def holdout_mask(genres, groups, fraction, seed):
    """A stratified, group-disjoint holdout of about ``fraction`` of the rows (1/round(1/fraction)).

    Groups are kept whole, so the fraction is met in expectation, not exactly.
    """
    with warnings.catch_warnings():
        # Genres with fewer songs than folds are expected; they just miss some splits.
        warnings.simplefilter("ignore", UserWarning)
        try:
            _, held = next(stratified_folds(genres, groups, max(2, round(1 / fraction)), seed))
        except ValueError as err:
            unit = "songs" if groups is None else "artists"
            raise PreprocessError(f"too few {unit} to hold out {fraction:.0%} of them "
                                  f"({err})") from None
    mask = np.zeros(len(genres), dtype=bool)
    mask[held] = True
    return mask


def stratified_folds(genres, groups, n_folds, seed):
    """(other rows, fold rows) index pairs of ``n_folds`` shuffled folds stratified by genre;
    rows sharing a group (None: no groups) stay in one fold. ValueError when too few rows."""
    if groups is None:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
    return splitter.split(np.zeros(len(genres)), genres, groups)


def split_counts(table):
    """Songs per genre (rows) and split (columns), with totals."""
    counts = pd.crosstab(table[LABEL], table[SPLIT]).reindex(columns=list(SPLITS), fill_value=0)
    counts["all"] = counts.sum(axis=1)
    counts.loc["all"] = counts.sum(axis=0)
    return counts


def _drop_unlabelled(df, notes):
    genre = df[LABEL].astype("string").str.strip()
    labelled = genre.notna() & (genre != "")
    if not labelled.all():
        notes.append(f"dropped {(~labelled).sum()} rows without a genre")
    df = df[labelled].copy()
    df[LABEL] = genre[labelled]
    return df


def _drop_duplicates(df, notes):
    # One recording can appear under several track_ids; song_id names the song itself.
    for key in ("track_id", "song_id"):
        if key in df.columns:
            duplicate = df[key].notna() & df.duplicated(key)
            if duplicate.any():
                notes.append(f"dropped {duplicate.sum()} duplicate songs (same {key})")
                df = df[~duplicate]
    return df


def _drop_rare_genres(df, min_per_genre, notes):
    counts = df[LABEL].value_counts()
    rare = counts[counts < min_per_genre]
    if len(rare):
        notes.append(f"dropped {len(rare)} genres with fewer than {min_per_genre} songs: "
                     + ", ".join(f"{genre} ({n})" for genre, n in rare.items()))
    kept = counts.index[counts >= min_per_genre]
    if len(kept) < 2:
        found = ", ".join(f"{genre} ({n})" for genre, n in counts.items()) or "none"
        raise PreprocessError(f"need at least two genres with {min_per_genre} or more songs; "
                              f"found: {found}")
    return df[df[LABEL].isin(kept)]


def _feature_columns(df, notes):
    present = [name for name in FEATURE_COLUMNS if name in df.columns]
    if not present:
        raise PreprocessError("no numeric feature column (expected some of "
                              f"{_summarise(FEATURE_COLUMNS)})")
    ignored = [str(name) for name in df.columns
               if name not in present and name not in TRACE_COLUMNS + (LABEL,)]
    if ignored:
        notes.append("not features (identifiers, free text, labels, unknown): "
                     + _summarise(ignored))
    return present


def _numeric(column, name):
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        try:
            return pd.to_numeric(column.astype("object"), errors="raise").astype("float64")
        except (ValueError, TypeError):
            bad = column[pd.to_numeric(column.astype("object"), errors="coerce").isna()
                         & column.notna()]
            raise PreprocessError(f"column {name!r} is not numeric (e.g. {bad.iloc[0]!r})") \
                from None
    return column.astype("float64")


def _drop_constant(numeric, notes):
    feature_names = list(numeric.columns)
    constant = [name for name in feature_names if numeric[name].nunique(dropna=False) <= 1]
    if constant:
        notes.append(f"dropped constant columns: {', '.join(constant)}")
    kept = [name for name in feature_names if name not in constant]
    if not kept:
        raise PreprocessError("no feature column varies across the songs")
    return kept


def artist_groups(table):
    """The artist id of each row as a group label for splitting; None without artist_id."""
    if "artist_id" not in table.columns:
        return None
    artists = table["artist_id"].astype("object")
    # A song without an artist id is its own group.
    unknown = artists.isna()
    artists[unknown] = [f"__row{i}" for i in np.flatnonzero(unknown)]
    return artists.to_numpy()


def _drop_genres_missing_from_train(table, notes):
    in_train = set(table.loc[table[SPLIT] == "train", LABEL])
    orphans = sorted(set(table[LABEL]) - in_train)
    if orphans:
        notes.append("dropped genres whose artists all fell outside the train split: "
                     + ", ".join(orphans))
        table = table[table[LABEL].isin(in_train)].reset_index(drop=True)
    if table[LABEL].nunique() < 2:
        raise PreprocessError("fewer than two genres left in the train split: lower "
                              "--min-per-genre's bar or add songs")
    return table


def _summarise(names, limit=8):
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--input", default="data/SongCSV.csv", help="SongCSV-style CSV")
    parser.add_argument("--output", default="data/preprocessed_data.csv", help="training table")
    parser.add_argument("--min-per-genre", type=int, default=10,
                        help="drop genres with fewer songs than this")
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="share of songs (whole artists) held out for validation")
    parser.add_argument("--test-fraction", type=float, default=0.15,
                        help="share of songs (whole artists) held out for the final test")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    notes = []
    try:
        raw = read_csv(args.input)
        table = preprocess(raw, args.min_per_genre, args.val_fraction, args.test_fraction,
                           args.seed, notes)
        with atomic_output(args.output) as temporary:
            table.to_csv(temporary, index=False)
    except (PreprocessError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"read {len(raw)} rows from {args.input}")
    for note in notes:
        print(f"- {note}")
    n_features = len(feature_names_of(table))
    grouped = "artist-disjoint" if "artist_id" in table.columns else "no artist_id: not grouped"
    print(f"kept {len(table)} songs, {table[LABEL].nunique()} genres, {n_features} features; "
          f"split (seed {args.seed}, stratified by genre, {grouped}):")
    print(split_counts(table).to_string())
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
