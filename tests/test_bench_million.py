"""bench.bench_million: the pipeline as a user runs it on a tiled summary file, its report against
the targets, a genre for every song, reuse of built files, and a failing stage."""
import re

import pandas as pd
import pytest

from bench import bench_million
from bench.bench_summary import bench_id

SONGS = 20_000  # two copies of each subset song: ids must stay one per row past the first tile
CD1_SUBSET_SONGS = 1_390  # subset songs tagtraum CD1 labels (../shared/data/README.md)


def test_runs_every_stage_and_predicts_a_genre_for_every_song(shared_data, tmp_path, capsys):
    work, markdown = tmp_path / "work", tmp_path / "scaling.md"
    assert bench_million.main(["--songs", str(SONGS), "--workdir", str(work), "--out",
                               str(markdown), "--train-options",
                               "--epochs 2 --ensemble 1 --hidden 16 8"]) == 0
    printed = capsys.readouterr().out
    for stage in bench_million.STAGES:
        assert re.search(rf"^{stage}: [\d.]+ s \([\d.]+ s CPU\), [\d,]+ MiB peak \| \S", printed,
                         re.MULTILINE)
        # 20,000 songs are 2 % of the million the targets are set for: every one is met.
        assert re.search(rf"^\| {stage} \| [\d.]+ s \| [\d.]+ s \| [\d,]+ MiB \| "
                         r"<= \d+ s, < 4 GiB \| met \|$", printed, re.MULTILINE)
    assert f"genres.csv: {SONGS:,} rows, {SONGS:,} distinct track_ids, for {SONGS:,} songs" \
        in printed
    assert re.search(r"test split \(metrics.json\): accuracy 0\.\d{3}, macro-F1 0\.\d{3}", printed)
    assert "train.py --epochs 2 --ensemble 1 --hidden 16 8 (not its defaults)" in printed
    assert markdown.read_text().startswith(f"## bench_million: {SONGS:,} songs")
    genres = pd.read_csv(work / "genres.csv")
    assert sorted(genres["track_id"]) == [bench_id("TR", row) for row in range(SONGS)]
    labelled = (work / "msd_tagtraum_cd1.cls").read_text().splitlines()[1:]
    assert len(labelled) == 2 * CD1_SUBSET_SONGS


def test_reuses_built_files_of_the_same_size_only(shared_data, tmp_path, capsys):
    paths = bench_million.Paths(tmp_path)
    bench_million.build_inputs(paths, 100)
    bench_million.build_inputs(paths, 100)
    bench_million.build_inputs(paths, 200)
    actions = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["built", "built", "reusing", "reusing", "built", "built"]
    assert not list(tmp_path.glob("*.partial"))


def test_a_failing_stage_prints_its_error_and_stops(shared_data, tmp_path, capsys):
    assert bench_million.main(["--songs", "100", "--workdir", str(tmp_path),
                               "--stages", "evaluate", "train"]) == 1
    captured = capsys.readouterr()
    assert "error: train failed" in captured.err.splitlines()[-1]
    assert "evaluate" not in captured.out and "| stage |" not in captured.out


def test_the_report_says_which_targets_a_stage_missed():
    within = {"seconds": 59.0, "cpu_seconds": 50.0, "peak_mib": 4000.0}
    results = {"extract": within, "preprocess": {**within, "seconds": 61.0},
               "train": {**within, "peak_mib": 4096.0}}
    verdicts = [line.split("|")[-2].strip() for line in bench_million.stage_table(results)[2:]]
    assert verdicts == ["met", "NOT met", "NOT met"]


def test_bad_options_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_million.main(["--songs", "0"])
    assert exit_info.value.code == 2
    assert "--songs must be at least 1" in capsys.readouterr().err.strip().splitlines()[-1]
