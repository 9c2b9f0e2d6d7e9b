"""bench.real_cv: every method scored on the same test songs of real song files, never on a
training-only row or a crop, and a table row per method (skipped when its package is absent)."""
import re
from importlib.util import find_spec

import numpy as np
import pytest

import scoring
import songtable
from bench import real_cv

SUBSET = ("A/A", "A/B", "A/C")  # 160 real song files: 3 Last.fm genres of 10+ songs


@pytest.fixture
def few_songs(shared_data, tmp_path):
    """A folder of links to a few dozen of the real song files."""
    songs = tmp_path / "songs"
    for folder in SUBSET:
        for path in (shared_data / "MillionSongSubset" / "data" / folder).rglob("*.h5"):
            link = songs / path.relative_to(shared_data / "MillionSongSubset" / "data")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return songs


@pytest.fixture
def scored_rows(monkeypatch):
    """[(table, [test rows' (track id, may only train) per scored fold])] of each
    scoring.cross_validated call."""
    calls = []
    cross_validated, scorer = scoring.cross_validated, scoring.scorer

    def recording_cross_validated(estimator, table, *args, **kwargs):
        calls.append((table, []))
        return cross_validated(estimator, table, *args, **kwargs)

    def recording_scorer(estimator, features, genres):
        identity = songtable.row_identity(features)
        calls[-1][1].append(set(zip(identity[1], identity[2])))
        return scorer(estimator, features, genres)

    monkeypatch.setattr(scoring, "cross_validated", recording_cross_validated)
    monkeypatch.setattr(scoring, "scorer", recording_scorer)
    return calls


def test_every_method_scores_the_same_songs_never_a_crop_or_training_only_row(
        few_songs, scored_rows, tmp_path, monkeypatch, capsys):
    realmlp = real_cv.METHODS["realmlp"]
    monkeypatch.setitem(real_cv.METHODS, "realmlp", realmlp._replace(  # a short RealMLP
        make=lambda args: realmlp.make(args).set_params(realmlp_td_classifier__n_epochs=4)))
    config = tmp_path / "mlp.json"
    config.write_text('{"epochs": 3, "hidden": [16], "ensemble": 1}')
    out = tmp_path / "results.md"
    assert real_cv.main(["--songs", str(few_songs), "--sources", "lastfm", "--folds", "2",
                         "--repeats", "1", "--crops", "2", "--config", str(config),
                         "--catboost-iterations", "5", "--workdir", str(tmp_path / "work"),
                         "--out", str(out)]) == 0
    table = scored_rows[0][0]
    may_not_score = songtable.crop_mask(table) | songtable.train_only_mask(table)
    assert may_not_score.any(), "the subset should hold crops and training-only rows"
    folds = scored_rows[0][1]
    assert len(folds) == 2 and not folds[0] & folds[1]
    assert folds[0] | folds[1] == {(track, False)
                                   for track in table.loc[~may_not_score, "track_id"]}
    default_methods = [method for name, method in real_cv.METHODS.items()
                       if name not in real_cv.EXPLORATORY]
    installed = [method for method in default_methods
                 if not method.package or find_spec(method.package)]
    # The MLP alone is the default's estimator: its folds are the default's, not rerun.
    assert len(scored_rows) == len(installed) - 1
    for _, method_folds in scored_rows:
        assert method_folds == folds
    printed = capsys.readouterr().out
    for method in default_methods:
        row = re.search(rf"^{re.escape(method.title)}  +(.*)$", printed, re.MULTILINE)
        assert row, f"no row for {method.title}"
        shown = r"\d\.\d{3} ± \d\.\d{3}" if method in installed else re.escape(real_cv.SKIPPED)
        assert re.match(shown, row.group(1))
    written = out.read_text()
    assert "Command: `python -m bench.real_cv --songs" in written
    assert "| our default model | " in written and "fold seeds [0]" in written


@pytest.mark.parametrize("options, complaint", [
    (["--sources", "lastfm", "--labels", "x.cls"], "--sources and --labels: give one of them"),
    (["--catboost-iterations", "0"], "--catboost-iterations must be at least 1"),
    (["--methods", "xgboost"], "invalid choice: 'xgboost'"),
    (["--vote-trees-weight", "1.5"], "--vote-trees-weight must be in [0, 1]"),
])
def test_bad_options_are_one_line(options, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        real_cv.main(options)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_votes_trees_can_learn_from_the_rows_that_may_be_scored_alone():
    rng = np.random.default_rng(0)
    genres = np.repeat(["blues", "jazz", "rock"], 40)
    features = rng.normal(size=(len(genres), 4)) + (genres == "jazz")[:, None]
    train_only = genres == "rock"  # rock: weaker labels alone
    vote = real_cv.MLPTreesVote(trees_weight=0.5, trees_scored_rows_only=True,
                                mlp={"epochs": 2, "hidden": (8,), "ensemble": 1})
    vote.fit(features, genres, train_only=train_only)
    assert list(vote.trees_.classes_) == ["blues", "jazz"]
    probabilities = vote.predict_proba(features)
    assert probabilities.shape == (len(genres), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    # rock's probability is the MLP's alone, halved
    np.testing.assert_allclose(probabilities[:, 2], vote.mlp_.predict_proba(features)[:, 2] / 2,
                               rtol=1e-5)
