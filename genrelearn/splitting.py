"""The rows rule, splits and folds: which rows of a training table train, validate and are scored.

Usage:
    from genrelearn import splitting
    features, genres, artists = splitting.split_rows(table, "train")   # indexed by who each row is
    for train, test in splitting.fold_rows(genres, artists, train_only, n_folds=5, seed=0): ...

Songs of one artist stay together (the producer effect); rows that may only train (weaker
labels, songs' crops) are never held out, and leave training when their artist is held out
(``learning_rows``, the one rule every caller goes through).
"""
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from dataset.features import CROP
from genrelearn.featurecolumns import numeric_features
from genrelearn.tablefiles import LABEL, SPLIT, TRAIN_ONLY, TableError, feature_names_of

SPLITS = ("train", "val", "test")


# What the features of split_rows are indexed by: who each row is, for the rows rule.
IDENTITY = ("artist", "track_id", TRAIN_ONLY)


def split_rows(table, split=None):
    """(features DataFrame, genres array, artist groups) of the rows of ``split`` (None: all).

    The features are indexed by who each row is (``IDENTITY``: its artist group, track id and
    whether it may only train), so that GenreClassifier.fit, ArtistFolds and scoring.scorer
    follow the rows rule (``learning_rows``) whoever calls them. The val and test splits give
    only rows that may be scored: a train-only row there (a table not made by preprocess) is
    left out.
    """
    rows = table if split is None else _rows_where(table, (table[SPLIT] == split).to_numpy())
    if split in ("val", "test"):
        rows = rows[~train_only_mask(rows)]
    features = numeric_features(rows, feature_names_of(table))
    artists = artist_groups(rows)
    tracks = (rows["track_id"].astype("object") if "track_id" in rows.columns
              else pd.Series(None, index=rows.index, dtype="object"))
    features.index = pd.MultiIndex.from_arrays(
        [artists, tracks.to_numpy(), train_only_mask(rows)], names=IDENTITY)
    return features, rows[LABEL].to_numpy(dtype=object), artists


def _rows_where(table, mask):
    """The rows of ``table`` where ``mask`` holds: a slice (no copy) when they are adjacent, as
    each split's rows are in a table read by split (tablefiles.read)."""
    positions = np.flatnonzero(mask)
    if len(positions) and positions[-1] - positions[0] + 1 == len(positions):
        return table.iloc[positions[0]:positions[-1] + 1]
    return table.iloc[positions]


def row_identity(features):
    """(artist groups, track ids, may only train) of each row of features that split_rows
    indexed by ``IDENTITY``, as arrays; None for features without that index."""
    index = getattr(features, "index", None)
    if not isinstance(index, pd.MultiIndex) or tuple(index.names) != IDENTITY:
        return None
    return tuple(index.get_level_values(name).to_numpy() for name in IDENTITY[:2]) + (
        index.get_level_values(TRAIN_ONLY).to_numpy(dtype=bool),)


class ArtistFolds:
    """scikit-learn's cross-validation splitter for the project's folds (``fold_rows``):
    stratified by genre, grouped by artist, only rows that may be scored in a test fold.

    Who each row is comes from the features' index (split_rows); features without it are
    grouped by ``groups`` (each row its own without them), every row scoreable.
    """

    def __init__(self, n_splits=5, seed=0):
        self.n_splits, self.seed = n_splits, seed

    def split(self, X, y, groups=None):
        identity = row_identity(X)
        if identity is not None:
            groups, _, train_only = identity
        else:
            groups = np.arange(len(y)) if groups is None else np.asarray(groups)
            train_only = np.zeros(len(y), dtype=bool)
        yield from fold_rows(np.asarray(y, dtype=object), np.asarray(groups, dtype=object),
                             train_only, self.n_splits, self.seed)

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits


def artist_groups(table):
    """Each row's group, as an integer: its artist's; a row without an artist id is its own
    group, or its track's (a song and its crops) when it has a track_id. Without an artist_id
    column songs are then split one by one.

    The integers number the group names (the artist id, "__track<id>", "__row<i>") in their
    sorted order, so that the folds and splits drawn over them are those of the names: sorted
    factorising gives that without a Python string a row (a million songs' crops: seconds and
    hundreds of MB less).
    """
    artists = (table["artist_id"].astype("string") if "artist_id" in table.columns
               else pd.Series(pd.NA, index=table.index, dtype="string"))
    unknown = artists.isna().to_numpy()
    if unknown.any():
        tracks = (table["track_id"].astype("string") if "track_id" in table.columns
                  else pd.Series(pd.NA, index=table.index, dtype="string"))
        artists = artists.to_numpy(dtype=object)
        artists[unknown] = [f"__row{i}" if pd.isna(tracks.iloc[i]) else f"__track{tracks.iloc[i]}"
                            for i in np.flatnonzero(unknown)]
    return pd.factorize(artists, sort=True)[0]


def folds(n_folds, seed):
    """The project's cross-validation: stratified by genre, grouped by artist, shuffled."""
    return StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)


def learning_rows(train_only, groups, held):
    """The one rule for which rows learn when some are held out (to validate, to test, or as a
    cross-validation fold's test rows): whether each row trains, as a boolean array.

    Only rows that may be scored are ever held out: never a ``train_only`` row (weaker labels,
    songs' crops). Every row that is not held out trains, except train-only rows of a held-out
    artist (``groups``): an artist-level label or a crop of a held-out song would teach the
    model what it is tested on. Preprocess's split, fit's validation holdout, the folds of
    cross-validation (tune.py, the benchmarks) and evaluate all follow it.
    """
    train_only, held = np.asarray(train_only, dtype=bool), np.asarray(held, dtype=bool)
    if (held & train_only).any():
        raise TableError("rows that may only train (weaker labels, crops) cannot be held out")
    # Artists as integers: a million songs' artist ids compare in a second, not minutes.
    codes, artists = pd.factorize(np.asarray(groups, dtype=object))
    held_artists = np.zeros(len(artists), dtype=bool)
    held_artists[codes[held]] = True
    return ~held & ~(train_only & held_artists[codes])


def fold_rows(genres, artists, train_only, n_folds, seed):
    """(train rows, test rows) of ``folds`` over the rows that are not ``train_only``; the
    train-only rows join every fold's train rows as ``learning_rows`` rules."""
    scored = np.flatnonzero(~train_only)
    for _, test in folds(n_folds, seed).split(np.zeros(len(scored)), genres[scored],
                                              artists[scored]):
        held = np.zeros(len(genres), dtype=bool)
        held[scored[test]] = True
        yield fold_of(train_only, artists, held)


def fold_of(train_only, artists, held):
    """(train rows, test rows) of the fold whose test rows are ``held`` (rows that may be
    scored): the other scored rows, then the train-only rows ``learning_rows`` lets train
    (an estimator that shuffles sees the same sequence whoever drew the fold)."""
    trains = learning_rows(train_only, artists, held)
    scored, extra = np.flatnonzero(~train_only), np.flatnonzero(train_only)
    return np.concatenate([scored[trains[scored]], extra[trains[extra]]]), np.flatnonzero(held)


def holdout_rows(genres, groups, train_only, fraction, seed):
    """(training rows, held-out rows) for early stopping: about ``fraction`` of the rows that
    may be scored, whole ``groups`` (artists; None: each row its own) at a time (holdout_mask),
    the training rows as ``learning_rows`` rules."""
    groups = np.arange(len(genres)) if groups is None else np.asarray(groups)
    held = np.zeros(len(genres), dtype=bool)
    held[~train_only] = holdout_mask(genres[~train_only], groups[~train_only], fraction, seed)
    return np.flatnonzero(learning_rows(train_only, groups, held)), np.flatnonzero(held)


def holdout_mask(genres, groups, fraction, seed):
    """A stratified, group-disjoint holdout of about ``fraction`` of the rows (1/round(1/fraction)).

    Groups are kept whole, so the fraction is met in expectation, not exactly. When genres have
    too few groups to stratify, the holdout is group-disjoint only.
    """
    with warnings.catch_warnings():
        # Genres with fewer songs than folds are expected; they just miss some splits.
        warnings.simplefilter("ignore", UserWarning)
        try:
            _, held = next(folds(max(2, round(1 / fraction)), seed).split(
                np.zeros(len(genres)), genres, groups))
        except ValueError:
            try:
                _, held = next(GroupShuffleSplit(1, test_size=fraction, random_state=seed).split(
                    np.zeros(len(genres)), genres, groups))
            except ValueError as err:
                raise TableError(f"too few artists to hold out {fraction:.0%} of them "
                                 f"({err})") from None
    mask = np.zeros(len(genres), dtype=bool)
    mask[held] = True
    return mask


def assign_splits(genres, groups, val_fraction, test_fraction, seed):
    """'train'/'val'/'test' per row, stratified by genre, rows sharing a group kept together."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise TableError("--val-fraction and --test-fraction must be in (0, 1) with a sum < 1")
    splits = np.full(len(genres), "train", dtype=object)
    test = holdout_mask(genres, groups, test_fraction, seed)
    rest = np.flatnonzero(~test)
    val = holdout_mask(genres[rest], groups[rest], val_fraction / (1 - test_fraction), seed)
    splits[test] = "test"
    splits[rest[val]] = "val"
    return splits


def split_counts(table):
    """Songs per genre (rows) and split (columns), with totals; crops are no songs."""
    table = without_crops(table)
    counts = pd.crosstab(table[LABEL], table[SPLIT]).reindex(columns=list(SPLITS), fill_value=0)
    counts["all"] = counts.sum(axis=1)
    counts.loc["all"] = counts.sum(axis=0)
    return counts


def crop_mask(table):
    """Whether each row is a song's crop (a ``crop`` number above 0: extract --crops), as a
    boolean Series."""
    if CROP not in table.columns:
        return pd.Series(False, index=table.index)
    return pd.to_numeric(table[CROP], errors="coerce").fillna(0) > 0


def without_crops(table):
    """The rows of ``table`` that are songs, not songs' crops."""
    return table[~crop_mask(table)]


def train_only_mask(table):
    """Whether each row of a training table may only train: marked ``train_only`` (see
    ``clean``) or a song's crop."""
    crops = crop_mask(table).to_numpy()
    if TRAIN_ONLY not in table.columns:
        return crops
    marks = table[TRAIN_ONLY]
    if pd.api.types.is_bool_dtype(marks):  # from Parquet
        return marks.fillna(False).to_numpy(dtype=bool) | crops
    return marks.astype(str).str.lower().isin(("true", "1")).to_numpy() | crops
