"""genrelearn.classifier.GenreClassifier (around network.GenreMLP): a scikit-learn estimator
that learns genres, reproducibly, and keeps a self-contained checkpoint."""
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.model_selection import RandomizedSearchCV, StratifiedGroupKFold, cross_validate
from songs import synthetic_songcsv
from threadpoolctl import threadpool_limits
from torch.optim.optimizer import register_optimizer_step_post_hook

from genrelearn import cleaning, scoring, splitting, training
from genrelearn.checkpoint import CHECKPOINT_KEYS, CheckpointError
from genrelearn.classifier import AUTO_CORRECTIONS, GenreClassifier, SettingError
from genrelearn.network import GenreMLP
from genrelearn.transforms import class_weights, correct_prior, gaussianise

# One small network, quick to train; tests of other settings name them.
FAST = {"epochs": 30, "patience": 10, "hidden": (32, 16, 8), "ensemble": 1, "lr": 0.01}
# The fitted fixture's: early stopping on the loss, one prior correction (history and predictions
# at the same one).
FITTED = {**FAST, "stop_on": "loss", "prior_correction": 0.4}


@pytest.fixture(autouse=True)
def one_thread():
    """Gradient boosting's OpenMP threads crawl when the CI machine's two cores are busy."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def table():
    return cleaning.clean(synthetic_songcsv(n_songs=400))


@pytest.fixture(scope="module")
def rows(table):
    return {split: splitting.split_rows(table, split) for split in splitting.SPLITS}


@pytest.fixture(scope="module")
def fitted(rows):
    features, genres, artists = rows["train"]
    return GenreClassifier(**FITTED, seed=1).fit(
        features, genres, groups=artists, eval_set=rows["val"][:2])


def test_default_network_is_four_linear_layers_sized_by_data():
    network = GenreMLP(n_features=7, n_classes=3)
    assert [tuple(weight.shape) for weight in network.weights] == [
        (1, 7, 128), (1, 128, 64), (1, 64, 32), (1, 32, 3)]
    assert network(torch.zeros(5, 7)).shape == (1, 5, 3)  # (members, songs, genres)
    assert len(GenreClassifier().hidden) == 3  # the default classifier is four layers too


def test_members_side_by_side_compute_what_each_computes_alone():
    stacked = GenreMLP(7, 3, hidden=(16, 8, 4), dropout=0.3, members=3, seeds=[5, 6, 7]).eval()
    alone = GenreMLP(7, 3, hidden=(16, 8, 4), dropout=0.3, members=1, seeds=[6]).eval()
    songs = torch.randn(10, 7)
    assert torch.allclose(stacked(songs)[1], alone(songs)[0])
    assert torch.allclose(stacked.select([1])(songs)[0], alone(songs)[0])
    assert not torch.allclose(stacked(songs)[0], stacked(songs)[1])


def test_learns_genres_and_knows_its_inputs(fitted, rows):
    features, genres, _ = rows["test"]
    assert list(fitted.classes_) == ["Jazz", "Pop_Rock", "Rap"]
    assert list(fitted.feature_names_in_) == list(features.columns)
    probabilities = fitted.predict_proba(features)
    assert probabilities.shape == (len(genres), 3)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(len(genres)), abs=1e-5)
    assert fitted.score(features, genres) > 0.8  # genres are separable in the synthetic timbre
    # year has gaps: it gets a missing-value flag input, the network one input more.
    assert list(fitted.feature_names_in_[fitted.transform_.missing_columns]) == ["year"]
    assert fitted.network_.widths[0] == len(features.columns) + 1


def test_early_stopping_keeps_the_best_epoch(fitted, rows):
    history = fitted.history_
    best = min(history, key=lambda row: row["val_loss"])
    assert fitted.metrics_["best_epochs"] == [best["epoch"]]
    assert len(history) <= best["epoch"] + FAST["patience"]
    features, genres, _ = rows["val"]
    # The kept weights reproduce the best epoch's validation accuracy.
    assert np.mean(fitted.predict(features) == genres) == pytest.approx(best["val_accuracy"])


def test_standardisation_comes_from_the_training_rows_only(rows):
    features, genres, _ = rows["train"]
    val_features, val_genres, _ = rows["val"]
    settings = {**FAST, "epochs": 2, "input_transform": "standard"}
    first = GenreClassifier(**settings).fit(features, genres, eval_set=(val_features, val_genres))
    shifted = val_features.assign(tempo=1e6)
    second = GenreClassifier(**settings).fit(features, genres, eval_set=(shifted, val_genres))
    assert torch.equal(first.transform_.mean, second.transform_.mean)
    assert torch.equal(first.transform_.std, second.transform_.std)
    assert first.transform_.mean[:len(features.columns)].numpy() == pytest.approx(
        features.mean().to_numpy(), rel=1e-5)


def test_same_seed_same_numbers_other_seed_other_numbers(fitted, rows):
    features, genres, artists = rows["train"]

    def fit(seed, **settings):
        return GenreClassifier(**{**FITTED, **settings}, seed=seed).fit(
            features, genres, groups=artists, eval_set=rows["val"][:2])

    again, other = fit(1), fit(2)
    losses = [[row["train_loss"], row["val_loss"]] for row in fitted.history_]
    assert [[row["train_loss"], row["val_loss"]] for row in again.history_] == losses
    assert [[row["train_loss"], row["val_loss"]] for row in other.history_] != losses
    assert np.array_equal(again.predict_proba(rows["test"][0]),
                          fitted.predict_proba(rows["test"][0]))
    noisy, noisy_again = fit(1, input_noise=0.5), fit(1, input_noise=0.5)
    assert noisy.history_ == [{**row, "seconds": noisy.history_[i]["seconds"]}
                              for i, row in enumerate(noisy_again.history_)]
    assert [row["train_loss"] for row in noisy.history_] != [row["train_loss"] for row in
                                                              fitted.history_]


def test_without_a_validation_set_whole_artists_are_held_out(table):
    features, genres, artists = splitting.split_rows(table, "train")
    classifier = GenreClassifier(**FAST, holdout_fraction=0.2).fit(features, genres,
                                                                      groups=artists)
    held = classifier.metrics_["n_val"]
    assert classifier.metrics_["n_train"] + held == len(genres)
    assert 0.1 * len(genres) < held < 0.3 * len(genres)
    assert held % 5 == 0  # five songs per artist: artists are held out whole


def test_save_and_load_give_the_same_predictions(fitted, rows, tmp_path):
    path = tmp_path / "run" / "model.pt"
    fitted.save(path)
    checkpoint = torch.load(path, weights_only=True)  # plain tensors and Python values
    assert set(CHECKPOINT_KEYS) <= set(checkpoint)
    assert checkpoint["classes"] == ["Jazz", "Pop_Rock", "Rap"]
    assert checkpoint["config"]["seed"] == 1 and checkpoint["config"]["hidden"] == [32, 16, 8]
    loaded = GenreClassifier.load(path)
    assert loaded.get_params() == fitted.get_params()
    features = rows["test"][0]
    assert np.array_equal(loaded.predict_proba(features), fitted.predict_proba(features))
    assert list(path.parent.iterdir()) == [path]  # no temporary left behind


def test_foreign_and_older_checkpoints_are_refused(fitted, tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        GenreClassifier.load(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        GenreClassifier.load(tmp_path / "none.pt")
    fitted.save(tmp_path / "model.pt")
    old = torch.load(tmp_path / "model.pt", weights_only=True)
    del old["missing_columns"]
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="older train.py .* train it again"):
        GenreClassifier.load(tmp_path / "old.pt")


def test_checkpoints_of_separate_networks_load_as_one_batched_network(rows, tmp_path):
    """Before the members were one batched module, a checkpoint held one state dict per
    network (net.0.weight ...) and the parameter validation_fraction."""
    features, genres, artists = rows["train"]
    ensemble = GenreClassifier(**{**FITTED, "ensemble": 2, "dropout": 0.2}).fit(
        features, genres, groups=artists, eval_set=rows["val"][:2])
    ensemble.save(tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    layers = (0, 3, 6, 9)  # Linear, ReLU, Dropout, ...: where the Linear layers were
    checkpoint["model"] = [
        {**{f"net.{layer}.weight": checkpoint["model"][f"weights.{depth}"][member].T
            for depth, layer in enumerate(layers)},
         **{f"net.{layer}.bias": checkpoint["model"][f"biases.{depth}"][member, 0]
            for depth, layer in enumerate(layers)}} for member in range(2)]
    del checkpoint["model_args"]["members"]
    config = checkpoint["config"]
    config["validation_fraction"] = config.pop("holdout_fraction")
    torch.save(checkpoint, tmp_path / "old.pt")
    loaded = GenreClassifier.load(tmp_path / "old.pt")
    assert loaded.get_params() == ensemble.get_params()
    assert np.array_equal(loaded.predict_proba(features), ensemble.predict_proba(features))


def alone(ensemble, member, **fitted):
    """A classifier of one member of ``ensemble`` (its other fitted state shared)."""
    single = clone(ensemble)
    vars(single).update({key: value for key, value in vars(ensemble).items()
                         if key.endswith("_")}, network_=ensemble.network_.select([member]),
                        **fitted)
    return single


def test_ensemble_members_differ_and_their_mean_is_the_prediction(fitted, rows):
    features, genres, artists = rows["train"]
    ensemble = GenreClassifier(**{**FITTED, "ensemble": 3}, seed=1).fit(
        features, genres, groups=artists, eval_set=rows["val"][:2])
    assert ensemble.network_.members == 3 and len(ensemble.metrics_["best_epochs"]) == 3
    assert {row["member"] for row in ensemble.history_} == {0, 1, 2}
    weights = ensemble.network_.weights[0]
    assert not torch.equal(weights[0], weights[1])
    test = rows["test"][0]
    members = [alone(ensemble, member, prior_correction_=0.0).predict_proba(test)
               for member in range(3)]
    expected = correct_prior(torch.tensor(np.mean(members, axis=0)), ensemble.class_prior_,
                             ensemble.prior_correction_ * ensemble.class_weight_power)
    assert ensemble.predict_proba(test) == pytest.approx(expected.numpy(), abs=1e-6)
    # Each member was kept at its own best epoch: its validation accuracy there.
    val_features, val_genres, _ = rows["val"]
    for member in range(3):
        best = next(row for row in ensemble.history_ if row["member"] == member
                    and row["epoch"] == ensemble.metrics_["best_epochs"][member])
        assert np.mean(alone(ensemble, member).predict(val_features) == val_genres) == (
            pytest.approx(best["val_accuracy"]))


def test_a_member_stops_learning_when_its_patience_runs_out(rows):
    """A stopped member leaves the batched network: it gets no more epochs in the history,
    while the others go on; each keeps its own best epoch."""
    features, genres, _ = rows["train"]
    ensemble = GenreClassifier(**{**FAST, "epochs": 60, "patience": 3, "ensemble": 4,
                                  "lr": 0.03}).fit(features, genres, eval_set=rows["val"][:2])
    last = {member: max(row["epoch"] for row in ensemble.history_ if row["member"] == member)
            for member in range(4)}
    for member, best in enumerate(ensemble.metrics_["best_epochs"]):
        assert last[member] == min(best + 3, 60)
    assert len(set(last.values())) > 1, "the members should stop at different epochs"


def test_bootstrap_networks_see_other_rows(rows):
    """With bootstrap each network learns from its own resample of the training rows and from
    nothing else: two rows that network 0's resample left out can swap genres without changing
    it, while network 1, whose resample holds one of them, changes (and without bootstrap the
    same swap changes network 0)."""
    features, genres, _ = rows["train"]
    settings = {"epochs": 3, "patience": 10, "hidden": (8,), "ensemble": 2, "seed": 4}
    resamples = GenreClassifier(**settings, bootstrap=True)._bootstrap_weights(len(genres), "cpu")
    assert resamples.sum(dim=1).tolist() == [len(genres)] * 2  # n rows drawn with replacement
    left_out = (resamples[0] == 0).nonzero().flatten().tolist()
    only_in_second = [row for row in left_out if resamples[1, row] > 0]
    assert only_in_second, "each network should draw its own resample"
    first = only_in_second[0]
    second = next(row for row in left_out if genres[row] != genres[first])
    swapped = genres.copy()
    swapped[[first, second]] = genres[[second, first]]

    def first_layers(bootstrap, labels):
        """Each network's first-layer weights after fitting on ``labels``."""
        fitted = GenreClassifier(**settings, bootstrap=bootstrap).fit(
            features, labels, eval_set=rows["val"][:2])
        return fitted.network_.weights[0]

    resampled, resampled_swapped = first_layers(True, genres), first_layers(True, swapped)
    assert torch.equal(resampled[0], resampled_swapped[0])
    assert not torch.equal(resampled[1], resampled_swapped[1])
    assert not torch.equal(first_layers(False, genres)[0], first_layers(False, swapped)[0])


def test_prior_correction_moves_predictions_towards_common_genres(fitted, rows):
    features = rows["test"][0]
    chosen = fitted.prior_correction_
    pop_rock = []
    for share in (0.0, 0.5, 1.0):
        fitted.prior_correction_ = share
        pop_rock.append(np.sum(fitted.predict(features) == "Pop_Rock"))
    fitted.prior_correction_ = chosen
    assert pop_rock == sorted(pop_rock)
    probabilities = torch.tensor([[0.5, 0.5], [0.3, 0.7]])
    prior = torch.tensor([0.8, 0.2])
    assert torch.equal(correct_prior(probabilities, prior, 0.0), probabilities)
    assert correct_prior(probabilities, prior, 1.0)[0].tolist() == pytest.approx([0.8, 0.2])


def test_class_weights_balance_genres():
    shares = torch.tensor([0.6, 0.3, 0.1])
    assert class_weights(shares).tolist() == pytest.approx([10 / 18, 10 / 9, 10 / 3])
    assert class_weights(shares, power=0.0).tolist() == pytest.approx([1, 1, 1])


@pytest.mark.parametrize("setting, name", [({"lr": 0.0}, "lr"), ({"dropout": 1.0}, "dropout"),
                                           ({"hidden": ()}, "hidden"), ({"epochs": 0}, "epochs"),
                                           ({"input_noise": float("nan")}, "input_noise"),
                                           ({"prior_correction": 1.5}, "prior_correction"),
                                           ({"device": "foo"}, "device")])
def test_settings_out_of_range_are_named(setting, name, rows):
    with pytest.raises(SettingError) as error:
        GenreClassifier(**setting).fit(*rows["train"][:2])
    assert error.value.name == name


def test_works_in_cross_validate_with_artist_grouped_folds(table):
    features, genres, artists = splitting.split_rows(table)
    found = cross_validate(GenreClassifier(**FAST), features, genres, groups=artists,
                           cv=StratifiedGroupKFold(3), scoring=scoring.scorer,
                           params={"groups": artists})
    assert len(found["test_macro_f1"]) == 3 and min(found["test_accuracy"]) > 0.8
    folds = scoring.cross_validated(GenreClassifier(**FAST), table, n_folds=3, seeds=(0, 1))
    assert len(folds) == 6 and all(fold["macro_f1"] > 0.6 for fold in folds)


def test_works_in_a_randomized_search(table):
    features, genres, artists = splitting.split_rows(table)
    search = RandomizedSearchCV(GenreClassifier(epochs=10, patience=3),
                                {"hidden": [(16,), (32, 16, 8)], "lr": [0.01, 0.03]},
                                n_iter=3, cv=StratifiedGroupKFold(2), random_state=0)
    search.fit(features, genres, groups=artists)
    assert search.best_params_["hidden"] in [(16,), (32, 16, 8)]
    assert search.best_estimator_.predict(features.head(3)).shape == (3,)


def test_works_in_a_soft_voting_ensemble_with_gradient_boosting(rows):
    features, genres, _ = rows["train"]
    vote = VotingClassifier([("mlp", GenreClassifier(**FAST)),
                             ("hgb", HistGradientBoostingClassifier(max_iter=20))], voting="soft")
    vote.fit(features, genres)
    test_features, test_genres, _ = rows["test"]
    assert set(vote.predict(test_features)) <= {"Jazz", "Pop_Rock", "Rap"}
    assert vote.score(test_features, test_genres) > 0.8


def test_quantile_inputs_are_normal_on_the_training_rows_and_survive_a_checkpoint(rows,
                                                                                   tmp_path):
    features, genres, artists = rows["train"]
    skewed = features.assign(tempo=np.exp(features["tempo"] / 10))  # heavy right tail
    classifier = GenreClassifier(**FAST, input_transform="quantile").fit(
        skewed, genres, groups=artists)
    mapped = gaussianise(skewed.to_numpy(), classifier.transform_.quantiles)
    tempo = mapped[:, list(skewed.columns).index("tempo")]
    assert abs(np.mean(tempo)) < 0.05 and abs(np.std(tempo) - 1) < 0.1
    assert np.isnan(mapped[:, 0]).sum() == skewed["year"].isna().sum()  # gaps stay gaps
    classifier.save(tmp_path / "model.pt")
    loaded = GenreClassifier.load(tmp_path / "model.pt")
    assert np.array_equal(loaded.predict_proba(skewed), classifier.predict_proba(skewed))


def test_an_auto_prior_correction_is_the_best_share_on_the_validation_rows(rows):
    features, genres, _ = rows["train"]
    val_features, val_genres, _ = rows["val"]
    classifier = GenreClassifier(**FAST, prior_correction="auto").fit(
        features, genres, eval_set=(val_features, val_genres))
    assert classifier.prior_correction_ in AUTO_CORRECTIONS

    def val_sum(share):
        classifier.prior_correction_, chosen = share, classifier.prior_correction_
        found = scoring.scores(val_genres, classifier.predict(val_features))
        classifier.prior_correction_ = chosen
        return found["accuracy"] + found["macro_f1"]

    assert val_sum(classifier.prior_correction_) == max(map(val_sum, AUTO_CORRECTIONS))


def test_stopping_on_the_score_keeps_the_epoch_of_best_accuracy_plus_macro_f1(rows):
    features, genres, _ = rows["train"]
    classifier = GenreClassifier(**{**FAST, "lr": 0.003}, stop_on="score", label_smoothing=0.1,
                                 optimizer="adamw").fit(features, genres,
                                                        eval_set=rows["val"][:2])
    history = classifier.history_
    best = max(history, key=lambda row: (row["val_accuracy"] + row["val_macro_f1"],
                                         -row["epoch"]))
    assert classifier.metrics_["best_epochs"] == [best["epoch"]]
    assert classifier.metrics_["val_accuracy"] == pytest.approx(best["val_accuracy"])


def test_train_only_rows_train_but_never_validate_nor_set_the_genre_shares(table, rows):
    features, genres, artists = splitting.split_rows(table, "train")
    weak = np.asarray(genres == "Jazz") | (np.arange(len(genres)) % 7 == 0)
    classifier = GenreClassifier(**FAST).fit(features, genres, eval_set=rows["val"][:2],
                                             train_only=weak)
    strong_shares = {genre: np.mean(genres[~weak] == genre) for genre in classifier.classes_}
    assert classifier.class_prior_.tolist() == pytest.approx(
        [strong_shares[genre] for genre in classifier.classes_], abs=1e-6)
    assert "Jazz" in classifier.classes_  # learnt from train-only rows alone
    held_out = GenreClassifier(**FAST).fit(features, genres, groups=artists, train_only=weak)
    # Only Pop_Rock and Rap songs are not train-only: only they can be held out.
    assert held_out.metrics_["n_val"] <= (~weak).sum() * 0.3


def test_a_fitted_classifier_pickles_and_predicts_the_same(fitted, rows):
    features = rows["test"][0]
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_proba(features), fitted.predict_proba(features))
    assert clone(fitted).get_params() == fitted.get_params()


def test_the_automatic_batch_grows_with_the_table_and_scales_the_learning_rate(rows):
    assert [training.auto_batch_size(n) for n in (436, 8_191, 20_000, 99_100, 10 ** 6)] == [
        32, 32, 64, 256, 1024]
    features, genres, _ = rows["train"]
    fitted = GenreClassifier(**FAST).fit(features, genres, eval_set=rows["val"][:2])
    assert fitted.batch_size == "auto"
    assert fitted.metrics_["batch_size"] == 32 and fitted.metrics_["lr"] == FAST["lr"]
    assert training.auto_lr(0.001, 512) == pytest.approx(0.004)


def test_a_table_larger_than_a_round_is_checked_several_times_a_pass(rows, monkeypatch):
    """Early stopping looks at the validation rows every ROUND_ROWS training rows: on a table
    of more than ROUND_ROWS rows an epoch is the next ROUND_ROWS rows of the pass, so the epochs
    of one pass take together the optimiser steps of one pass, not each a pass's worth."""
    features, genres, _ = rows["train"]
    monkeypatch.setattr(training, "ROUND_ROWS", 64)
    epochs_a_pass = math.ceil(len(genres) / 64)
    assert epochs_a_pass >= 3
    steps = []
    counting = register_optimizer_step_post_hook(lambda *_: steps.append(1))
    try:
        fitted = GenreClassifier(**{**FAST, "epochs": epochs_a_pass, "patience": 10}).fit(
            features, genres, eval_set=rows["val"][:2])
    finally:
        counting.remove()
    batch = fitted.metrics_["batch_size"]
    assert 64 % batch == 0  # a round is whole batches, so a pass is as many steps as unsplit
    assert fitted.metrics_["epochs_run"] == epochs_a_pass
    assert len(steps) == math.ceil(len(genres) / batch)
