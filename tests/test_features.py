"""The feature definition: one implementation for one song or a whole file, documented columns."""
import math
import re
from pathlib import Path

from dataset import features, hdf5_getters
from dataset.sample import write_song_file
from songs import make_song

README = Path(__file__).resolve().parents[1] / "README.md"


def same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))


def test_whole_file_and_single_song_reads_agree(tmp_path):
    path = tmp_path / "aggregate.h5"
    write_song_file(path, [make_song(f"TRFEA00000000000{i}", seed=i, segments=3 + i)
                           for i in range(4)])
    with hdf5_getters.open_h5_file_read(path) as h5:
        whole = list(features.file_features(h5))
        one_by_one = [features.song_features(h5, i) for i in range(4)]
    assert [row["track_id"] for row in whole] == [f"TRFEA00000000000{i}" for i in range(4)]
    for a, b in zip(whole, one_by_one):
        assert list(a) == list(features.columns())
        assert all(same(a[name], b[name]) for name in a)
    assert whole[2]["timbre_mean_0"] != whole[3]["timbre_mean_0"]


def test_readme_column_table_lists_exactly_the_feature_columns():
    # "| `timbre_mean_0` … `timbre_mean_11` |" stands for the 12 dimensions and
    # "| `timbre_cov_0_1` … `timbre_cov_10_11` |" for the 66 pairs i < j.
    section = README.read_text(encoding="utf-8").split("### SongCSV.csv columns")[1]
    section = section.split("\n#")[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)`(?: … `([a-z0-9_]+)`)?", section, re.M)
    expanded = []
    for first, last in documented:
        if not last:
            expanded.append(first)
        elif first.endswith("_0_1"):
            stem, top = first[:-4], int(last.rsplit("_", 1)[1])
            expanded += [f"{stem}_{i}_{j}" for i in range(top) for j in range(i + 1, top + 1)]
        else:
            stem, top = first[:-2], int(last.rsplit("_", 1)[1])
            expanded += [f"{stem}_{i}" for i in range(top + 1)]
    assert expanded == list(features.columns()) + ["genre", "genre_source", "tags"]
