"""How often the genre label sources agree, on the real song files: a guide to choosing --labels.

Usage:
    python -m bench.label_agreement [--data ../shared/data] [--min-songs 5] [--top 8]

Reads every song file under DATA/MillionSongSubset/data once (song tables and artist tags) and
labels each song from every source, as `python -m dataset.extract --labels SOURCE` would:
  - lastfm-dataset: the Last.fm tags in DATA/lastfm_subset through dataset/genre_vocabulary.tsv;
  - echonest-terms, musicbrainz-tags: the artist's tags in the song file, same vocabulary;
  - tagtraum CD1: DATA/tagtraum/msd_tagtraum_cd1.cls, whose 13 genres are another vocabulary.
Prints how many songs each source labels, then for each pair of sources the songs both label and
the share on which they agree, then per CD1 genre how often each of our sources agrees with it.

CD1 against our 15 genres: our genre agrees when it is one CD1's genre covers (CD1_COVERS below;
CD1 folds rock, pop, metal and punk into Pop_Rock). CD1's Vocal and New Age have no counterpart:
those songs are left out of comparisons with CD1.
"""
import argparse
import itertools
import sys
from collections import Counter
from pathlib import Path

from bench import SHARED_DATA
from dataset import genres, labels, songfiles

CD1 = "tagtraum CD1"
CD1_COVERS = {
    "Pop_Rock": {"rock", "pop", "metal", "punk"}, "Electronic": {"electronic"},
    "Rap": {"hip-hop"}, "Jazz": {"jazz"}, "Latin": {"latin"}, "RnB": {"r&b/soul"},
    "Country": {"country"}, "Reggae": {"reggae"}, "Blues": {"blues"}, "Folk": {"folk"},
    "International": {"world"},
}


def label_songs(data):
    """{source name: {track_id: genre}} for every song file under ``data``, and the file count."""
    vocabulary = genres.load_vocabulary()
    sources = {
        "lastfm-dataset": labels.open_file_source(data / "lastfm_subset", vocabulary),
        "echonest-terms": labels.SongFileLabels("echonest-terms", vocabulary,
                                                genres.DEFAULT_MIN_COUNT),
        "musicbrainz-tags": labels.SongFileLabels("musicbrainz-tags", vocabulary,
                                                  genres.DEFAULT_MIN_COUNT),
        CD1: labels.ClsLabels(data / "tagtraum" / "msd_tagtraum_cd1.cls"),
    }
    arrays = tuple(dict.fromkeys(a for source in sources.values() for a in source.song_arrays))
    files = songfiles.find_song_files([data / "MillionSongSubset" / "data"])
    songs = [row for path in files
             for row in songfiles.read_song_file(path, segments=False, song_arrays=arrays)]
    genre_by_source = {}
    for name, source in sources.items():
        with source:
            genre_by_source[name] = {song["track_id"]: label["genre"] for song, label
                                     in zip(songs, source.label(songs), strict=True)
                                     if label["genre"]}
    return genre_by_source, songs


def agree(name, genre, other_name, other_genre):
    """Whether two labels agree; None when they cannot be compared (a CD1 genre we lack)."""
    if CD1 in (name, other_name):
        cd1, ours = (genre, other_genre) if name == CD1 else (other_genre, genre)
        covered = CD1_COVERS.get(cd1)
        return None if covered is None else ours in covered
    return genre == other_genre


def pairwise(genre_by_source):
    """(source, source, songs both label and comparable, agreeing, agreement by chance) for each
    pair; by chance: the share agreeing if the two labels were drawn independently, each from its
    own genre shares on those songs (what Cohen's kappa corrects for)."""
    rows = []
    for first, second in itertools.combinations(genre_by_source, 2):
        pairs = [(genre_by_source[first][track], genre_by_source[second][track])
                 for track in genre_by_source[first].keys() & genre_by_source[second].keys()]
        pairs = [pair for pair in pairs if agree(first, pair[0], second, pair[1]) is not None]
        firsts, seconds = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
        chance = sum(firsts[a] * seconds[b] for a in firsts for b in seconds
                     if agree(first, a, second, b)) / max(len(pairs), 1) ** 2
        rows.append((first, second, len(pairs),
                     sum(agree(first, a, second, b) for a, b in pairs), chance))
    return rows


def by_cd1_genre(genre_by_source, min_songs):
    """{CD1 genre: {our source: (songs both label, agreeing)}} for CD1 genres we can compare."""
    table = {}
    cd1 = genre_by_source[CD1]
    for genre in sorted(CD1_COVERS, key=lambda g: -sum(v == g for v in cd1.values())):
        row = {}
        for name, ours in genre_by_source.items():
            if name == CD1:
                continue
            tracks = [t for t, g in cd1.items() if g == genre and t in ours]
            row[name] = (len(tracks), sum(ours[t] in CD1_COVERS[genre] for t in tracks))
        if max(count for count, _ in row.values()) >= min_songs:
            table[genre] = row
    return table


def percent(part, whole):
    return f"{100 * part / whole:.0f} %" if whole else "–"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA), help="the shared real MSD material")
    parser.add_argument("--min-songs", type=int, default=5,
                        help="smallest number of songs for a CD1 genre's row")
    parser.add_argument("--top", type=int, default=8, help="disagreements listed")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    data = Path(args.data)
    needed = [data / "MillionSongSubset" / "data", data / "lastfm_subset",
              data / "tagtraum" / "msd_tagtraum_cd1.cls"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        print(f"error: not found: {', '.join(missing)} (see --data)", file=sys.stderr)
        return 2
    genre_by_source, songs = label_songs(data)
    artists = len({song["artist_id"] for song in songs})
    print(f"{len(songs)} real song files ({artists} artists)\n")
    print("| source | songs labelled |\n|---|---|")
    for name, labelled in genre_by_source.items():
        print(f"| {name} | {len(labelled)} ({percent(len(labelled), len(songs))}) |")
    print("\n| sources | songs both label | agree | by chance |\n|---|---|---|---|")
    for first, second, compared, agreeing, chance in pairwise(genre_by_source):
        print(f"| {first} / {second} | {compared} | {agreeing} ({percent(agreeing, compared)}) "
              f"| {100 * chance:.0f} % |")
    table = by_cd1_genre(genre_by_source, args.min_songs)
    ours = [name for name in genre_by_source if name != CD1]
    print(f"\nAgreement with {CD1} per CD1 genre (songs both label: agreeing):\n")
    print("| CD1 genre (ours) | " + " | ".join(ours) + " |\n|---|" + "---|" * len(ours))
    for genre, row in table.items():
        cells = [f"{row[name][0]}: {percent(row[name][1], row[name][0])}" for name in ours]
        print(f"| {genre} ({', '.join(sorted(CD1_COVERS[genre]))}) | " + " | ".join(cells) + " |")
    confusion = Counter((genre_by_source[CD1][t], genre_by_source["echonest-terms"][t])
                        for t in genre_by_source[CD1].keys() & genre_by_source["echonest-terms"])
    most_first = sorted(confusion.items(), key=lambda item: (-item[1], item[0]))
    disagreements = [f"{cd1} -> {ours} {count}" for (cd1, ours), count in most_first
                     if agree(CD1, cd1, "echonest-terms", ours) is False]
    print("\nMost frequent disagreements, CD1 -> echonest-terms: "
          + ", ".join(disagreements[:args.top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
