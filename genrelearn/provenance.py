"""What a model learned from: the songs it trained and validated on, the table, the code.

Usage:
    from genrelearn import provenance
    keys = provenance.song_keys(track_ids, features)     # one 64-bit key a row
    learned = provenance.SongSet(keys)                   # sorted, without repeats
    learned.holds(provenance.song_keys(other_ids, other_features))   # a bool a row
    provenance.table_record("data/preprocessed_data.csv", table)
    provenance.code_record()                             # commit, package versions

A song is known by its track id; a row without one (a table with no track_id column, a song
file without it) by a fingerprint of its feature values. Keys are 64-bit hashes: 8 bytes a song
(80 KB for the subset's 10,000, 8 MB for a million), and the chance that one of a million
unseen songs is taken for one of a million learned ones is about 5e-8.
"""
import hashlib
import importlib.metadata
import platform
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from genrelearn import splitting, tablefiles

# Splitmix64's multipliers: a full-avalanche mix of 64-bit words, vectorised over the rows.
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_START = {"track": np.uint64(0x9E3779B97F4A7C15), "features": np.uint64(0xD6E8FEB86659FD93)}
PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "scipy", "h5py")
HASH_BLOCK = 1 << 20  # bytes read at a time when hashing a table's files


def song_keys(track_ids, features):
    """One uint64 key per row: the hash of its track id, or of its feature values (float32;
    gaps all alike) when it has none (``track_ids`` None or a missing value)."""
    features = np.asarray(features, dtype=np.float32)
    keys = np.empty(len(features), dtype=np.uint64)
    named = (np.zeros(len(features), dtype=bool) if track_ids is None
             else ~pd.isna(np.asarray(track_ids, dtype=object)))
    if named.any():
        # A song's crops share its track id: each id is hashed once.
        codes, ids = pd.factorize(np.asarray(track_ids, dtype=object)[named])
        keys[named] = _hash_words(_text_words(np.asarray(ids, dtype=str)),
                                  _START["track"])[codes]
    if (~named).any():
        rows = np.nan_to_num(features[~named], nan=np.inf, posinf=np.inf, neginf=-np.inf)
        keys[~named] = _hash_words(rows.view(np.uint32).astype(np.uint64), _START["features"])
    return keys


def _text_words(texts):
    """Texts as rows of 64-bit words (UTF-8, zero-padded to whole words)."""
    encoded = np.char.encode(texts, "utf-8")
    width = -(-max(encoded.dtype.itemsize, 1) // 8) * 8
    return np.ascontiguousarray(encoded.astype(f"S{width}")).view(np.uint64).reshape(
        len(texts), -1)


def _hash_words(words, start):
    """Splitmix64 chained over each row's words: one uint64 per row."""
    keys = np.full(len(words), start, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in words.T:
            keys = _mixed(keys ^ column) + start
        return _mixed(keys ^ np.uint64(words.shape[1]))


def _mixed(values):
    values = (values ^ (values >> np.uint64(30))) * _MIX[0]
    values = (values ^ (values >> np.uint64(27))) * _MIX[1]
    return values ^ (values >> np.uint64(31))


class SongSet:
    """A set of song keys that answers "is this song in it" for many songs at once."""

    def __init__(self, keys):
        self.keys = np.unique(np.asarray(keys, dtype=np.uint64))

    def __len__(self):
        return len(self.keys)

    def holds(self, keys):
        """Whether each of ``keys`` is in the set, as a boolean array."""
        keys = np.asarray(keys, dtype=np.uint64)
        if not len(self.keys):
            return np.zeros(len(keys), dtype=bool)
        places = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[places] == keys

    def as_signed(self):
        """The keys as int64 (what a checkpoint's tensors hold)."""
        return self.keys.view(np.int64)

    @classmethod
    def from_signed(cls, keys):
        return cls(np.asarray(keys, dtype=np.int64).view(np.uint64))


def file_digest(path):
    """SHA-256 of the file at ``path``, or of a folder's files (a Parquet table in parts) in
    name order, each with its name."""
    path = Path(path)
    digest = hashlib.sha256()
    for part in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if not part.is_file():
            continue
        if path.is_dir():
            digest.update(str(part.relative_to(path)).encode() + b"\0")
        with open(part, "rb") as stream:
            while block := stream.read(HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()


def table_record(path, table):
    """Where a training table came from: its path, rows (of the file: ``attrs["file_rows"]``
    of a table tablefiles read), content hash, split seed (what
    preprocess wrote in ``split_seed``; None for a table without it) and the label sources of
    the songs that train or validate (genre_source: songs, crops not counted)."""
    seeds = (table[tablefiles.SPLIT_SEED].dropna().unique()
             if tablefiles.SPLIT_SEED in table.columns else [])
    songs = splitting.without_crops(table)
    learning = songs[songs[tablefiles.SPLIT] != "test"]
    sources = (learning[tablefiles.SOURCE].fillna("").value_counts().to_dict()
               if tablefiles.SOURCE in learning.columns else {})
    return {"path": str(Path(path).resolve()), "rows": int(table.attrs.get("file_rows",
                                                                            len(table))),
            "sha256": file_digest(path),
            "split_seed": int(seeds[0]) if len(seeds) == 1 else None,
            "label_sources": {str(source): int(count) for source, count in sources.items()}}


def code_record():
    """The code a model was trained with: the repository's commit (and whether files differed
    from it) when run from a checkout, the Python and package versions."""
    return {"commit": _commit(), "python": platform.python_version(),
            "packages": {name: _version(name) for name in ("msd-genre",) + PACKAGES}}


def _commit():
    root = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        return None
    if commit.returncode != 0:  # an installed copy, not a checkout
        return None
    return commit.stdout.strip() + ("+changes" if status.stdout.strip() else "")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
