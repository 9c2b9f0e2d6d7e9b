"""Clean SongCSV.csv into a training table with an artist-disjoint train/val/test split.

Usage:
    python preprocess.py --data data/SongCSV.csv --out data/preprocessed_data.csv \
        [--features 'timbre_*' ...] [--exclude 'artist_*' ...]
    python preprocess.py --data data/SongCSV.parquet --out data/preprocessed_data.parquet

Rows without a genre, duplicate songs and genres with fewer than --min-per-genre songs are
dropped. Every numeric column that is not an identifier (track_id, artist_mbid, idx_*, ...), a
label (genre, genre_source, tags) or text is a feature, unless --features / --exclude (shell
patterns) say otherwise; constant columns are dropped. It prints which columns are features and
why the others are not. Missing values stay empty: the classifier imputes them with the train
mean and flags them. ``track_id`` and ``artist_id`` stay for tracing rows back and are never
features. The ``split`` column is stratified by genre and, when ``artist_id`` is present,
artist-disjoint: one artist's songs all land in the same split. Songs labelled by a --train-only
source (weaker labels, e.g. --labels data/lastfm_subset echonest-terms at extract) join the
train split only, unless their artist is in val or test; so do songs' crops (extract --crops),
which follow their song. The logic is cleaning.plan_cleaning.

The input is a CSV, a Parquet file or a folder of Parquet parts (extract --format parquet); the
output is Parquet when its name ends in .parquet, else CSV. Features are held as float32 and
the table is written a chunk at a time: a million songs with four crops each (5,000,000 rows of
200 features) need about 4 GB of memory.
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "preprocessing")

import sys

from dataset import cli
from dataset.outputs import OutputError
from genrelearn import cleaning, splitting, summaries, tablefiles


def build_parser():
    parser = cli.new_parser(__doc__)
    cli.add_data_option(parser, default="data/SongCSV.csv")
    parser.add_argument("--out", default="data/preprocessed_data.csv", metavar="TABLE",
                        help="the training table: Parquet if the name ends in .parquet, else CSV")
    cli.add_list_option(parser, "--features", metavar="PATTERN",
                        help="use only the numeric columns matching these shell patterns "
                        "(default: every numeric column that is not an identifier or label)")
    cli.add_list_option(parser, "--exclude", metavar="PATTERN",
                        help="leave out the columns matching these shell patterns")
    cli.add_list_option(parser, "--train-only", metavar="SOURCE",
                        help="label sources (genre_source patterns, e.g. echonest-terms) whose "
                        "songs only train: weaker labels never validate or test")
    parser.add_argument("--min-per-genre", type=int, default=10,
                        help="drop genres with fewer songs than this")
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="share of songs (whole artists) in the val split (early stopping)")
    parser.add_argument("--test-fraction", type=float, default=0.15,
                        help="share of songs (whole artists) in the test split")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of the split (train.py's --seed seeds the networks)")
    cli.add_renamed(parser, "--input", "--data")
    cli.add_renamed(parser, "--output", "--out")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    notes = []
    try:
        raw = tablefiles.read(args.data, text=cleaning.CLEANING_COLUMNS)
        plan = cleaning.plan_cleaning(raw, args.min_per_genre, args.features, args.exclude,
                                       args.train_only, cleaning.Split(args.val_fraction,
                                                                        args.test_fraction,
                                                                        args.split_seed), notes)
        tablefiles.write(plan.chunks(raw), args.out)
    except (tablefiles.TableError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"read {len(raw)} rows from {args.data}")
    for note in notes:
        print(f"- {note}")
    print(f"- features ({len(plan.features)}): {summaries.compact(plan.features)}")
    marks = plan.marks
    grouped = "artist-disjoint" if "artist_id" in marks.columns else "no artist_id: not grouped"
    crops = splitting.crop_mask(marks).sum()
    print(f"kept {len(marks) - crops} songs" + (f" and {crops} crops" if crops else "")
          + f", {marks[tablefiles.LABEL].nunique()} genres, {len(plan.features)} features; split "
          f"(seed {args.split_seed}, stratified by genre, {grouped}):")
    print(splitting.split_counts(marks).to_string())
    print(f"wrote {args.out}")
    return 0


def command():
    """The installed command, msd-preprocess: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "preprocessing")


if __name__ == "__main__":
    sys.exit(command())
