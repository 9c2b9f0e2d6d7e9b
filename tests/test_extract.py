"""dataset/extract.py: SongCSV.csv from real and written song files, faults, resume, CLI."""
import csv
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from dataset import extract, features, labels, songfiles
from dataset.sample import write_song_file
from songs import make_song

ROOT = Path(__file__).resolve().parents[1]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def write_tree(root, count, start=0):
    """``count`` single-track files in the real <A-Z>/<A-Z>/<A-Z> layout."""
    for seed in range(start, start + count):
        track_id = f"TRAB{chr(65 + seed % 26)}{seed:013d}"
        folder = root / track_id[2] / track_id[3] / track_id[4]
        folder.mkdir(parents=True, exist_ok=True)
        write_song_file(folder / f"{track_id}.h5", [make_song(track_id, seed=seed)])
    return root


UNTOUCHED = ["TRAAABD128F429CF47", "TRAAADZ128F9348C2E", "TRAAAEF128F4273421",
             "TRAAAFD128F92F423A", "TRAAAFP128F931B4E3"]  # the 5 real files exactly as distributed


def real_subset(shared_data, root, track_ids=UNTOUCHED):
    """The unpacked subset's layout under ``root`` (data/ with ``track_ids``' real files,
    AdditionalFiles/ with the real summary file), as links to ../shared/data: a handful of songs
    instead of 1,120."""
    subset = shared_data / "MillionSongSubset"
    for track_id in track_ids:
        relative = Path("data", *track_id[2:5], f"{track_id}.h5")
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(subset / relative)
    (root / "AdditionalFiles").mkdir(parents=True)
    summary = Path("AdditionalFiles", "subset_msd_summary_file.h5")
    (root / summary).symlink_to(subset / summary)
    return root


def test_real_subset_files(shared_data, tmp_path, capsys):
    subset = real_subset(shared_data, tmp_path / "MillionSongSubset")
    out = tmp_path / "SongCSV.csv"
    # The unpacked subset's top folder: the summary file beside data/ is no failure.
    assert extract.main([str(subset), "--out", str(out), "--workers", "1", "--quiet",
                         "--strict"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("passed over ") and "subset_msd_summary_file.h5" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "SongCSV_failures.csv").exists()
    rows = {row["track_id"]: row for row in read_csv(out)}
    assert sorted(rows) == UNTOUCHED
    soul_deep = rows["TRAAABD128F429CF47"]
    assert soul_deep["title"] == "Soul Deep" and soul_deep["artist_name"] == "The Box Tops"
    assert soul_deep["year"] == "1969" and float(soul_deep["tempo"]) == 121.274
    assert float(soul_deep["segments_per_second"]) == pytest.approx(550 / 148.03546)
    assert soul_deep["song_hotttnesss"] == "" and soul_deep["danceability"] == "0.0"
    assert soul_deep["genre"] == ""
    assert rows["TRAAADZ128F9348C2E"]["year"] == ""  # year 0 is unknown, not 0
    cells = [cell for row in rows.values() for cell in row.values()]
    assert not [cell for cell in cells if cell.lower() in ("nan", "none") or cell.startswith("b'")]


def test_the_real_summary_file_named_as_a_path_is_read(shared_data, tmp_path):
    out = tmp_path / "SongCSV.csv"
    summary = shared_data / "MillionSongSubset/AdditionalFiles/subset_msd_summary_file.h5"
    assert extract.main([str(summary), "--no-segments", "--out", str(out), "--quiet"]) == 0
    rows = read_csv(out)
    assert len(rows) == 10_000 and len({row["track_id"] for row in rows}) == 10_000


def test_real_segment_means_match_published_means(shared_data, tmp_path):
    out = tmp_path / "SongCSV.csv"
    assert extract.main([str(shared_data / "MillionSongSubset/data/A/B"), "--out", str(out),
                         "--quiet"]) == 0
    ours = {row["track_id"]: row for row in read_csv(out)}
    published = read_csv(shared_data / "msd10k_segment_means.csv")
    checked = 0
    for row in published:
        if row["track_id"] in ours:
            for column in (c for c in row if c.startswith(("timbre_mean", "pitch_mean"))):
                assert float(ours[row["track_id"]][column]) == pytest.approx(float(row[column]),
                                                                             rel=1e-6, abs=1e-8)
            checked += 1
    assert checked >= 3


def test_mixed_inputs_aggregate_and_summary_files(tmp_path):
    tree = write_tree(tmp_path / "tree", 3)
    aggregate = tmp_path / "aggregate.h5"
    write_song_file(aggregate, [make_song(f"TRAGG00000000000{i}", seed=10 + i, segments=i)
                                for i in range(3)])
    upper = tmp_path / "UPPER.H5"
    write_song_file(upper, [make_song("TRUPP000000000000", seed=20)])
    out = tmp_path / "SongCSV.csv"
    assert extract.main([str(tree), str(aggregate), str(upper), "--out", str(out),
                         "--workers", "2", "--quiet"]) == 0
    rows = read_csv(out)
    assert [row["track_id"] for row in rows][3:] == [
        "TRAGG000000000000", "TRAGG000000000001", "TRAGG000000000002", "TRUPP000000000000"]
    assert list(rows[0]) == list(features.columns()) + list(labels.LABEL_COLUMNS)
    no_segments = rows[3]  # a song with zero segments: statistics are missing, rates are 0
    assert no_segments["timbre_mean_0"] == "" and no_segments["segments_per_second"] == "0.0"

    summary = tmp_path / "summary.h5"
    write_song_file(summary, [make_song(f"TRSUM00000000000{i}", seed=i) for i in range(4)],
                    arrays=False)
    summary_out = tmp_path / "summary.csv"
    assert extract.main([str(summary), "--no-segments", "--out", str(summary_out), "--quiet"]) == 0
    summary_rows = read_csv(summary_out)
    assert len(summary_rows) == 4 and "timbre_mean_0" not in summary_rows[0]
    assert summary_rows[2]["tempo"] == "102.0"


def test_workers_do_not_change_the_output(tmp_path):
    tree = write_tree(tmp_path / "tree", 12)
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    extract.main([str(tree), "--out", str(one), "--workers", "1", "--quiet"])
    extract.main([str(tree), "--out", str(two), "--workers", "2", "--quiet"])
    assert one.read_bytes() == two.read_bytes()


def test_bad_files_are_skipped_named_and_listed(tmp_path, capsys):
    tree = write_tree(tmp_path / "tree", 2)
    (tree / "empty.h5").write_bytes(b"")
    (tree / "text.h5").write_text("hello")
    good = next(tree.rglob("TR*.h5"))
    (tree / "truncated.h5").write_bytes(good.read_bytes()[:3000])
    with h5py.File(tree / "no_tables.h5", "w") as h5:
        h5.create_group("metadata")
    # A summary file of another name, and a single-track file named like one: content decides.
    write_song_file(tree / "summary.h5", [make_song("TRSUM000000000009")], arrays=False)
    write_song_file(tree / "msd_summary_file.h5", [make_song("TRNOTASUMMARY0001")])
    out = tmp_path / "SongCSV.csv"
    assert extract.main([str(tree), "--out", str(out), "--quiet"]) == 0
    assert len(read_csv(out)) == 3
    failures = read_csv(tmp_path / "SongCSV_failures.csv")
    assert sorted(Path(f["path"]).name for f in failures) == [
        "empty.h5", "no_tables.h5", "text.h5", "truncated.h5"]
    assert all(f["reason"] for f in failures)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "skipped" in err and "4 files failed" in err
    assert f"passed over {tree / 'summary.h5'}: a summary file" in err
    assert extract.main([str(tree), "--out", str(out), "--quiet", "--strict"]) == 1


def test_missing_path_or_no_song_files_is_a_clear_error(tmp_path, capsys):
    assert extract.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "o.csv")]) == 2
    (tmp_path / "empty").mkdir()
    assert extract.main([str(tmp_path / "empty"), "--out", str(tmp_path / "o.csv")]) == 2
    (tmp_path / "summaries").mkdir()
    write_song_file(tmp_path / "summaries" / "subset_msd_summary_file.h5",
                    [make_song("TRSUM000000000001")], arrays=False)
    assert extract.main([str(tmp_path / "summaries"), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "no .h5 song file" in err
    assert "only summary files: name them to read them" in err
    assert not (tmp_path / "o.csv").exists()


def test_an_out_that_cannot_be_made_is_a_one_line_error(tmp_path, capsys):
    tree = write_tree(tmp_path / "songs", 1)
    (tmp_path / "a_file").write_text("not a folder")
    assert extract.main([str(tree), "--out", str(tmp_path / "a_file" / "o.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "a_file" in err and "Traceback" not in err


class InterruptingSource:
    """A label source, asked ``batch_size`` songs at a time, whose second call is a Ctrl-C: a
    run stopped between two writes, as by a kill."""
    song_arrays = ()

    def __init__(self, batch_size):
        self.batch_size = batch_size
        self.calls = 0

    def label(self, songs):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return [dict.fromkeys(labels.LABEL_COLUMNS, "") for _ in songs]


def test_interrupted_run_leaves_no_output_and_resumes_to_the_same_csv(tmp_path):
    tree = write_tree(tmp_path / "tree", 30)
    clean = tmp_path / "clean.csv"
    extract.main([str(tree), "--out", str(clean), "--workers", "1", "--quiet"])

    out = tmp_path / "SongCSV.csv"
    with pytest.raises(KeyboardInterrupt):
        extract.extract([str(tree)], out, 1, True, InterruptingSource(8), progress=False)
    assert not out.exists() and Path(f"{out}.partial").exists()
    # A torn last line, as a kill during a write would leave, must not survive the resume.
    with open(f"{out}.partial", "a", encoding="utf-8") as partial:
        partial.write("TRTORN,half a row")
    with labels.open_source("none") as source:
        summary = extract.extract([str(tree)], out, 1, True, source, resume=True, progress=False)
    assert summary["resumed"] == 8 and summary["rows"] == 22
    assert out.read_bytes() == clean.read_bytes()
    assert not Path(f"{out}.partial").exists()


def test_the_script_runs_as_a_module(tmp_path):
    command = [sys.executable, "-m", "dataset.extract"]
    help_text = subprocess.run(command + ["--help"], cwd=ROOT, capture_output=True, text=True)
    assert help_text.returncode == 0 and "--no-segments" in help_text.stdout
    bad = subprocess.run(command + [str(tmp_path / "nowhere")], cwd=ROOT, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "nowhere" in bad.stderr


def test_mismatched_real_tracks_are_left_out(shared_data, tmp_path, capsys):
    mismatches = shared_data / "sid_mismatches.txt"
    listed = songfiles.read_mismatches(mismatches)
    songs = {path.stem for path in (shared_data / "MillionSongSubset/data").rglob("*.h5")}
    assert len(listed) == 18_972 and len(songs & listed) == 62  # as ../shared/data says
    subset = real_subset(shared_data, tmp_path / "subset", sorted(songs & listed) + UNTOUCHED)
    out = tmp_path / "SongCSV.csv"
    options = [str(subset), "--out", str(out), "--quiet", "--labels", "echonest-terms"]
    assert extract.main(options) == 0
    assert "left out" not in capsys.readouterr().out  # without the option nothing changes
    assert len(read_csv(out)) == 67
    assert extract.main(options + ["--mismatches", str(mismatches)]) == 0
    assert sorted(row["track_id"] for row in read_csv(out)) == UNTOUCHED
    assert ("wrote 5 rows" in (printed := capsys.readouterr().out)
            and "left out 62 mismatched tracks (--mismatches)" in printed)


@pytest.mark.parametrize("content, complaint", [
    ("ERROR: <SOUMNSI12AB0182807 TRMMGKQ128F9325E10> A  -  B  !=  C  -  D\nTRMMGKQ128F9325E10\n",
     "mismatches.txt:2: expected 'ERROR: <SO... TR...> artist - title != artist - title', "
     "got 'TRMMGKQ128F9325E10'"),
    ("TRACK_ID\tgenre\nTRAAAAA128F00000AA\tJazz\n", "mismatches.txt:1: expected"),
    ("", "no mismatch line (an empty file?)"),
    (None, "No such file or directory"),
])
def test_a_file_that_is_no_mismatch_list_is_refused_in_one_line(tmp_path, capsys, content,
                                                                 complaint):
    tree = write_tree(tmp_path / "tree", 1)
    mismatches = tmp_path / "mismatches.txt"
    if content is not None:
        mismatches.write_text(content)
    out = tmp_path / "SongCSV.csv"
    assert extract.main([str(tree), "--out", str(out), "--mismatches", str(mismatches)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --mismatches {mismatches}") and complaint in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["tree"] + (["mismatches.txt"] if content is not None else []))


def test_artist_tags_label_generated_files_and_are_not_written(tmp_path):
    tree = tmp_path / "tree"
    (tree / "A").mkdir(parents=True)
    write_song_file(tree / "A" / "TRGEN000000000001.h5", [make_song(
        "TRGEN000000000001", artist_terms=["reggae", "dub"], artist_terms_weight=[1.0, 0.5],
        artist_mbtags=[], artist_mbtags_count=[])])
    write_song_file(tree / "A" / "TRGEN000000000002.h5", [make_song(
        "TRGEN000000000002", artist_terms=["80s"], artist_terms_weight=[1.0],
        artist_mbtags=["bluegrass"], artist_mbtags_count=[3])])
    out = tmp_path / "SongCSV.csv"
    assert extract.main([str(tree), "--out", str(out), "--quiet", "--workers", "2",
                         "--labels", "echonest-terms,musicbrainz-tags"]) == 0
    rows = read_csv(out)
    assert [(row["genre"], row["genre_source"], row["tags"]) for row in rows] == [
        ("reggae", "echonest-terms", "reggae:100;dub:50"),
        ("country", "musicbrainz-tags", "bluegrass:100")]
    assert list(rows[0]) == list(features.columns()) + list(labels.LABEL_COLUMNS)


def test_crops_follow_their_song_with_its_label(shared_data, tmp_path, capsys):
    subset = real_subset(shared_data, tmp_path / "MillionSongSubset")
    cd1 = shared_data / "tagtraum" / "msd_tagtraum_cd1.cls"
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"SongCSV{workers}.csv"
        assert extract.main([str(subset / "data"), "--out", str(out), "--workers", workers,
                             "--quiet", "--labels", str(cd1), "--crops", "2",
                             "--crop-seconds", "20"]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert "wrote 5 rows and 10 crops' rows" in capsys.readouterr().out
    rows = read_csv(out)
    assert [row["crop"] for row in rows] == ["0", "1", "2"] * 5
    assert [row["track_id"] for row in rows[::3]] == UNTOUCHED
    for first in range(0, 15, 3):
        song, crops = rows[first], rows[first + 1:first + 3]
        for crop in crops:
            assert crop["track_id"] == song["track_id"] and crop["tempo"] == song["tempo"]
            assert (crop["genre"], crop["genre_source"]) == (song["genre"], song["genre_source"])
            assert crop["timbre_mean_0"] != song["timbre_mean_0"]
    assert rows[0]["genre"] == "Pop_Rock"  # Soul Deep, in tagtraum CD1


@pytest.mark.parametrize("options", [["--crops", "-1"], ["--crop-seconds", "0"],
                                     ["--crops", "2", "--no-segments"]])
def test_bad_crop_options_are_refused(tmp_path, capsys, options):
    with pytest.raises(SystemExit) as exited:
        extract.main([str(tmp_path), "--quiet", *options])
    assert exited.value.code == 2 and "--crop" in capsys.readouterr().err
