"""Predict the genre of songs with a checkpoint written by train.py, for any number of songs.

Usage:
    python predict.py --checkpoint runs/NAME/model.pt INPUT [INPUT ...]
    python predict.py --checkpoint runs/NAME/model.pt msd_summary_file.h5 --out genres.csv --top 3

INPUT is any mix of MSD .h5 files (single-track, aggregate or summary files), folders (searched
recursively for .h5), SongCSV-style tables (*.csv) and Parquet tables (*.parquet: a file, or a
folder of parts as `dataset.extract --format parquet` writes; needs pyarrow: pip install -r
requirements-scale.txt). Features of .h5 songs are computed by dataset.features, exactly as for
SongCSV.csv. A table's crops (rows with a crop number above 0: extract --crops) are passed
over: each song is predicted once. Inputs are read CHUNK songs at a time (--chunk-size; a big
.h5 file in parts of that many songs), predicted and written before the next chunk is read:
memory does not grow with the number of songs.

Output. Each song gets its --top K most likely genres (after the checkpoint's prior correction,
see transforms.correct_prior), most likely first, as columns
    track_id, genre, probability, genre_2, probability_2, ..., genre_K, probability_K
(K = 1, the default: track_id, genre, probability), then learned_from: "train" or "val" for a
song the model learned from (it trained on it, or chose its epochs on it: its prediction is
no evidence of how the model does on new songs), empty for the others ("unknown" with a
checkpoint from before train.py recorded its songs). A song without a track id is named by
where it came from (FILE:LINE of a CSV, FILE:row N of a Parquet table, FILE[N] of an .h5 file)
and known to learned_from by its feature values.
- Without --out the predictions are printed as a table with these columns, one line per song.
- With --out OUT they are written to OUT (probabilities to 4 decimals), and only a summary is
  printed: songs predicted, songs per genre, where they went. OUT appears only when every song
  is written (it is written to .OUT.partial and renamed); a progress bar runs on stderr.

A feature column the model reads must be in the input: a column that is there but has gaps is
imputed as in training (the train mean, plus a missing-value flag for columns that had gaps in
training), but a column that is absent is an error naming it, not imputed for every song: for
most columns the model never saw a gap, so it would silently predict from made-up values. A model
trained with segment features cannot predict from a summary file (it has no segment arrays):
train one on song-level features (`dataset.extract --no-segments`) for that.

Unreadable .h5 files are named on stderr and skipped; the exit status is then 1. Bad input (no
such path, an unreadable table, missing feature columns, a bad checkpoint) is one line on stderr,
exit status 2, nothing written. Ctrl-C stops with exit status 130, nothing written.
"""
from dataset import interrupts  # first: Ctrl-C during the slow imports below exits cleanly

interrupts.starting(__name__, "prediction")

import collections
import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from dataset import cli, extract, features, hdf5_getters
from dataset.errors import InputError, first_line
from dataset.outputs import OutputError, atomic_output
from dataset.songfiles import TRACK_FILE_NAME, file_parts, find_song_files
from dataset.writers import SCALE_INSTALL
from genrelearn import featurecolumns, options, splitting, summaries, tablefiles
from genrelearn.checkpoint import CheckpointError
from genrelearn.classifier import GenreClassifier

CHUNK_SONGS = 10_000  # songs read, predicted and written at a time: a summary file's part
PROBABILITY_FORMAT = "%.4f"  # in --out: finer than any difference a genre choice rests on
PROGRESS_DELAY = 1.0  # seconds before the progress bar shows: none for a handful of songs
PLACE = "place"  # where a song without a track id came from, its name in the output
LEARNED = "learned_from"


def segment_columns(feature_names):
    """The model's features computed from segment arrays (.h5 inputs then need the arrays)."""
    segment = set(features.SEGMENT_COLUMNS)
    return [name for name in feature_names if name in segment]


def plan_reading(paths, feature_names, chunk_size, skipped, read_files):
    """One iterator of song tables (DataFrames of at most ``chunk_size`` songs, each named by
    ``track_id``) per input path. Paths are checked here (that they exist, folders listed, a
    summary file against the model's features), before any song is read, so that most bad input
    stops the run before anything is printed.

    .h5 files are read by ``read_files`` (an extract engine's: see extract.local_engine);
    unreadable ones met while reading are named on stderr and added to ``skipped``.
    Raises InputError or tablefiles.TableError.
    """
    wanted = {*feature_names, "track_id", features.CROP}
    readers = []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            readers.append(csv_chunks(existing_table(path), wanted, chunk_size))
        elif suffix == ".parquet":
            readers.append(parquet_chunks(open_parquet(path), path, wanted, chunk_size))
        else:
            files = find_song_files([path])
            refuse_summary_files(files, feature_names)
            readers.append(song_file_chunks(files, bool(segment_columns(feature_names)),
                                            chunk_size, skipped, read_files))
    return readers


def existing_table(path):
    """``path``, or TableError when it is not a file."""
    if not Path(path).is_file():
        problem = "not a file" if Path(path).exists() else "no such file"
        raise tablefiles.TableError(f"{path}: {problem}")
    return path


def named(songs, name_of):
    """``songs`` with a PLACE for every song without a track_id: ``name_of(index)``."""
    if "track_id" not in songs.columns:
        songs = songs.assign(track_id=pd.Series(pd.NA, index=songs.index, dtype="string"))
    unnamed = songs["track_id"].isna().to_numpy()
    places = pd.Series(pd.NA, index=songs.index, dtype="string")
    places[unnamed] = [name_of(index) for index in songs.index[unnamed]]
    return songs.assign(**{PLACE: places})


def csv_chunks(path, wanted, chunk_size):
    """The songs of a SongCSV-style table, ``chunk_size`` rows at a time, only the columns in
    ``wanted`` (track ids as text: "0001" stays "0001")."""
    try:
        # The chunks' index runs on across chunks: index + 2 is the row's line in the file.
        for songs in pd.read_csv(path, dtype={"track_id": "string"}, chunksize=chunk_size,
                                 usecols=lambda name: name in wanted):
            yield named(splitting.without_crops(songs), lambda index: f"{path}:{index + 2}")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as err:
        raise tablefiles.TableError(f"{path}: not a readable CSV ({first_line(err)})") from None
    except OSError as err:  # a permission, a disk error
        raise tablefiles.TableError(f"{path}: cannot read it "
                                 f"({err.strerror or first_line(err)})") from None


def open_parquet(path):
    """A pyarrow dataset of the Parquet file or folder of parts at ``path``."""
    try:
        parquet = importlib.import_module("pyarrow.dataset")
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow, which is not installed: "
                         f"{SCALE_INSTALL}") from None
    if not Path(path).exists():
        raise InputError(f"{path}: no such file or folder")
    try:
        return parquet.dataset(path, format="parquet")
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise tablefiles.TableError(f"{path}: not a readable Parquet table "
                                   f"({first_line(err)})") from None


def parquet_chunks(dataset, path, wanted, chunk_size):
    """The songs of a Parquet table in record batches of at most ``chunk_size`` rows."""
    columns = [name for name in dataset.schema.names if name in wanted]
    first = 0
    try:
        for batch in dataset.to_batches(columns=columns, batch_size=chunk_size):
            songs = batch.to_pandas().set_axis(pd.RangeIndex(first, first + batch.num_rows))
            first += batch.num_rows
            yield named(splitting.without_crops(songs), lambda index: f"{path}:row {index + 1}")
    except (OSError, ValueError) as err:
        raise tablefiles.TableError(f"{path}: not a readable Parquet table "
                                   f"({first_line(err)})") from None


def refuse_summary_files(files, feature_names):
    """InputError when the model reads segment features and one of ``files`` is a summary file,
    which has no segment arrays to compute them from."""
    needed = segment_columns(feature_names)
    if not needed:
        return
    for path in files:
        # Only a file not named like a track file is opened to check (there may be a million).
        if not TRACK_FILE_NAME.fullmatch(Path(path).name) and hdf5_getters.is_summary_file(path):
            raise InputError(f"{path}: missing feature columns: "
                             f"{summaries.summarise(needed)}: a summary file has no "
                             "segment arrays; predict it with a model trained on song-level "
                             "features (dataset.extract --no-segments)")


def song_file_chunks(files, segments, chunk_size, skipped, read_files):
    """The songs of MSD .h5 ``files`` in tables of about ``chunk_size`` songs (many small files
    gathered, a big file read in parts of that many songs) read by ``read_files`` (an
    extract engine's); unreadable files are named on stderr, added to ``skipped`` and passed
    over."""
    rows = []
    parts = list(file_parts(files, songs_per_part=chunk_size))
    for part, part_rows, reason in read_files(parts, {"segments": segments}):
        interrupts.check()
        if reason is not None:
            skipped.append(str(part))
            tqdm.write(f"skipped {part}: {reason}", file=sys.stderr)
            continue
        for number, row in enumerate(part_rows, part.start):
            row[PLACE] = None if row["track_id"] is not None else (
                part.path if len(part_rows) == 1 else f"{part.path}[{number}]")
        rows += part_rows
        if len(rows) >= chunk_size:
            yield pd.DataFrame(rows)
            rows = []
    if rows:
        yield pd.DataFrame(rows)


def genre_columns(top):
    """[(genre column, probability column)] of the ``top`` most likely genres, best first."""
    return [("genre", "probability")] + [(f"genre_{rank}", f"probability_{rank}")
                                         for rank in range(2, top + 1)]


def predict(classifier, songs, top=1):
    """Per song of ``songs`` (a DataFrame with the classifier's feature columns, a track_id or
    a PLACE for each): track_id (or PLACE), the ``top`` most likely genres with their
    probabilities, columns as genre_columns names them, and LEARNED (see the module's
    docstring). Raises TableError for missing feature columns."""
    feature_table = featurecolumns.numeric_features(songs, classifier.feature_names_in_)
    probabilities = (classifier.predict_proba(feature_table) if len(feature_table)
                     else np.empty((0, len(classifier.classes_))))
    # Stable: equal probabilities keep the classes' order, whatever the chunk.
    ranked = np.argsort(-probabilities, axis=1, kind="stable")
    track_ids = songs["track_id"].astype("object").where(songs["track_id"].notna(), None)
    places = songs[PLACE] if PLACE in songs.columns else track_ids
    predictions = {"track_id": track_ids.fillna(places).astype(str).to_numpy()}
    for rank, (genre, probability) in enumerate(genre_columns(top)):
        predictions[genre] = classifier.classes_[ranked[:, rank]]
        predictions[probability] = probabilities[np.arange(len(ranked)), ranked[:, rank]]
    learned = classifier.learned_from(feature_table, track_ids.to_numpy())
    predictions[LEARNED] = "unknown" if learned is None else learned
    return pd.DataFrame(predictions)


def predicted_chunks(classifier, readers, top, genre_counts, progress=True):
    """predict's table for each chunk of songs the ``readers`` give, counting each predicted
    genre in ``genre_counts``; TableError when they give no song at all."""
    bar = tqdm(unit=" songs", file=sys.stderr, disable=None if progress else True,
               delay=PROGRESS_DELAY, dynamic_ncols=True)
    with bar:
        for songs in (chunk for reader in readers for chunk in reader if len(chunk)):
            interrupts.check()
            predictions = predict(classifier, songs, top)
            genre_counts.update(predictions["genre"].value_counts().to_dict())
            bar.update(len(predictions))
            yield predictions
    if not genre_counts:
        raise tablefiles.TableError("no songs in the input")


def write_csv(predictions, out):
    """Write the tables ``predictions`` gives to ``out`` as they come, as one CSV that appears
    only once complete."""
    with atomic_output(out) as temporary, open(temporary, "w", newline="") as stream:
        for number, chunk in enumerate(predictions):
            chunk.to_csv(stream, header=number == 0, index=False,
                         float_format=PROBABILITY_FORMAT)


def print_table(predictions, classes):
    """Print the tables ``predictions`` gives as they come, as one table aligned on the first."""
    widths = None
    for chunk in predictions:
        if widths is None:
            widths = {"track_id": max(len("track"), chunk["track_id"].str.len().max()),
                      "genre": max(len("genre"), *map(len, classes))}
            print(format_predictions(chunk.head(0), widths))
        print(format_predictions(chunk, widths, header=False))


def format_predictions(predictions, widths, header=True):
    """Lines of a predictions table: track, then each genre and its probability; ``widths``
    gives the track and genre columns' widths."""
    def cell(name, value, is_header):
        if name == "track_id":
            return f"{'track' if is_header else value:<{widths['track_id']}}"
        if name.startswith("genre"):
            return f"{value:<{widths['genre']}}"
        if name == LEARNED:  # "-" for a song it did not learn from: a column is never blank
            return f"{value or '-':<{len(LEARNED)}}"
        return f"{value:>{len(name)}}" if is_header else f"{value:{len(name)}.3f}"

    lines = ["  ".join(cell(name, name, True) for name in predictions.columns)] if header else []
    lines += ["  ".join(cell(name, value, False) for name, value in zip(predictions.columns, row))
              for row in predictions.itertuples(index=False)]
    return "\n".join(lines)


def summary_line(genre_counts, out, skipped):
    """What an --out run did, in one line: songs predicted, songs per genre, where they went."""
    genres = ", ".join(f"{genre} {count}" for genre, count in genre_counts.most_common())
    return (f"predicted {genre_counts.total()} songs ({genres}); wrote {out}"
            + (f"; skipped {len(skipped)} unreadable files" if skipped else ""))


def build_parser():
    parser = cli.new_parser(__doc__)
    options.add_checkpoint_option(parser)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help=".h5 files (single-track, aggregate or summary files), folders of "
                             "them, SongCSV-style .csv tables or .parquet tables (pyarrow: "
                             f"{SCALE_INSTALL})")
    parser.add_argument("--out", metavar="CSV",
                        help="write the predictions to this CSV file, chunk by chunk (columns "
                             "track_id, genre, probability, genre_2, probability_2, ... up to "
                             "--top), and print only a summary; without it the table is printed")
    parser.add_argument("--top", type=int, default=1, metavar="K",
                        help="the K most likely genres of each song, best first, each with its "
                             "probability (in the table and in --out)")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SONGS, metavar="SONGS",
                        help="songs read and predicted at a time (memory grows with it, not "
                             "with the number of songs)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes reading .h5 files while this one predicts (1: read "
                             "here)")
    cli.add_quiet_option(parser)
    options.add_threads_option(parser)
    options.add_device_option(parser)
    cli.add_renamed(parser, "--csv", "--out")
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    options.check_threads(parser, args)
    options.check_device(parser, args)
    if min(args.top, args.chunk_size, args.workers) < 1:
        parser.error("--top, --chunk-size and --workers must be at least 1")
    return args


def predict_inputs(args, skipped):
    """Load the checkpoint, then predict every input song to --out or the terminal; returns the
    songs per genre."""
    classifier = GenreClassifier.load(args.checkpoint).predict_on(args.device)
    if classifier.learned_songs_ is None:
        print(f"note: {args.checkpoint} holds no record of the songs it learned from (an older "
              f"train.py wrote it): {LEARNED} says unknown", file=sys.stderr)
    if args.top > len(classifier.classes_):
        raise InputError(f"--top {args.top}: the model knows only "
                         f"{len(classifier.classes_)} genres")
    genre_counts = collections.Counter()
    # The bar would garble a table printed to the same terminal.
    progress = not args.quiet and (args.out is not None or not sys.stdout.isatty())
    # Song files are read in other processes while this one predicts and writes.
    with extract.local_engine(args.workers) as read_files:
        readers = plan_reading(args.inputs, classifier.feature_names_in_, args.chunk_size,
                               skipped, read_files)
        predictions = predicted_chunks(classifier, readers, args.top, genre_counts, progress)
        if args.out:
            write_csv(predictions, args.out)
        else:
            print_table(predictions, classifier.classes_)
    return genre_counts


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    skipped = []
    try:
        with interrupts.stop_on_interrupt():
            genre_counts = predict_inputs(args, skipped)
    except (CheckpointError, InputError, tablefiles.TableError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted" + (f": {args.out} not written" if args.out else ""),
              file=sys.stderr)
        return 130
    if args.out:
        print(summary_line(genre_counts, args.out, skipped))
    return 1 if skipped else 0


def command():
    """The installed command, msd-predict: main with Ctrl-C handled as when run as a script."""
    return interrupts.run(main, "prediction")


if __name__ == "__main__":
    sys.exit(command())
