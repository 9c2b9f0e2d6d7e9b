"""The genre classifier: a scikit-learn estimator around network.GenreMLP; fit is where it learns.

Usage:
    from genrelearn.classifier import GenreClassifier
    classifier = GenreClassifier(hidden=(256, 128, 64)).fit(features, genres, groups=artists)
    classifier.predict(other_features)                  # genre names
    classifier.save("runs/NAME/model.pt")
    classifier = GenreClassifier.load("runs/NAME/model.pt")

The constructor's parameters are the whole training configuration (options.py gives their help,
the scripts' options and JSON configs). ``fit`` is the only place anything is learned: the input
transform (train rows only), class weights, the ensemble's training with early stopping
(training.py) on a validation part (``eval_set``, or whole artists held out of the training
rows when ``groups`` is given) and the prior correction. It works in scikit-learn's tools
unchanged (clone, cross_validate, RandomizedSearchCV, VotingClassifier, pickle). ``save``
writes the checkpoint that checkpoint.py describes.
"""
import math
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from genrelearn import scoring, splitting, summaries
from genrelearn.checkpoint import read_checkpoint, write_checkpoint
from genrelearn.network import GenreMLP
from genrelearn.provenance import SongSet, song_keys
from genrelearn.training import (Schedule, auto_batch_size, auto_lr, class_weighted_loss,
                                 format_epoch, train_members)
from genrelearn.transforms import InputTransform, class_shares, class_weights, correct_prior

AUTO_CORRECTIONS = tuple(np.round(np.linspace(0, 1, 11), 2).tolist())
PREDICTION_ROWS = 8192  # songs per forward pass: memory stays flat for a million songs
# Validation songs early stopping looks at each epoch: on a large table a sample of them, so
# that checking costs a sixth of a round's training, not as much again (accuracy on 25,000
# songs is within 0.3 points); the prior correction is then chosen on all of them.
STOPPING_ROWS = 25_000


class FitError(ValueError):
    """Rows that cannot train a model: values it cannot read, one genre, nothing to validate on."""


class SettingError(ValueError):
    """A parameter outside its range; ``name`` is the parameter, ``requirement`` what it needs."""

    def __init__(self, name, requirement):
        super().__init__(f"{name} {requirement}")
        self.name, self.requirement = name, requirement


class GenreClassifier(ClassifierMixin, BaseEstimator):
    """Genre classifier: transformed inputs -> GenreMLP's members -> genre probabilities.

    Defaults: see options.PARAMETER_HELP and docs (how they were chosen).
    """
    learns_from_crops = True  # scoring.training_table: songs' crops train it

    def __init__(self, hidden=(256, 128, 64), dropout=0.36, epochs=500, batch_size="auto",
                 lr=0.001, momentum=0.9, weight_decay=0.01, optimizer="adamw", patience=10,
                 class_weight_power=0.78, prior_correction="auto", input_noise=0.2,
                 input_transform="quantile", label_smoothing=0.05, stop_on="score", ensemble=5,
                 bootstrap=False, holdout_fraction=0.15, seed=0, device="auto", verbose=False):
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.patience = patience
        self.class_weight_power = class_weight_power
        self.prior_correction = prior_correction
        self.input_noise = input_noise
        self.input_transform = input_transform
        self.label_smoothing = label_smoothing
        self.stop_on = stop_on
        self.ensemble = ensemble
        self.bootstrap = bootstrap
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.device = device
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def check_params(self):
        """Raise SettingError for the first parameter outside its range."""
        for name in ("epochs", "batch_size", "patience", "ensemble"):
            value = getattr(self, name)
            if not (name == "batch_size" and value == "auto"
                    or isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise SettingError(name, "must be a whole number, at least 1" + (
                    ", or auto" if name == "batch_size" else ""))
        ranges = {"dropout": (0, 1, "[0, 1)"), "class_weight_power": (0, 1.0001, "[0, 1]"),
                  "prior_correction": (0, 1.0001, "[0, 1] or auto"),
                  "label_smoothing": (0, 1, "[0, 1)"),
                  "holdout_fraction": (1e-9, 0.5, "(0, 0.5)")}
        for name, (low, high, shown) in ranges.items():
            value = getattr(self, name)
            if not (name == "prior_correction" and value == "auto"
                    or isinstance(value, (int, float)) and low <= value < high):
                raise SettingError(name, f"must be in {shown}")
        for name in ("lr", "momentum", "weight_decay", "input_noise"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0) or (name == "lr" and value == 0):
                raise SettingError(name, "must be a finite number, " + (
                    "above 0" if name == "lr" else "not negative"))
        if not self.hidden or any(width < 1 for width in self.hidden):
            raise SettingError("hidden", "widths must be at least 1")
        for name, choices in (("optimizer", ("sgd", "adam", "adamw")),
                              ("input_transform", ("standard", "quantile")),
                              ("stop_on", ("loss", "score"))):
            if getattr(self, name) not in choices:
                raise SettingError(name, f"must be one of {', '.join(choices)}")
        self._device()

    def fit(self, X, y, groups=None, eval_set=None, train_only=None, copy_X=True):
        """Learn from features ``X`` (DataFrame or array; NaN for unknown values) and genres ``y``.

        Early stopping watches ``eval_set`` = (features, genres) when given; otherwise a
        ``holdout_fraction`` of the rows is held out, whole artists when ``groups`` (one artist id
        per row) is given. Rows marked ``train_only`` (weaker labels, crops) only train, as
        splitting.learning_rows rules: never held out, not counted in the genre shares that the
        prior correction moves towards. Features from splitting.split_rows say each row's
        artist and whether it may only train in their index: fit follows them when ``groups``
        and ``train_only`` are not given. The songs it trains and validates on are recorded
        (``learned_songs_``), so nothing scores it on them. With ``copy_X`` False, fit may
        overwrite ``X``'s values with the network's inputs (train.py: a table of millions of
        rows is then held once). Returns self.
        """
        self.check_params()
        identity = splitting.row_identity(X)
        if identity is not None:
            groups = identity[0] if groups is None else groups
            train_only = identity[2] if train_only is None else train_only
        elif groups is None and eval_set is None:
            warnings.warn("GenreClassifier.fit without groups holds out single rows to stop "
                          "early: rows of one song (crops) or one artist can be on both sides. "
                          "Pass groups= or features from splitting.split_rows", stacklevel=2)
        features = self._checked(X, reset=True)
        # Sorted as np.unique sorts them; factorising hashes a million genres, not sorts them.
        labels, self.classes_ = pd.factorize(np.asarray(y), sort=True)
        if len(self.classes_) < 2:
            raise FitError("need songs of at least two genres to learn from")
        songs = song_keys(None if identity is None else identity[1], features)
        weak = (np.zeros(len(labels), dtype=bool) if train_only is None
                else np.asarray(train_only, dtype=bool))
        if eval_set is not None:
            val_features = self._checked(eval_set[0])
            val_identity = splitting.row_identity(eval_set[0])
            val = (val_features, self._genre_indices(eval_set[1]))
            val_songs = song_keys(None if val_identity is None else val_identity[1],
                                  val_features)
        else:
            train, held = splitting.holdout_rows(labels, groups, weak, self.holdout_fraction,
                                                 self.seed)
            val, val_songs = (features[held], labels[held]), songs[held]
            features, labels, weak, songs = (features[train], labels[train], weak[train],
                                             songs[train])
        if len(val[1]) == 0:
            raise FitError("no validation rows: early stopping needs them")
        self.learned_songs_ = {"train": SongSet(songs), "val": SongSet(val_songs)}
        self.provenance_ = {}
        started = time.perf_counter()
        self.transform_, inputs = InputTransform(self.input_transform).fit_transform(
            features, overwrite=not copy_X)
        self.class_prior_ = class_shares(labels[~weak], len(self.classes_))
        schedule = self._schedule(len(labels))
        self.network_, self.history_, best_epochs = self._train(inputs, labels, val, schedule)
        self.prior_correction_, val_scores = self._chosen_correction(*val)
        self.metrics_ = {"best_epochs": best_epochs,
                         "epochs_run": max(row["epoch"] for row in self.history_),
                         "val_accuracy": val_scores[0], "val_macro_f1": val_scores[1],
                         "n_train": len(labels), "n_val": len(val[1]),
                         "n_train_only": int(weak.sum()),
                         "train_genres": dict(zip(self.classes_.tolist(), np.bincount(
                             labels[~weak], minlength=len(self.classes_)).tolist())),
                         "batch_size": schedule.batch_size, "lr": schedule.lr,
                         "train_seconds": time.perf_counter() - started,
                         "device": self._device()}
        return self

    def learned_from(self, X, track_ids=None):
        """Per row of features ``X``: "train" or "val" when the model learned from that song
        (trained, or chose its epochs and prior correction on it), else "". Songs are known by
        their track ids (``X``'s split_rows index, else ``track_ids``), rows without one by
        their feature values. None when the model has no record (an older checkpoint)."""
        check_is_fitted(self)
        if self.learned_songs_ is None:
            return None
        identity = splitting.row_identity(X)
        keys = song_keys(identity[1] if identity is not None else track_ids, self._checked(X))
        found = np.full(len(keys), "", dtype=object)
        found[self.learned_songs_["val"].holds(keys)] = "val"
        found[self.learned_songs_["train"].holds(keys)] = "train"
        return found

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``X``; scoring.LeakError when a row may only train or was learned from."""
        scoring.refuse_unscoreable(self, X)
        return super().score(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Genre probabilities (songs x classes_): the mean of the members' softmax outputs,
        then corrected towards the train genre shares (see ``prior_correction``)."""
        check_is_fitted(self)
        return self._probabilities(self._checked(X))

    def predict(self, X):
        """The most probable genre of each song."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_on(self, device):
        """Predict on ``device`` (auto, cpu, cuda, cuda:1) from now on: the fitted network moves
        there (evaluate.py, predict.py --device; fit and load leave it on the CPU). Returns
        self; SettingError for a device torch does not have."""
        check_is_fitted(self)
        self.network_.to(torch_device(device))
        return self

    def save(self, path, provenance=None):
        """Write the self-contained checkpoint (checkpoint.py) to ``path`` atomically, with the
        songs the model learned from and ``provenance`` (where its table and code came from:
        provenance.table_record, code_record) under "provenance"."""
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        songs = None if self.learned_songs_ is None else {
            name: torch.from_numpy(learned.as_signed())
            for name, learned in self.learned_songs_.items()}
        write_checkpoint(path, {
            "model": self.network_.state_dict(), "model_args": self.network_.arguments(),
            "feature_names": None if names is None else [str(name) for name in names],
            **self.transform_.state(), "classes": self.classes_.tolist(),
            "class_prior": self.class_prior_, "prior_correction": self.prior_correction_,
            "config": {**self.get_params(), "hidden": list(self.hidden)},
            "metrics": self.metrics_,
            "provenance": {**(provenance or self.provenance_), "songs": songs}})

    @classmethod
    def load(cls, path):
        """The fitted classifier saved at ``path``; CheckpointError when it is not one."""
        checkpoint = read_checkpoint(path)
        classifier = cls(**{**checkpoint["config"],
                            "hidden": tuple(checkpoint["config"]["hidden"])})
        if checkpoint["feature_names"] is not None:
            classifier.feature_names_in_ = np.array(checkpoint["feature_names"], dtype=object)
        classifier.transform_ = InputTransform.from_state(checkpoint)
        classifier.n_features_in_ = (checkpoint["model_args"]["n_features"]
                                     - len(classifier.transform_.missing_columns))
        classifier.classes_ = np.array(checkpoint["classes"])
        classifier.class_prior_ = checkpoint["class_prior"]
        classifier.prior_correction_ = checkpoint["prior_correction"]
        classifier.metrics_ = checkpoint["metrics"]
        # Checkpoints from before provenance was recorded know nothing of their songs.
        record = dict(checkpoint.get("provenance") or {})
        songs = record.pop("songs", None)
        classifier.provenance_ = record
        classifier.learned_songs_ = None if songs is None else {
            name: SongSet.from_signed(keys.numpy()) for name, keys in songs.items()}
        classifier.network_ = GenreMLP(**checkpoint["model_args"])
        classifier.network_.load_state_dict(checkpoint["model"])
        classifier.network_.eval()
        return classifier

    def _train(self, inputs, labels, val, schedule):
        """(the trained GenreMLP on the CPU, history, best epochs) on the training rows'
        ``inputs`` (transformed), stopping on ``val`` = (features, genre indices)."""
        device = self._device()
        network = GenreMLP(self.transform_.n_inputs, len(self.classes_), self.hidden,
                           self.dropout, self.ensemble,
                           seeds=[self.seed + member for member in range(self.ensemble)])
        torch.manual_seed(self.seed)  # dropout and input noise
        train = (inputs.to(device), torch.from_numpy(labels).to(device))
        checked = np.sort(np.random.default_rng(self.seed).permutation(len(val[1]))[
            :STOPPING_ROWS]) if len(val[1]) > STOPPING_ROWS else slice(None)
        val_inputs = self.transform_(val[0][checked]).to(device)
        val_labels = val[1][checked]
        criterion = class_weighted_loss(class_weights(
            self.class_prior_, self.class_weight_power).to(device), self.label_smoothing)
        # With an auto prior correction, epochs are compared at the middle share.
        share = 0.5 if self.prior_correction == "auto" else self.prior_correction
        history, best_epochs = train_members(
            network.to(device), train, (val_inputs, torch.from_numpy(val_labels).to(device)),
            schedule, lambda probabilities: [self._val_scores(member, val_labels, share)
                                             for member in probabilities],
            criterion, self._bootstrap_weights(len(labels), device),
            on_epoch=(lambda rows, improved: print(format_epoch(rows, improved)))
            if self.verbose else None)
        return network.cpu().eval(), history, best_epochs

    def _schedule(self, n_rows):
        """The Schedule of a fit on ``n_rows`` training rows: an auto batch size by its rule,
        with its learning rate (training.auto_batch_size, auto_lr)."""
        batch_size, lr = self.batch_size, self.lr
        if batch_size == "auto":
            batch_size = auto_batch_size(n_rows)
            lr = auto_lr(self.lr, batch_size)
        return Schedule(self.epochs, batch_size, self.patience, self.stop_on, self.optimizer,
                        lr, self.momentum, self.weight_decay, self.input_noise, self.seed)

    def _bootstrap_weights(self, n_rows, device):
        """Each member's resample of the rows as row weights (members x rows), or None."""
        if not self.bootstrap:
            return None
        return torch.stack([torch.from_numpy(np.bincount(
            np.random.default_rng(self.seed + member).integers(0, n_rows, n_rows),
            minlength=n_rows)).float() for member in range(self.ensemble)]).to(device)

    def _chosen_correction(self, val_features, val_labels):
        """(the prior correction with the best validation accuracy + macro-F1 among those fit
        may choose, its (accuracy, macro-F1))."""
        uncorrected = torch.from_numpy(self._probabilities(val_features, share=0.0))
        shares = AUTO_CORRECTIONS if self.prior_correction == "auto" else (self.prior_correction,)
        scored = {share: self._val_scores(uncorrected, val_labels, share) for share in shares}
        best = max(scored, key=lambda share: sum(scored[share]))
        return best, scored[best]

    def _probabilities(self, features, share=None):
        """Probabilities, corrected by ``share`` of the class weighting (the fitted one when
        None), computed PREDICTION_ROWS songs at a time."""
        share = self.prior_correction_ if share is None else share
        device = next(self.network_.parameters()).device  # the CPU, unless predict_on moved it
        parts = []
        with torch.no_grad():
            for start in range(0, len(features), PREDICTION_ROWS):
                inputs = self.transform_(features[start:start + PREDICTION_ROWS]).to(device)
                probabilities = torch.softmax(self.network_(inputs), dim=2).mean(dim=0)
                parts.append(correct_prior(probabilities, self.class_prior_,
                                           share * self.class_weight_power).cpu())
        return torch.cat(parts).numpy() if parts else np.zeros((0, len(self.classes_)))

    def _val_scores(self, probabilities, labels, share):
        """(accuracy, macro-F1) of genre indices from uncorrected probabilities after ``share``."""
        corrected = correct_prior(torch.as_tensor(probabilities), self.class_prior_,
                                  share * self.class_weight_power)
        found = scoring.scores(labels, corrected.argmax(dim=-1).numpy())
        return found["accuracy"], found["macro_f1"]

    def _device(self):
        return torch_device(self.device)

    def _checked(self, X, reset=False):
        """``X`` as a float32 array of the fitted columns; FitError for values it cannot use."""
        try:
            return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan",
                                 dtype=np.float32)
        except ValueError as err:  # infinite values, text, another number of columns
            raise FitError(str(err).splitlines()[0]) from None

    def _genre_indices(self, genres):
        index = {genre: i for i, genre in enumerate(self.classes_)}
        unknown = sorted({str(genre) for genre in genres if genre not in index})
        if unknown:
            raise FitError("genres the model was not trained on: "
                             + summaries.summarise(unknown))
        return np.array([index[genre] for genre in genres], dtype=np.int64)


def torch_device(name):
    """The torch device ``name`` says (auto: cuda when torch sees a GPU, else cpu);
    SettingError("device", ...) for one that is not a device or not on this machine."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise SettingError("device", "is not a torch device (cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", "is cuda but no CUDA device is available")
    return str(device)
