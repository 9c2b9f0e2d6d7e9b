"""Predict the genre of songs with a checkpoint written by train.py.

Usage:
    python predict.py --checkpoint runs/NAME/model.pt INPUT [INPUT ...]

INPUT is any mix of MSD .h5 files, folders (searched recursively for .h5) and SongCSV-style CSV
files (*.csv). Features of .h5 songs are computed by dataset.extract, exactly as for SongCSV.csv.
Prints one line per song: track id, genre, its probability (after the checkpoint's prior
correction, see model.correct_prior). Unreadable .h5 files are named on stderr and skipped;
the exit status is then 1.
"""
import argparse
import sys
from pathlib import Path

import pandas as pd

from dataset import features
from dataset.errors import first_line
from dataset.songfiles import InputError, find_song_files, read_song_file
from dataset.hdf5_getters import SongFileError
import songtable
from model import CheckpointError, GenreClassifier


def needs_segments(feature_names):
    """Whether the model reads segment statistics (then .h5 inputs need their arrays)."""
    return bool(set(feature_names) & set(features.SEGMENT_COLUMNS))


def read_songs(paths, segments=True):
    """(DataFrame of songs, [(path, reason)] of unreadable .h5 files) from ``paths``.

    CSV files are read as they are; every other path is an .h5 file or folder. Each row gets a
    ``source`` column naming where it came from. Raises InputError or TableError for a
    path that does not exist or a CSV that cannot be read (TableError).
    """
    csv_paths = [path for path in paths if Path(path).suffix.lower() == ".csv"]
    song_paths = [path for path in paths if path not in csv_paths]
    frames, failed = [], []
    for path in csv_paths:
        frame = songtable.read_csv(path).copy()  # one block per dtype: adding a column is cheap
        frames.append(frame.assign(source=[f"{path}:{row + 2}" for row in range(len(frame))]))
    rows = []
    for path in find_song_files(song_paths) if song_paths else []:
        try:
            rows += [{**row, "source": str(path)} for row in read_song_file(path, segments)]
        except SongFileError as err:
            failed.append((path, first_line(err)))
    if rows:
        frames.append(pd.DataFrame(rows))
    songs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return songs, failed


def predict(classifier, songs):
    """Per song: track_id (or source), genre and probability of the classifier's best genre."""
    if songs.empty:
        raise songtable.TableError("no songs in the input")
    probabilities = classifier.predict_proba(
        songtable.numeric_features(songs, classifier.feature_names_in_))
    best = probabilities.argmax(axis=1)
    names = songs["track_id"] if "track_id" in songs.columns else songs["source"]
    return pd.DataFrame({"track_id": names.fillna(songs["source"]).astype(str).to_numpy(),
                         "genre": classifier.classes_[best],
                         "probability": probabilities.max(axis=1)})


def format_predictions(predictions):
    width = max(len("track"), predictions["track_id"].str.len().max())
    genre_width = max(len("genre"), predictions["genre"].str.len().max())
    lines = [f"{'track':<{width}}  {'genre':<{genre_width}}  probability"]
    lines += [f"{row.track_id:<{width}}  {row.genre:<{genre_width}}  {row.probability:11.3f}"
              for row in predictions.itertuples()]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoint", default="runs/main/model.pt", help="written by train.py")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help=".h5 files, folders of them, or SongCSV-style .csv files")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        classifier = GenreClassifier.load(args.checkpoint)
        songs, failed = read_songs(args.inputs, needs_segments(classifier.feature_names_in_))
        for path, reason in failed:
            print(f"skipped {path}: {reason}", file=sys.stderr)
        predictions = predict(classifier, songs)
    except (CheckpointError, InputError, songtable.TableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_predictions(predictions))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
