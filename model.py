"""The genre classifier: a scikit-learn estimator around a four-layer ReLU MLP.

Usage:
    from model import GenreClassifier
    classifier = GenreClassifier(hidden=(256, 128, 64)).fit(features, genres, groups=artists)
    classifier.predict(other_features)                  # genre names
    classifier.save("runs/NAME/model.pt")
    classifier = GenreClassifier.load("runs/NAME/model.pt")

The constructor's parameters are the whole training configuration, declared once (with their
help in ``PARAMETER_HELP``): train.py's options, tune.py's search space and JSON configs are
derived from them. ``fit`` is the only place anything is learned: standardisation (train rows
only), missing-value flags, class weights, early stopping on a validation part (``eval_set``, or
whole artists held out of the training rows when ``groups`` is given) and ensembles. It works in
scikit-learn's tools unchanged (cross_validate, RandomizedSearchCV, VotingClassifier).

A checkpoint (``save``) is a plain dict of tensors and Python values that loads with
``torch.load(weights_only=True)``: ``model`` (one state dict per network), ``model_args``
(GenreMLP's arguments), ``feature_names``, ``missing_columns`` (features with a missing-value
flag input), ``quantiles`` (each feature's training quantiles, or None), ``mean`` and ``std``
(of the inputs on the train rows), ``classes``,
``class_prior`` (each genre's share of the train rows), ``prior_correction`` (the share used
at prediction, chosen by fit when the parameter is auto), ``config`` (``get_params()``) and
``metrics``. Whoever loads it rebuilds the networks from ``model_args``.
"""
import inspect
import itertools
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

import scoring
import songtable
from dataset import interrupts
from dataset.outputs import atomic_output

CHECKPOINT_KEYS = ("model", "model_args", "feature_names", "missing_columns", "quantiles", "mean",
                   "std", "classes", "class_prior", "prior_correction", "config", "metrics")
HISTORY_COLUMNS = ("member", "epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1",
                   "seconds")
PARAMETER_HELP = {
    "hidden": "widths of the hidden layers (three make the four-linear-layer MLP)",
    "dropout": "dropout after each hidden layer",
    "epochs": "at most this many passes over the training rows",
    "batch_size": "songs per optimiser step",
    "lr": "learning rate",
    "momentum": "SGD momentum",
    "weight_decay": "L2 penalty on the weights",
    "optimizer": "sgd (with momentum), adam or adamw (decoupled weight decay)",
    "patience": "stop when what stop_on watches has not improved for this many epochs",
    "class_weight_power": "loss weight of each genre is (1 / its share) ** this: 0 unweighted, "
                          "1 every genre weighs the same",
    "prior_correction": "share of the class weighting's favour to rare genres taken back at "
                        "prediction: 0 none (more macro-F1), 1 all (more accuracy), or auto: the "
                        "share with the best validation accuracy + macro-F1",
    "input_noise": "Gaussian noise added to standardised training inputs, in feature stds",
    "input_transform": "standard (mean 0, std 1) or quantile (each feature mapped through its "
                       "training quantiles to a normal distribution, then standardised)",
    "label_smoothing": "share of each training label spread over the other genres",
    "stop_on": "what early stopping watches: loss (validation loss) or score (validation "
               "accuracy + macro-F1; with an auto prior correction, at the share 0.5)",
    "ensemble": "train this many networks (seeds seed, seed+1, ...) and average their "
                "probabilities",
    "bootstrap": "train each network of an ensemble on a resample of the training rows",
    "validation_fraction": "share of the training artists held out for early stopping when no "
                           "validation rows are given (train.py uses the table's val split)",
    "seed": "seed of the weights, shuffling, dropout, noise and held-out artists",
    "device": "auto (cuda if present), cpu or cuda",
    "verbose": "print one line per epoch",
}


# The ranges worth searching, around the defaults: name -> (grid values, (low, high) for random
# and TPE sampling or None to sample the grid's values, log scale). tune.py and
# bench/select_mlp.py search this space; the other parameters keep their defaults there.
SEARCH_SPACE = {
    "hidden": (("128-64-32", "256-128-64", "512-256-128"), None, False),
    "lr": ((3e-4, 1e-3, 3e-3), (3e-4, 3e-3), True),
    "weight_decay": ((1e-3, 1e-2, 1e-1), (1e-3, 0.3), True),
    "dropout": ((0.0, 0.2, 0.4), (0.0, 0.6), False),
    "label_smoothing": ((0.0, 0.05, 0.1), (0.0, 0.15), False),
    "class_weight_power": ((0.4, 0.7, 1.0), (0.4, 1.0), False),
    "input_noise": ((0.0, 0.2, 0.4), (0.0, 0.4), False),
    "batch_size": ((32, 64, 128), None, False),
}


def suggest(trial, grid=False):
    """GenreClassifier parameters of an Optuna trial drawn from SEARCH_SPACE (its grid values
    only with ``grid``); hidden widths "256-128" become (256, 128)."""
    settings = {}
    for name, (values, bounds, log) in SEARCH_SPACE.items():
        if bounds is None or grid:
            settings[name] = trial.suggest_categorical(name, list(values))
        else:
            settings[name] = trial.suggest_float(name, *bounds, log=log)
    return as_parameters(settings)


def as_parameters(settings):
    """Search values as GenreClassifier parameters (hidden widths "256-128" -> (256, 128))."""
    if "hidden" not in settings:
        return dict(settings)
    return {**settings, "hidden": tuple(int(width) for width in settings["hidden"].split("-"))}


class CheckpointError(Exception):
    """A file that is not a checkpoint written by GenreClassifier.save (train.py)."""


class TrainingError(Exception):
    """Training that cannot give a model, e.g. a loss that blew up."""


class SettingError(ValueError):
    """A parameter outside its range; ``name`` is the parameter, ``requirement`` what it needs."""

    def __init__(self, name, requirement):
        super().__init__(f"{name} {requirement}")
        self.name, self.requirement = name, requirement


class GenreMLP(nn.Module):
    """Linear layers with ReLU (and optional dropout) between them: inputs -> hidden... -> genres.

    Three hidden widths make the four-linear-layer network of the original project.
    """

    def __init__(self, n_features, n_classes, hidden=(128, 64, 32), dropout=0.0):
        super().__init__()
        widths = [n_features, *hidden]
        layers = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class NetworkStack(nn.Module):
    """GenreMLPs of one shape side by side: each layer is one batched matrix product over the
    networks, so training an ensemble costs little more per step than training one network.

    Inputs and outputs have a leading network dimension: (networks, songs, features).
    """

    def __init__(self, networks):
        super().__init__()
        layers = [[layer for layer in network.net if isinstance(layer, nn.Linear)]
                  for network in networks]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([member[depth].weight.detach().T for member in layers]))
            for depth in range(len(layers[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([member[depth].bias.detach() for member in layers])[:, None])
            for depth in range(len(layers[0])))
        self.dropout = next((layer.p for layer in networks[0].net
                             if isinstance(layer, nn.Dropout)), 0.0)

    def forward(self, x):
        last = len(self.weights) - 1
        for depth, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)
            if depth < last:
                x = torch.relu(x)
                if self.training and self.dropout:
                    # A uniform draw per unit: torch's own dropout draws Bernoulli variables on
                    # the CPU four times slower, a sixth of an ensemble's training step.
                    x = x * (torch.rand_like(x) >= self.dropout) / (1 - self.dropout)
        return x

    def state_dict_copy(self):
        return {name: value.detach().clone() for name, value in self.state_dict().items()}

    def copy_member(self, member, state):
        """Copy network ``member``'s current weights into ``state`` (a state_dict_copy)."""
        for name, value in self.state_dict().items():
            state[name][member] = value[member]

    def networks(self, model_args):
        """The stacked networks as separate GenreMLPs (CPU, eval mode)."""
        found = []
        for member in range(self.weights[0].shape[0]):
            network = GenreMLP(**model_args)
            layers = [layer for layer in network.net if isinstance(layer, nn.Linear)]
            with torch.no_grad():
                for layer, weight, bias in zip(layers, self.weights, self.biases, strict=True):
                    layer.weight.copy_(weight[member].T)
                    layer.bias.copy_(bias[member, 0])
            found.append(network.eval())
        return found


def weighted_losses(criterion, logits, labels, row_weights=None):
    """Per network, the mean of ``criterion`` (class-weighted, reduction none) over the rows,
    weighted by the rows' class weights, times ``row_weights`` (networks x rows; None: all 1). A
    network whose bootstrap resample holds none of the rows gets 0."""
    count, rows, classes = logits.shape
    losses = criterion(logits.reshape(-1, classes),
                       labels if count == 1 else labels.repeat(count)).view(count, rows)
    if row_weights is None:  # fewer operations in the step that training repeats most
        return losses.sum(dim=1) / criterion.weight[labels].sum()
    total_weight = (row_weights * criterion.weight[labels]).sum(dim=1)
    return (losses * row_weights).sum(dim=1) / total_weight.clamp(min=1e-12)


class GenreClassifier(ClassifierMixin, BaseEstimator):
    """Genre classifier: standardised inputs -> GenreMLP (or an ensemble) -> genre probabilities.

    Defaults: see ``PARAMETER_HELP`` and the README (how they were chosen).
    """

    def __init__(self, hidden=(256, 128, 64), dropout=0.36, epochs=500, batch_size=32,
                 lr=0.001, momentum=0.9, weight_decay=0.01, optimizer="adamw", patience=10,
                 class_weight_power=0.78, prior_correction="auto", input_noise=0.2,
                 input_transform="quantile", label_smoothing=0.05, stop_on="score", ensemble=5,
                 bootstrap=False, validation_fraction=0.15, seed=0, device="auto",
                 verbose=False):
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
        self.validation_fraction = validation_fraction
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
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise SettingError(name, "must be a whole number, at least 1")
        ranges = {"dropout": (0, 1, "[0, 1)"), "class_weight_power": (0, 1.0001, "[0, 1]"),
                  "prior_correction": (0, 1.0001, "[0, 1] or auto"),
                  "label_smoothing": (0, 1, "[0, 1)"),
                  "validation_fraction": (1e-9, 0.5, "(0, 0.5)")}
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
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise SettingError("device", "is not a torch device (cpu, cuda, cuda:1)") from None

    def fit(self, X, y, groups=None, eval_set=None, train_only=None):
        """Learn from features ``X`` (DataFrame or array; NaN for unknown values) and genres ``y``.

        Early stopping watches ``eval_set`` = (features, genres) when given; otherwise a
        ``validation_fraction`` of the rows is held out, whole artists when ``groups`` (one
        artist id per row) is given. Rows marked ``train_only`` (weaker labels: see
        songtable.clean) only train: never held out, not counted in the genre shares that the
        prior correction moves towards, and dropped when their artist is held out. Returns self.
        """
        self.check_params()
        device = self._device()
        features = validate_data(self, X, reset=True, ensure_all_finite="allow-nan",
                                 dtype=np.float32)
        self.classes_, labels = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("need songs of at least two genres to learn from")
        weak = (np.zeros(len(labels), dtype=bool) if train_only is None
                else np.asarray(train_only, dtype=bool))
        if eval_set is not None:
            val_features = validate_data(self, eval_set[0], reset=False,
                                         ensure_all_finite="allow-nan", dtype=np.float32)
            val_labels = self._genre_indices(eval_set[1])
        else:
            artists = np.arange(len(labels)) if groups is None else np.asarray(groups)
            held = np.zeros(len(labels), dtype=bool)
            held[~weak] = songtable.holdout_mask(labels[~weak], artists[~weak],
                                                 self.validation_fraction, self.seed)
            kept = ~held & ~(weak & np.isin(artists, artists[held]))
            val_features, val_labels = features[held], labels[held]
            features, labels, weak = features[kept], labels[kept], weak[kept]
        if len(val_labels) == 0:
            raise ValueError("no validation rows: early stopping needs them")
        self.missing_columns_ = np.flatnonzero(np.isnan(features).any(axis=0))
        self.quantiles_ = (fit_quantiles(features) if self.input_transform == "quantile"
                           else None)
        train_inputs = self._inputs(features)
        self.mean_, self.std_ = fit_standardisation(train_inputs)
        self.class_prior_ = class_shares(labels[~weak], len(self.classes_))
        train = (standardise(train_inputs, self.mean_, self.std_), torch.from_numpy(labels))
        val = (standardise(self._inputs(val_features), self.mean_, self.std_),
               torch.from_numpy(val_labels))
        started = time.perf_counter()
        stack, self.history_, best_epochs = self._fit_stack(*train, *val, device)
        self.networks_ = stack.networks(self._model_args())
        uncorrected = self._probabilities(val_features, share=0.0)
        scored = {share: self._val_scores(uncorrected, val_labels, share)
                  for share in self._correction_shares()}
        self.prior_correction_ = max(scored, key=lambda share: sum(scored[share]))
        val_accuracy, val_macro_f1 = scored[self.prior_correction_]
        self.metrics_ = {
            "best_epochs": best_epochs, "epochs_run": max(row["epoch"] for row in self.history_),
            "val_accuracy": val_accuracy,
            "val_macro_f1": val_macro_f1, "n_train": len(labels),
            "n_val": len(val_labels), "train_seconds": time.perf_counter() - started,
            "device": device}
        return self

    def predict_proba(self, X):
        """Genre probabilities (songs x classes_): the mean of the networks' softmax outputs,
        then corrected towards the train genre shares (see ``prior_correction``)."""
        check_is_fitted(self)
        return self._probabilities(validate_data(self, X, reset=False,
                                                 ensure_all_finite="allow-nan", dtype=np.float32))

    def predict(self, X):
        """The most probable genre of each song."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def _probabilities(self, features, share=None):
        """Probabilities, corrected by ``share`` of the class weighting (the fitted one when
        None)."""
        share = self.prior_correction_ if share is None else share
        inputs = standardise(self._inputs(features), self.mean_, self.std_)
        with torch.no_grad():
            probabilities = torch.stack([torch.softmax(network(inputs), dim=1)
                                         for network in self.networks_]).mean(dim=0)
        return correct_prior(probabilities, self.class_prior_,
                             share * self.class_weight_power).numpy()

    def save(self, path):
        """Write the self-contained checkpoint (module docstring) to ``path`` atomically."""
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        checkpoint = {
            "model": [network.state_dict() for network in self.networks_],
            "model_args": self._model_args(),
            "feature_names": None if names is None else [str(name) for name in names],
            "missing_columns": self.missing_columns_.tolist(), "quantiles": self.quantiles_,
            "mean": self.mean_, "std": self.std_, "classes": self.classes_.tolist(),
            "class_prior": self.class_prior_, "prior_correction": self.prior_correction_,
            "config": {**self.get_params(), "hidden": list(self.hidden)},
            "metrics": self.metrics_,
        }
        with atomic_output(path) as temporary:
            torch.save(checkpoint, temporary)

    @classmethod
    def load(cls, path):
        """The fitted classifier saved at ``path``; CheckpointError when it is not one."""
        checkpoint = read_checkpoint(path)
        config = {**checkpoint["config"], "hidden": tuple(checkpoint["config"]["hidden"])}
        classifier = cls(**config)
        if checkpoint["feature_names"] is not None:
            classifier.feature_names_in_ = np.array(checkpoint["feature_names"], dtype=object)
        classifier.n_features_in_ = checkpoint["model_args"]["n_features"] - len(
            checkpoint["missing_columns"])
        classifier.missing_columns_ = np.array(checkpoint["missing_columns"], dtype=np.int64)
        classifier.quantiles_ = checkpoint["quantiles"]
        classifier.mean_, classifier.std_ = checkpoint["mean"], checkpoint["std"]
        classifier.classes_ = np.array(checkpoint["classes"])
        classifier.class_prior_ = checkpoint["class_prior"]
        classifier.prior_correction_ = checkpoint["prior_correction"]
        classifier.metrics_ = checkpoint["metrics"]
        classifier.networks_ = []
        for state in checkpoint["model"]:
            network = GenreMLP(**checkpoint["model_args"])
            network.load_state_dict(state)
            classifier.networks_.append(network.eval())
        return classifier

    def _fit_stack(self, train_inputs, train_labels, val_inputs, val_labels, device):
        """The ensemble's networks trained side by side on standardised tensors; returns (the
        NetworkStack, each network at its own best epoch; history rows; best epochs).

        Mini-batches are slices of a shuffled copy of the in-memory tensors (no DataLoader: it
        costs more than a small network's step); every network sees the same batches, with its
        own initial weights (seed + its number), dropout and input noise, and with --bootstrap
        its own resample of the rows as weights. Each network stops on its own: when what
        stop_on watches (class-weighted validation loss, or validation accuracy + macro-F1 of
        the corrected predictions) has not improved for ``patience`` epochs.
        """
        count, n_rows, size = self.ensemble, len(train_labels), self.batch_size
        networks = []
        for member in range(count):
            torch.manual_seed(self.seed + member)
            networks.append(GenreMLP(**self._model_args()))
        stack = NetworkStack(networks).to(device)
        torch.manual_seed(self.seed)
        shuffle = torch.Generator(device=device).manual_seed(self.seed)
        train_inputs, train_labels = train_inputs.to(device), train_labels.to(device)
        val_inputs, val_labels = val_inputs.to(device), val_labels.to(device)
        row_weights = None
        if self.bootstrap:
            row_weights = torch.stack([torch.from_numpy(np.bincount(
                np.random.default_rng(self.seed + member).integers(0, n_rows, n_rows),
                minlength=n_rows)).float() for member in range(count)]).to(device)
        criterion = nn.CrossEntropyLoss(weight=class_weights(
            self.class_prior_, self.class_weight_power).to(device), reduction="none",
            label_smoothing=self.label_smoothing)
        optimizer = self._optimizer(stack.parameters())
        # With an auto prior correction, epochs are compared at the middle share.
        watched_share = 0.5 if self.prior_correction == "auto" else self.prior_correction
        val_genres = val_labels.cpu().numpy()
        history, best = [], [-math.inf] * count
        best_epochs, best_state = [0] * count, stack.state_dict_copy()
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            stack.train()
            order = torch.randperm(n_rows, generator=shuffle, device=device)
            inputs, labels = train_inputs[order], train_labels[order]
            weights = None if row_weights is None else row_weights[:, order]
            total = torch.zeros(count, device=device)
            for start in range(0, n_rows, size):
                interrupts.check()
                batch = inputs[start:start + size].expand(count, -1, -1)
                if self.input_noise:
                    batch = batch + self.input_noise * torch.randn_like(batch)
                losses = weighted_losses(criterion, stack(batch), labels[start:start + size],
                                         None if weights is None
                                         else weights[:, start:start + size])
                optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                optimizer.step()
                total += losses.detach()
            stack.eval()
            with torch.no_grad():
                logits = stack(val_inputs.expand(count, -1, -1))
                val_losses = weighted_losses(criterion, logits, val_labels)
            if not torch.isfinite(val_losses).all():
                raise TrainingError(f"validation loss is {val_losses.max().item()} at epoch "
                                    f"{epoch}: lower --lr")
            probabilities = torch.softmax(logits, dim=2).cpu()
            seconds = time.perf_counter() - started
            for member in range(count):
                accuracy, macro_f1 = self._val_scores(probabilities[member], val_genres,
                                                      watched_share)
                row = {"member": member, "epoch": epoch,
                       "train_loss": total[member].item() / math.ceil(n_rows / size),
                       "val_loss": val_losses[member].item(), "val_accuracy": accuracy,
                       "val_macro_f1": macro_f1, "seconds": seconds}
                history.append(row)
                watched = (-row["val_loss"] if self.stop_on == "loss"
                           else row["val_accuracy"] + row["val_macro_f1"])
                if watched > best[member]:
                    best[member], best_epochs[member] = watched, epoch
                    stack.copy_member(member, best_state)
            if self.verbose:
                print(format_epoch(history[-count:], epoch in best_epochs))
            if all(epoch - best_epoch >= self.patience for best_epoch in best_epochs):
                break
        stack.load_state_dict(best_state)
        return stack, history, best_epochs

    def _optimizer(self, parameters):
        if self.optimizer in ("adam", "adamw"):
            adam = torch.optim.Adam if self.optimizer == "adam" else torch.optim.AdamW
            return adam(parameters, lr=self.lr, weight_decay=self.weight_decay, fused=True)
        return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, fused=True)

    def _device(self):
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if str(self.device).startswith("cuda") and not torch.cuda.is_available():
            raise SettingError("device", "is cuda but no CUDA device is available")
        return self.device

    def _model_args(self):
        return {"n_features": self.n_features_in_ + len(self.missing_columns_),
                "n_classes": len(self.classes_), "hidden": list(self.hidden),
                "dropout": self.dropout}

    def _inputs(self, features):
        """Features (through the quantile map, if any) with a 0/1 missing-value flag appended for
        each column in missing_columns_."""
        mapped = features if self.quantiles_ is None else gaussianise(features, self.quantiles_)
        return np.hstack([mapped, np.isnan(features[:, self.missing_columns_])],
                         dtype=np.float32)

    def _correction_shares(self):
        """The prior corrections fit chooses from: the one given, or AUTO_CORRECTIONS."""
        return AUTO_CORRECTIONS if self.prior_correction == "auto" else (self.prior_correction,)

    def _val_scores(self, probabilities, labels, share):
        """(accuracy, macro-F1) of genre indices from uncorrected probabilities after ``share``."""
        corrected = correct_prior(torch.as_tensor(probabilities), self.class_prior_,
                                  share * self.class_weight_power)
        found = scoring.scores(labels, corrected.argmax(dim=-1).numpy())
        return found["accuracy"], found["macro_f1"]

    def _genre_indices(self, genres):
        index = {genre: i for i, genre in enumerate(self.classes_)}
        unknown = sorted({str(genre) for genre in genres if genre not in index})
        if unknown:
            raise ValueError("genres the model was not trained on: "
                             + songtable.summarise(unknown))
        return np.array([index[genre] for genre in genres], dtype=np.int64)


def parameter_defaults():
    """{parameter: default} of GenreClassifier's constructor, in its order: the one declaration
    of the training configuration that train.py's options and JSON configs follow."""
    return {name: parameter.default
            for name, parameter in inspect.signature(GenreClassifier).parameters.items()}


def read_parameters(path):
    """The GenreClassifier parameters in the JSON object at ``path`` (train.py's --config, tune.py's
    best.json), each as the type of its default; ValueError naming what is wrong."""
    try:
        settings = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: not a JSON object of train.py options")
    defaults = parameter_defaults()
    parameters = {}
    for key, value in settings.items():
        name = key.replace("-", "_")
        if name not in defaults:
            raise ValueError(f"{path}: {key!r} is not a train.py option")
        try:
            parameters[name] = _like(defaults[name], value)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {key!r} should be like {defaults[name]!r}, "
                             f"not {value!r}") from None
    return parameters


def _like(default, value):
    """``value`` as the type of ``default``; TypeError or ValueError when it cannot be."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(value)
        return value
    if isinstance(default, tuple):
        return tuple(int(width) for width in value)
    if isinstance(default, str) and isinstance(value, (str, int, float)):
        return value  # a word or, for prior_correction, a number
    return type(default)(value)


def read_checkpoint(path):
    """The checkpoint dict at ``path`` (on the CPU); CheckpointError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a foreign file
        raise CheckpointError(f"{path}: not a checkpoint ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or "model_args" not in checkpoint:
        raise CheckpointError(f"{path}: not a checkpoint written by train.py")
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: written by an older train.py (no {', '.join(missing)}): "
                              "train it again")
    return checkpoint


def fit_standardisation(inputs):
    """Per-column mean and std of ``inputs`` (NaN ignored) as float32 tensors.

    A column without spread, or without any value, gets std 1 so it scales to 0, not NaN.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    present = ~np.isnan(inputs)
    counts = np.maximum(present.sum(axis=0), 1)
    mean = np.where(present, inputs, 0.0).sum(axis=0) / counts
    std = np.sqrt((np.where(present, inputs - mean, 0.0) ** 2).sum(axis=0) / counts)
    std[~(std > 0)] = 1.0
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


QUANTILES = 101
AUTO_CORRECTIONS = tuple(np.round(np.linspace(0, 1, 11), 2).tolist())


def fit_quantiles(features):
    """Each column's percentiles 0, 1, ..., 100 over the rows (NaN ignored): a float64 tensor."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN quantiles
        found = np.nanquantile(np.asarray(features, dtype=np.float64),
                               np.linspace(0, 1, QUANTILES), axis=0)
    return torch.from_numpy(np.nan_to_num(found))


def gaussianise(features, quantiles):
    """Each column through its training quantiles to a standard normal (NaN stays NaN).

    Tied quantiles (a feature with few distinct values) map to the middle of their range, as
    scikit-learn's QuantileTransformer does, by averaging the interpolation both ways.
    """
    features = np.asarray(features, dtype=np.float64)
    quantiles = quantiles.numpy()
    levels = np.linspace(0, 1, len(quantiles))
    mapped = np.empty_like(features)
    for column in range(features.shape[1]):
        points = quantiles[:, column]
        mapped[:, column] = 0.5 * (np.interp(features[:, column], points, levels)
                                   - np.interp(-features[:, column], -points[::-1],
                                               -levels[::-1]))
    mapped[np.isnan(features)] = np.nan
    return special.ndtri(np.clip(mapped, 1e-4, 1 - 1e-4))


def standardise(inputs, mean, std):
    """(inputs - mean) / std as a float32 tensor; missing values become 0, the train mean."""
    scaled = (torch.from_numpy(np.asarray(inputs, dtype=np.float32)) - mean) / std
    return torch.nan_to_num(scaled, nan=0.0)


def class_shares(labels, n_classes):
    """Each genre's share of ``labels`` (genre indices), a float32 tensor summing to 1."""
    counts = np.bincount(labels, minlength=n_classes)
    return torch.tensor(counts / max(len(labels), 1), dtype=torch.float32)


def class_weights(shares, power=1.0):
    """Per-genre loss weights (1 / (classes * share)) ** power, averaging 1 per training song.

    Power 1 is fully balanced (each genre weighs the same in the loss), 0 is unweighted. The
    scaling keeps the loss, and so the effective learning rate, independent of the power.
    """
    shares = shares.double()
    weights = (1 / (len(shares) * shares.clamp(min=1e-12))) ** power
    return (weights / (weights * shares).sum()).float()


def correct_prior(probabilities, class_prior, exponent):
    """Probabilities (songs x genres tensor) times class_prior ** exponent, renormalised.

    A network trained with class weights (1 / share) ** power overrates rare genres by that
    factor; exponent ``power`` takes it all back (an unweighted fit's probabilities), 0 none.
    """
    corrected = probabilities * class_prior.to(probabilities.device) ** exponent
    return corrected / corrected.sum(dim=-1, keepdim=True)


def format_epoch(rows, improved):
    """One line per epoch: the mean over the ensemble's networks, * when one of them improved."""
    mean = {key: np.mean([row[key] for row in rows]) for key in rows[0]}
    return (f"epoch {rows[0]['epoch']:4d}  train loss {mean['train_loss']:.4f}  "
            f"val loss {mean['val_loss']:.4f}  val acc {mean['val_accuracy']:.3f}  "
            f"val macro-F1 {mean['val_macro_f1']:.3f}  {rows[0]['seconds'] * 1000:6.1f} ms"
            + ("  *" if improved else ""))
