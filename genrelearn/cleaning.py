"""Cleaning a SongCSV-style table into a training table (what preprocess.py does).

Usage:
    from genrelearn import cleaning, tablefiles
    table = cleaning.clean(tablefiles.read("data/SongCSV.csv"))
    plan = cleaning.plan_cleaning(songs)          # a million songs: the plan, then
    tablefiles.write(plan.chunks(songs), "data/preprocessed_data.parquet")   # chunk by chunk

A training table (preprocessed_data.csv) holds ``track_id`` and ``artist_id`` (for tracing rows
back and grouping by artist; never features), ``genre`` and ``genre_source`` (its label
source), ``split`` (train/val/test) and ``split_seed`` (preprocess --split-seed), and the
numeric feature columns, gaps left empty (the classifier imputes them from the train rows).
Rows that may only train (weaker labels, songs' crops) are marked in a ``train_only`` column,
crops also in ``crop`` (extract --crops).
"""
import dataclasses
import fnmatch

import numpy as np
import pandas as pd

from genrelearn import tablefiles
from genrelearn.featurecolumns import choose_features, number_view
from genrelearn.splitting import artist_groups, assign_splits, crop_mask, learning_rows
from genrelearn.summaries import summarise
from genrelearn.tablefiles import (LABEL, SOURCE, SPLIT, SPLIT_SEED, TRACE_COLUMNS, TRAIN_ONLY,
                                   TableError)

# The text columns cleaning reads: who a row is, its label and where the label came from.
CLEANING_COLUMNS = TRACE_COLUMNS + (LABEL, SOURCE, "song_id")


@dataclasses.dataclass(frozen=True)
class Split:
    """How preprocess splits the songs that may be scored: shares of val and test artists."""
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0


@dataclasses.dataclass
class Cleaning:
    """What ``plan_cleaning`` decided for a table: its ``rows`` that stay (positions, in their
    new order), their ``marks`` (trace, label, source, split, split_seed and train_only
    columns; one row each, in that order) and the feature columns kept (``features``)."""
    rows: np.ndarray
    marks: pd.DataFrame
    features: list

    def table(self, df):
        """The cleaned table of ``df`` (the table the plan was made for), in memory."""
        return next(self.chunks(df, max(len(self.rows), 1)))

    def chunks(self, df, size=tablefiles.PART_ROWS):
        """The cleaned table of ``df`` in DataFrames of ``size`` rows: only a chunk's rows are
        copied at a time (tablefiles.write takes them)."""
        values, columns = number_view(df, self.features)
        for start in range(0, max(len(self.rows), 1), size):
            rows = self.rows[start:start + size]
            yield pd.concat([self.marks.iloc[start:start + size].reset_index(drop=True),
                             pd.DataFrame(values[np.ix_(rows, columns)], columns=self.features,
                                          copy=False)], axis=1)


def clean(df, min_per_genre=10, include=None, exclude=None, train_only=None, split=Split(),
          notes=None):
    """The training table of a SongCSV-style DataFrame (see module docstring and
    ``plan_cleaning``), in memory."""
    return plan_cleaning(df, min_per_genre, include, exclude, train_only, split, notes).table(df)


def plan_cleaning(df, min_per_genre=10, include=None, exclude=None, train_only=None,
                  split=Split(), notes=None):
    """How to clean a SongCSV-style DataFrame into a training table, as a Cleaning.

    Drops rows without a genre, duplicate songs (same track_id or song_id), genres with fewer
    than ``min_per_genre`` songs and constant columns; features are chosen by
    ``choose_features``. Songs labelled by a ``train_only`` source (shell patterns of
    genre_source, e.g. "echonest-terms": weaker labels) only ever train: they are not counted
    for ``min_per_genre``, never validate or test, get a true ``train_only`` column, and are
    dropped when their artist is in the val or test split. So are songs' crops (rows with a
    ``crop`` number above 0, from extract --crops), except those of train-only songs, which
    are dropped. With ``split`` None every row is in the train split (for cross-validation,
    which makes its own folds), and no train-only row is dropped for its artist. When ``notes``
    is a list, a line per decision is appended to it. Only the text columns are copied: the
    features of a table read by tablefiles stay where they are until ``Cleaning.chunks``.
    """
    notes = [] if notes is None else notes
    if LABEL not in df.columns:
        raise TableError(f"no {LABEL!r} column (columns: {summarise(map(str, df.columns))})")
    info = df[[name for name in df.columns if name in CLEANING_COLUMNS]]
    info = _drop_duplicates(_drop_unlabelled(info.set_axis(pd.RangeIndex(len(info))), notes),
                            notes)
    weak_labels = _train_only_mask(info, train_only)
    info = _drop_crops_of_train_only_songs(info, weak_labels, notes)
    crops = crop_mask(info)
    weak = weak_labels[info.index] | crops
    info = _drop_rare_genres(info, weak, min_per_genre, notes)
    weak = weak[info.index]
    features = _varying_features(df, info.index.to_numpy(), include, exclude, notes)
    # Where each label came from stays: a model's record counts its label sources.
    trace = info[[name for name in TRACE_COLUMNS + (LABEL, SOURCE) if name in info.columns]]
    splits = pd.Series("train", index=trace.index, name=SPLIT)
    if split:
        strong = trace[~weak]
        splits[~weak] = assign_splits(strong[LABEL].to_numpy(), artist_groups(strong),
                                      split.val_fraction, split.test_fraction, split.seed)
    marked = bool(train_only) or crops.any()
    seed = [pd.Series(split.seed, index=trace.index, name=SPLIT_SEED)] if split else []
    marks = pd.concat([trace, splits] + seed + ([weak.rename(TRAIN_ONLY)] if marked else []),
                      axis=1)
    if marked:
        marks = _drop_train_only_of_held_out_artists(marks, bool(train_only), notes)
    marks = _drop_genres_missing_from_train(marks, notes)
    return Cleaning(marks.index.to_numpy(), marks.reset_index(drop=True), features)


def _varying_features(df, rows, include, exclude, notes):
    """The chosen feature columns that vary over ``rows`` (positions), gaps noted."""
    names, feature_notes = choose_features(df, include, exclude)
    notes += feature_notes
    values, columns = number_view(df, names)
    any_gap, all_gaps = np.zeros(len(names), dtype=bool), np.ones(len(names), dtype=bool)
    low, high = np.full(len(names), np.inf), np.full(len(names), -np.inf)
    for start in range(0, len(rows), tablefiles.PART_ROWS):
        chunk = values[np.ix_(rows[start:start + tablefiles.PART_ROWS], columns)]
        gaps = np.isnan(chunk)
        any_gap |= gaps.any(axis=0)
        all_gaps &= gaps.all(axis=0)
        low, high = np.fmin(low, np.fmin.reduce(chunk)), np.fmax(high, np.fmax.reduce(chunk))
    # One value, or none: what nunique(dropna=False) <= 1 says.
    constant = all_gaps | (~any_gap & (low == high))
    if constant.any():
        notes.append(f"dropped constant columns: {summarise(np.array(names)[constant])}")
    if constant.all():
        raise TableError("no feature column varies across the songs")
    gappy = [name for name, gap in zip(names, any_gap & ~constant) if gap]
    if gappy:
        notes.append(f"{len(gappy)} feature columns have missing values (imputed with the train "
                     "mean, and flagged to the classifier): " + summarise(gappy))
    return [name for name, fixed in zip(names, constant) if not fixed]


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
    crops = crop_mask(df)
    songs = df[~crops]
    for key in ("track_id", "song_id"):
        if key in songs.columns:
            duplicate = songs[key].notna() & songs.duplicated(key)
            if duplicate.any():
                notes.append(f"dropped {duplicate.sum()} duplicate songs (same {key})")
                songs = songs[~duplicate]
    if not crops.any():
        return songs
    # A song's crops share its track_id, and go where it goes.
    return df[df.index.isin(songs.index) | (crops & df["track_id"].isin(songs["track_id"]))]


def _train_only_mask(df, patterns):
    """Whether each row's label comes from a source matching ``patterns`` (genre_source)."""
    if not patterns:
        return pd.Series(False, index=df.index)
    if SOURCE not in df.columns:
        raise TableError("train-only sources need a genre_source column (extract --labels "
                         "writes it)")
    sources = df[SOURCE].astype("string").fillna("")
    return sources.map(lambda source: any(fnmatch.fnmatchcase(source, pattern)
                                          for pattern in patterns)).astype(bool)


def _drop_crops_of_train_only_songs(df, weak, notes):
    # Copies of a weaker label taught the MLP that label's mistakes several times over (real
    # benchmark's inner folds, README: "Crops"); a crop shares its song's genre_source.
    drop = crop_mask(df) & weak
    if drop.any():
        notes.append(f"dropped {drop.sum()} crops of songs with training-only labels")
    return df[~drop]


def _drop_train_only_of_held_out_artists(table, weak_sources, notes):
    held_out = table[SPLIT].to_numpy() != "train"
    weak = table[TRAIN_ONLY].to_numpy()
    drop = ~held_out & ~learning_rows(weak, artist_groups(table), held_out)
    crops = crop_mask(table).to_numpy()
    for name, rows, told in (("train-only songs (weaker labels)", ~crops, weak_sources),
                             ("crops of songs", crops, crops.any())):
        if told:
            kept = int((weak & rows & ~drop).sum())
            notes.append(f"{kept} {name} added to the train split; {(drop & rows).sum()} "
                         "dropped, their artists being in val or test")
    return table[~drop]


def _drop_rare_genres(df, weak, min_per_genre, notes):
    counts = df.loc[~weak, LABEL].value_counts()
    rare = counts[counts < min_per_genre]
    if len(rare):
        notes.append(f"dropped {len(rare)} genres with fewer than {min_per_genre} songs: "
                     + ", ".join(f"{genre} ({n})" for genre, n in rare.items()))
    kept = counts.index[counts >= min_per_genre]
    if len(kept) < 2:
        found = ", ".join(f"{genre} ({n})" for genre, n in counts.items()) or "none"
        raise TableError(f"need at least two genres with {min_per_genre} or more songs; "
                         f"found: {found}")
    return df[df[LABEL].isin(kept)]


def _drop_genres_missing_from_train(table, notes):
    in_train = set(table.loc[table[SPLIT] == "train", LABEL])
    orphans = sorted(set(table[LABEL]) - in_train)
    if orphans:
        notes.append("dropped genres whose artists all fell outside the train split: "
                     + ", ".join(orphans))
        table = table[table[LABEL].isin(in_train)]
    if table[LABEL].nunique() < 2:
        raise TableError("fewer than two genres left in the train split: lower "
                         "--min-per-genre's bar or add songs")
    return table
