"""Song tables: reading SongCSV-style CSVs, cleaning them into a training table, splits and folds.

Usage:
    import songtable
    table = songtable.clean(songtable.read_csv("data/SongCSV.csv"))    # what preprocess.py does
    features, genres, artists = songtable.split_rows(table, "train")

A training table (preprocessed_data.csv) holds ``track_id`` and ``artist_id`` (for tracing rows
back and grouping by artist; never features), ``genre`` and ``genre_source`` (its label
source), ``split`` (train/val/test) and ``split_seed`` (preprocess --split-seed), and the
numeric feature columns, gaps left empty (the classifier imputes them from the train rows).
Rows that may only train (weaker labels, songs' crops) are marked in a ``train_only`` column,
crops also in ``crop`` (extract --crops).
"""
import dataclasses
import fnmatch
import re
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

import tablefiles
from dataset.features import CROP
from tablefiles import (LABEL, LABEL_COLUMNS, SOURCE, SPLIT, SPLIT_SEED, TRACE_COLUMNS,
                        TRAIN_ONLY, TableError, is_identifier)

SPLITS = ("train", "val", "test")
# The text columns cleaning reads: who a row is, its label and where the label came from.
CLEANING_COLUMNS = TRACE_COLUMNS + (LABEL, SOURCE, "song_id")
# What the features of split_rows are indexed by: who each row is, for the rows rule.
IDENTITY = ("artist", "track_id", TRAIN_ONLY)


def read_table(path, splits=None, crops=True):
    """A training table written by preprocess.py (CSV or Parquet; tablefiles.read gives its
    layout, and what ``splits`` and ``crops`` choose); TableError without genre, split or
    features."""
    table = tablefiles.read(path, splits, crops)
    missing = [name for name in (LABEL, SPLIT) if name not in table.columns]
    if missing:
        raise TableError(f"{path}: no {' or '.join(missing)} column: "
                         "is it the output of preprocess.py?")
    if not feature_names_of(table):
        raise TableError(f"{path}: no feature column")
    return table


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


def feature_names_of(table):
    """The feature columns of a training table: everything but trace, label and split."""
    return [name for name in table.columns if name not in TRACE_COLUMNS + LABEL_COLUMNS]


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
    extra = np.flatnonzero(train_only)
    for train, test in folds(n_folds, seed).split(np.zeros(len(scored)), genres[scored],
                                                  artists[scored]):
        held = np.zeros(len(genres), dtype=bool)
        held[scored[test]] = True
        trains = learning_rows(train_only, artists, held)
        yield np.concatenate([scored[train], extra[trains[extra]]]), scored[test]


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


def summarise(names, limit=8):
    """Names joined by commas, the first ``limit`` of them and a count when there are more."""
    names = [str(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def compact(names):
    """All of ``names``, runs like timbre_mean_0, ..., timbre_mean_11 shown as timbre_mean_0…11."""
    parts, run = [], []
    for name in map(str, names):
        match = re.fullmatch(r"(.*?)(\d+)", name)
        key = (match[1], int(match[2])) if match else None
        if run and key and run[-1][0] == key[0] and run[-1][1] + 1 == key[1]:
            run.append(key)
            continue
        parts.append(_run_text(run))
        run = [key] if key else []
        if not key:
            parts.append(name)
    parts.append(_run_text(run))
    return ", ".join(part for part in parts if part)


def _run_text(run):
    if not run:
        return ""
    (prefix, first), (_, last) = run[0], run[-1]
    return f"{prefix}{first}" if first == last else f"{prefix}{first}…{last}"


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
