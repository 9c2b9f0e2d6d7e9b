"""Map free-text tags (last.fm, Echo Nest terms, MusicBrainz) onto one genre of an editable
vocabulary.

Usage:
    from dataset import genres
    vocabulary = genres.load_vocabulary()                # dataset/genre_vocabulary.tsv
    kept = genres.top_tags([("punk rock", "100"), ("Punk", 60)])
    vocabulary.genre_of(kept, min_count=10)              # -> "punk"
    genres.format_tags(kept)                             # -> "punk rock:100;Punk:60"
    genres.parse_tags("punk rock:100;Punk:60")           # -> [("punk rock", 100), ("Punk", 60)]
    genres.relative_counts(["punk", "ska"], [0.9, 0.45])  # -> [("punk", 100), ("ska", 50)]
    genres.load_genre_names("dataset/tagtraum_genre_names.tsv", vocabulary)  # tagtraum's names

A song's genre is chosen from its top tags (the ones SongCSV.csv keeps in its ``tags`` column), so
re-mapping that column with the same vocabulary reproduces the ``genre`` column.
"""
import re
import unicodedata
from pathlib import Path

DEFAULT_VOCABULARY = Path(__file__).with_name("genre_vocabulary.tsv")
TAGTRAUM_NAMES = Path(__file__).with_name("tagtraum_genre_names.tsv")  # for --genre-names
# last.fm counts are relative (the top tag of a song or artist is 100): a genre backed by less
# than a tenth of the strongest tag is noise, e.g. one listener's odd tag.
DEFAULT_MIN_COUNT = 10
TAGS_KEPT = 10
_SEPARATORS = re.compile(r"[;:\s]+")  # ';' and ':' delimit the tags column


class VocabularyError(Exception):
    """A vocabulary file that cannot be read or has a malformed or contradictory line."""


def normalise(tag):
    """The form tags are compared in: case, accents, spaces and punctuation removed, '&' = 'and'."""
    text = unicodedata.normalize("NFKD", tag.casefold().replace("&", " and "))
    return "".join(char for char in text if char.isalnum())


class Vocabulary:
    """Normalised tag -> genre, and the genres in file order (which breaks ties)."""

    def __init__(self, genre_by_tag):
        self.genre_by_tag = dict(genre_by_tag)
        self.genres = tuple(dict.fromkeys(self.genre_by_tag.values()))
        self._rank = {genre: rank for rank, genre in enumerate(self.genres)}

    def genre_of(self, tags, min_count=DEFAULT_MIN_COUNT):
        """The genre with the largest summed count over ``tags`` ((name, count) pairs), or None.

        Tags that are not in the vocabulary are ignored; a winner below ``min_count`` is None.
        """
        totals = {}
        for name, count in tags:
            genre = self.genre_by_tag.get(normalise(name))
            if genre is not None:
                totals[genre] = totals.get(genre, 0) + count
        if not totals:
            return None
        best = max(totals, key=lambda genre: (totals[genre], -self._rank[genre]))
        return best if totals[best] >= min_count else None


def load_vocabulary(path=DEFAULT_VOCABULARY):
    """Read a TAG<TAB>GENRE file (see dataset/genre_vocabulary.tsv); raises VocabularyError."""
    genre_by_tag = {}
    for number, tag, genre in _pairs(path, "TAG<TAB>GENRE", header=("tag", "genre")):
        if not normalise(tag):
            raise VocabularyError(f"{path}:{number}: tag {tag!r} has no letter or digit")
        known = genre_by_tag.setdefault(normalise(tag), genre)
        if known != genre:
            raise VocabularyError(f"{path}:{number}: tag {tag!r} is already mapped to {known!r}")
    return Vocabulary(genre_by_tag)


def load_genre_names(path, vocabulary):
    """``vocabulary`` with its genres renamed by the GENRE<TAB>NAME file at ``path`` (see
    dataset/tagtraum_genre_names.tsv); tags of a genre the file does not name are dropped, and
    several genres may share a name (their tags then add up). Raises VocabularyError."""
    names = {}
    for number, genre, name in _pairs(path, "GENRE<TAB>NAME", header=("genre", "name")):
        if genre not in vocabulary.genres:
            raise VocabularyError(f"{path}:{number}: {genre!r} is not a genre of the vocabulary "
                                  f"({', '.join(vocabulary.genres)})")
        if names.setdefault(genre, name) != name:
            raise VocabularyError(f"{path}:{number}: genre {genre!r} is already named "
                                  f"{names[genre]!r}")
    return Vocabulary({tag: names[genre] for tag, genre in vocabulary.genre_by_tag.items()
                       if genre in names})


def _pairs(path, shape, header):
    """(line number, first, second) of each A<TAB>B line of ``path``; '#' lines, blank lines
    and a ``header`` line skipped. Raises VocabularyError for an unreadable file, a line of
    another shape, or no pair at all."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise VocabularyError(f"cannot read {path}: "
                              f"{getattr(err, 'strerror', None) or err}") from None
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#") or line.strip().split("\t") == list(header):
            continue
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) != 2 or not all(fields):
            raise VocabularyError(f"{path}:{number}: expected {shape}, got {line!r}")
        pairs.append((number, *fields))
    if not pairs:
        raise VocabularyError(f"{path}: no {shape} line")
    return pairs


def top_tags(tags, limit=TAGS_KEPT):
    """The ``limit`` strongest of (name, count) pairs, names cleaned for the tags column.

    Counts may be numbers or numeric strings (as in the Last.fm dataset); unreadable ones count 0.
    Ties keep their given order; tags whose name is empty once cleaned are dropped.
    """
    cleaned = []
    for name, count in tags:
        name = _SEPARATORS.sub(" ", str(name)).strip()
        if name:
            cleaned.append((name, tag_count(count)))
    cleaned.sort(key=lambda tag: -tag[1])
    return cleaned[:limit]


def relative_counts(names, strengths):
    """(name, count) pairs on last.fm's relative scale: the strongest tag 100, the others in
    proportion, rounded. For tags whose strengths are on another scale (Echo Nest term weights,
    0-1; MusicBrainz tag counts, a few votes), so that one vote and one ``min_count`` serve all."""
    strongest = max((float(strength) for strength in strengths), default=0.0)
    if strongest <= 0:
        return [(name, 0) for name in names]
    return [(name, round(100 * float(strength) / strongest))
            for name, strength in zip(names, strengths, strict=True)]


def tag_count(value):
    """A tag count given as a number or numeric string, as an int (0 when unreadable)."""
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def format_tags(tags):
    """(name, count) pairs as the tags column: "name:count;name:count" (names from top_tags)."""
    return ";".join(f"{name}:{count}" for name, count in tags)


def parse_tags(text):
    """The tags column back into (name, count) pairs."""
    pairs = []
    for item in (text or "").split(";"):
        name, _, count = item.rpartition(":")
        if name:
            pairs.append((name, tag_count(count)))
    return pairs
