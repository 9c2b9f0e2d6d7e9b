"""The genre classifier (an MLP), its input scaling and its self-contained checkpoint.

Usage:
    from model import GenreMLP, load_checkpoint, predict_proba
    checkpoint = load_checkpoint("runs/NAME/model.pt")
    probabilities = predict_proba(checkpoint, features)   # (songs, genres), raw feature values

A checkpoint is a plain dict of tensors and Python values (loads with weights_only=True):
``model`` (a state dict, or for an ensemble a list of them, one per member), ``model_args``
(GenreMLP's keyword arguments), ``feature_names`` (input column order), ``mean`` and ``std``
(train-split statistics), ``classes`` (genre names in output order), ``class_prior`` (each
genre's share of the train split), ``prior_correction`` (see ``correct_prior``), ``config``
(training settings) and ``metrics``. Whoever loads it rebuilds the model from ``model_args``; an
ensemble's prediction is the mean of its members' probabilities, so readers need no special case.
"""
import itertools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from preprocess import atomic_output

CHECKPOINT_KEYS = ("model", "model_args", "feature_names", "mean", "std", "classes",
                   "class_prior", "prior_correction", "config", "metrics")


class CheckpointError(Exception):
    """A file that is not a checkpoint written by train.py."""


class GenreMLP(nn.Module):
    """Linear layers with ReLU (and optional dropout) between them: inputs -> hidden... -> genres.

    The default three hidden widths make the four-layer network of the original project.
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


def fit_standardisation(features):
    """Per-column mean and std of ``features`` (NaN ignored) as float32 tensors.

    A column without spread, or without any value, gets std 1 so it scales to 0, not NaN.
    """
    features = np.asarray(features, dtype=np.float64)
    present = ~np.isnan(features)
    counts = present.sum(axis=0)
    filled = np.where(present, features, 0.0)
    mean = filled.sum(axis=0) / np.maximum(counts, 1)
    variance = (np.where(present, features - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts, 1)
    std = np.sqrt(variance)
    std[~(std > 0)] = 1.0
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def standardise(features, mean, std):
    """(features - mean) / std as a float32 tensor; missing values become 0, the train mean."""
    scaled = (torch.tensor(np.asarray(features, dtype=np.float32)) - mean) / std
    return torch.nan_to_num(scaled, nan=0.0)


def save_checkpoint(path, checkpoint):
    """Write ``checkpoint`` to ``path`` atomically (never a half-written file)."""
    with atomic_output(path) as temporary:
        torch.save(checkpoint, temporary)


def load_checkpoint(path):
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


def member_states(checkpoint):
    """The state dicts of the checkpoint's networks: one, or one per ensemble member."""
    states = checkpoint["model"]
    return list(states) if isinstance(states, (list, tuple)) else [states]


def build_models(checkpoint, device="cpu"):
    """The checkpoint's networks with their weights, in eval mode (several for an ensemble)."""
    models = []
    for state in member_states(checkpoint):
        model = GenreMLP(**checkpoint["model_args"])
        model.load_state_dict(state)
        models.append(model.to(device).eval())
    return models


def correct_prior(probabilities, class_prior, prior_correction):
    """Probabilities (songs x genres tensor) times class_prior ** prior_correction, renormalised.

    A network trained with class weights (1 / genre share) ** power overrates rare genres by
    that factor; correction ``power`` takes the whole factor back (the probabilities of an
    unweighted fit, best for accuracy), 0 keeps it (best for rare genres' recall). In between
    trades one for the other after training, without training again.
    """
    corrected = probabilities * class_prior.to(probabilities.device) ** prior_correction
    return corrected / corrected.sum(dim=1, keepdim=True)


def predict_proba(checkpoint, features, device="cpu"):
    """Genre probabilities (songs x classes, numpy) of raw feature rows in feature_names order.

    For an ensemble, the mean of its members' probabilities (soft voting); then corrected
    towards the train split's genre shares by the checkpoint's ``prior_correction``.
    """
    inputs = standardise(features, checkpoint["mean"], checkpoint["std"]).to(device)
    with torch.no_grad():
        probabilities = [torch.softmax(model(inputs), dim=1)
                         for model in build_models(checkpoint, device)]
    mean = torch.stack(probabilities).mean(dim=0)
    return correct_prior(mean, checkpoint["class_prior"],
                         checkpoint["prior_correction"]).cpu().numpy()
