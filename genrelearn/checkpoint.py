"""The checkpoint file: a plain dict written atomically, read back with one-line errors.

Usage:
    from genrelearn.checkpoint import read_checkpoint, write_checkpoint
    write_checkpoint("runs/NAME/model.pt", checkpoint)
    checkpoint = read_checkpoint("runs/NAME/model.pt")       # CheckpointError if it is not one

A checkpoint (written by GenreClassifier.save) holds tensors and Python values only, so it loads
with ``torch.load(weights_only=True)``: ``model`` (the GenreMLP state dict, every member),
``model_args`` (GenreMLP's arguments), ``feature_names``, ``missing_columns`` (features with a
missing-value flag input), ``quantiles`` (each feature's training quantiles, or None), ``mean``
and ``std`` (of the inputs on the train rows), ``classes``, ``class_prior`` (each genre's share
of the train rows), ``prior_correction`` (the share used at prediction), ``config``
(``get_params()``), ``metrics`` and ``provenance`` (what it learned from: ``songs``, the keys of
the songs it trained and validated on, as provenance.SongSet's signed keys; ``table`` and
``code`` as provenance.table_record and code_record describe them; absent from checkpoints
written before it was recorded). Checkpoints written before the members were one batched
network (``model`` a list of one state dict per network) are converted as they are read.
"""
import io
from pathlib import Path

import torch

from dataset.outputs import atomic_output

CHECKPOINT_KEYS = ("model", "model_args", "feature_names", "missing_columns", "quantiles", "mean",
                   "std", "classes", "class_prior", "prior_correction", "config", "metrics")
# Parameters renamed since a checkpoint or a JSON config may have been written: old -> new.
RENAMED_PARAMETERS = {"validation_fraction": "holdout_fraction",
                      "val_fraction": "holdout_fraction"}


class CheckpointError(Exception):
    """A file that is not a checkpoint written by GenreClassifier.save (train.py)."""


def write_checkpoint(path, checkpoint):
    """Write ``checkpoint`` to ``path`` atomically: a reader never sees half a file. Raises
    OutputError naming ``path`` when it cannot be written (a full disk, a read-only folder)."""
    # Serialised in memory, then written as bytes: torch.save reports a failed write (a full
    # disk) as a RuntimeError, a plain write as the OSError that atomic_output says in one line.
    serialised = io.BytesIO()
    torch.save(checkpoint, serialised)
    with atomic_output(path) as temporary:
        temporary.write_bytes(serialised.getbuffer())


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
    if isinstance(checkpoint["model"], list):
        checkpoint = _members_batched(checkpoint)
    checkpoint["config"] = {RENAMED_PARAMETERS.get(name, name): value
                            for name, value in checkpoint["config"].items()}
    return checkpoint


def _members_batched(checkpoint):
    """A checkpoint of separate networks (one state dict of net.K.weight/bias each) with the
    members stacked as GenreMLP keeps them: weights.D (members, in, out), biases.D."""
    layers = sorted({int(name.split(".")[1]) for name in checkpoint["model"][0]})
    state = {}
    for depth, layer in enumerate(layers):
        state[f"weights.{depth}"] = torch.stack(
            [network[f"net.{layer}.weight"].T for network in checkpoint["model"]])
        state[f"biases.{depth}"] = torch.stack(
            [network[f"net.{layer}.bias"] for network in checkpoint["model"]])[:, None]
    return {**checkpoint, "model": state,
            "model_args": {**checkpoint["model_args"], "members": len(checkpoint["model"])}}
