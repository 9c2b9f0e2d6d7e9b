"""bench/real_benchmark.py's options, folds and prior-correction sweep (no real data needed)."""
import pytest

import preprocess
import train
from test_preprocess import load_real_benchmark, synthetic_songcsv

real_benchmark = load_real_benchmark()


@pytest.mark.parametrize("options, complaint", [
    (["--cv", "1"], "--cv needs at least 2 folds"),
    (["--repeats", "3"], "--repeats needs --cv"),
    (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
    (["--hidden", "0"], "--hidden widths must be at least 1"),
])
def test_bad_options_are_one_line_before_any_work(options, complaint, tmp_path, capsys):
    assert real_benchmark.main(["--shared-data", str(tmp_path), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and complaint in err and err.count("\n") == 1


def test_one_fold_is_refused():
    table = preprocess.preprocess(synthetic_songcsv(n_songs=100))
    with pytest.raises(preprocess.PreprocessError, match="at least 2 folds"):
        real_benchmark.cv_splits(table, 1)


def test_sweep_covers_the_checkpoints_own_correction():
    table = preprocess.preprocess(synthetic_songcsv(n_songs=300))
    checkpoint, _ = train.train_checkpoint(table, train.TrainConfig(
        epochs=20, patience=5, hidden=(16, 8), prior_correction=0.3))
    sweep = real_benchmark.prior_sweep(checkpoint, table)
    assert 0.3 in sweep and set(real_benchmark.PRIOR_CORRECTIONS) <= set(sweep)
    assert all(0 <= scores["accuracy"] <= 1 for scores in sweep.values())
    printed = real_benchmark.format_sweep([sweep], 0.3)
    assert "0.30" in printed and "(default)" in printed.splitlines()[
        sorted(sweep).index(0.3) + 1]
