"""What stands between a table's numbers and the network: input transforms and genre weighting.

Usage:
    from genrelearn.transforms import InputTransform, class_weights, correct_prior
    transform, train_inputs = InputTransform("quantile").fit_transform(train_features)
    inputs = transform(features)             # float32 tensor: mapped, flagged, standardised
    weights = class_weights(class_shares(labels, n_genres), power=0.78)
    probabilities = correct_prior(probabilities, class_prior, exponent)

InputTransform maps each feature through its training quantiles to a normal distribution (or
leaves it as it is: "standard"), appends a 0/1 missing-value flag for each column that had gaps
in training, and standardises with the training rows' mean and std; missing values become 0,
the training mean. Its ``state()`` is a dict of tensors and lists for the checkpoint. Rows are
mapped CHUNK_ROWS at a time into one float32 tensor, so transforming a table needs the table
and its inputs, nothing more; the quantiles come from at most QUANTILE_ROWS rows.
"""
import warnings

import numpy as np
import torch
from scipy import special

QUANTILES = 101
CHUNK_ROWS = 65_536
# Percentiles of 100,000 rows are within a few hundredths of a percentile of the whole table's.
QUANTILE_ROWS = 100_000


class InputTransform:
    """Features (rows x columns, NaN for unknown values) -> network inputs (see module doc)."""

    def __init__(self, kind="quantile"):
        self.kind = kind

    def fit_transform(self, features, overwrite=False):
        """Fit on ``features`` (the training rows); (self, their inputs as TrainingInputs).
        With ``overwrite``, the inputs' values take the place of the features in their own
        memory (a float32 array, C order), so a large table is held once, not twice."""
        features = np.asarray(features, dtype=np.float32)
        self.missing_columns = np.flatnonzero(np.logical_or.reduce(
            [np.isnan(chunk).any(axis=0) for chunk in _chunks(features)]
            or [np.zeros(features.shape[1], dtype=bool)]))
        self.quantiles = (fit_quantiles(_sample_rows(features, QUANTILE_ROWS))
                          if self.kind == "quantile" else None)
        values = (torch.from_numpy(features) if overwrite and _writable(features)
                  else torch.empty(features.shape))
        flags = torch.empty((len(features), len(self.missing_columns)), dtype=torch.bool)
        # Written through numpy views of the tensors: a chunk may be a read-only view of the
        # caller's table, which torch.from_numpy warns about even to read it.
        value_rows, flag_rows = values.numpy(), flags.numpy()
        for start, chunk in zip(range(0, len(features), CHUNK_ROWS), _chunks(features)):
            rows = slice(start, start + len(chunk))
            value_rows[rows] = self._values(chunk)
            flag_rows[rows] = np.isnan(chunk[:, self.missing_columns])
        (value_mean, value_std), (flag_mean, flag_std) = map(fit_standardisation,
                                                             (values, flags))
        self.mean, self.std = torch.cat([value_mean, flag_mean]), torch.cat([value_std, flag_std])
        values.sub_(value_mean).div_(value_std)
        return self, TrainingInputs(torch.nan_to_num_(values, nan=0.0), flags,
                                    (0 - flag_mean) / flag_std, (1 - flag_mean) / flag_std)

    def __call__(self, features):
        features = np.asarray(features, dtype=np.float32)
        inputs = torch.empty((len(features), self.n_inputs))
        for start, chunk in zip(range(0, len(features), CHUNK_ROWS), _chunks(features)):
            inputs[start:start + len(chunk)] = standardise(self._mapped(chunk), self.mean,
                                                           self.std)
        return inputs

    @property
    def n_inputs(self):
        return len(self.mean)

    def _values(self, features):
        """Features through the quantile map (if any), as float32."""
        mapped = features if self.quantiles is None else gaussianise(features, self.quantiles)
        return np.asarray(mapped, dtype=np.float32)

    def _mapped(self, features):
        """Features through the quantile map (if any), missing-value flags appended."""
        return np.hstack([self._values(features), np.isnan(features[:, self.missing_columns])],
                         dtype=np.float32)

    def state(self):
        return {"missing_columns": self.missing_columns.tolist(), "quantiles": self.quantiles,
                "mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state):
        transform = cls("standard" if state["quantiles"] is None else "quantile")
        transform.missing_columns = np.array(state["missing_columns"], dtype=np.int64)
        transform.quantiles, transform.mean, transform.std = (state["quantiles"], state["mean"],
                                                              state["std"])
        return transform


class TrainingInputs:
    """The training rows' network inputs, held compactly: the standardised values (float32)
    and the missing-value flags as booleans (a million rows with gaps in 180 columns: 0.7 GB,
    not 2.7). ``inputs[rows]`` gives those rows' inputs as one float32 tensor, each flag its
    standardised value ``off`` or ``on``, exactly as InputTransform gives them."""

    def __init__(self, values, flags, off, on):
        self.values, self.flags, self.off, self.on = values, flags, off, on

    def __len__(self):
        return len(self.values)

    def __getitem__(self, rows):
        return torch.cat([self.values[rows], torch.where(self.flags[rows], self.on, self.off)],
                         dim=1)

    def to(self, device):
        return TrainingInputs(*(part.to(device)
                                for part in (self.values, self.flags, self.off, self.on)))


def _writable(array):
    """Whether ``array`` (C order) can be written, made so where it may be: pandas hands out
    read-only views of a table's values, whose owner, the table's block, may be written."""
    if not array.flags.c_contiguous:
        return False
    try:
        array.flags.writeable = True
    except ValueError:  # its owner is read-only: a memory map, an Arrow buffer
        return False
    return True


def _chunks(rows):
    return [rows[start:start + CHUNK_ROWS] for start in range(0, len(rows), CHUNK_ROWS)]


def _sample_rows(rows, count, seed=0):
    """``count`` of ``rows`` drawn without replacement (in their order), or all of them."""
    if len(rows) <= count:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), count, replace=False))]


def fit_standardisation(inputs):
    """Per-column mean and std of ``inputs`` (a tensor or array; NaN ignored) as float32
    tensors, in float64 over CHUNK_ROWS rows at a time.

    A column without spread, or without any value, gets std 1 so it scales to 0, not NaN.
    """
    counts, sums = 0, 0.0
    for chunk in _chunks(inputs):
        chunk = np.asarray(chunk, dtype=np.float64)
        present = ~np.isnan(chunk)
        counts = counts + present.sum(axis=0)
        sums = sums + np.where(present, chunk, 0.0).sum(axis=0)
    counts = np.maximum(counts, 1)
    mean, squares = sums / counts, 0.0
    for chunk in _chunks(inputs):
        chunk = np.asarray(chunk, dtype=np.float64)
        squares = squares + (np.where(np.isnan(chunk), 0.0, chunk - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / counts)
    std[~(std > 0)] = 1.0
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def standardise(inputs, mean, std):
    """(inputs - mean) / std as a float32 tensor; missing values become 0, the train mean."""
    scaled = (torch.from_numpy(np.asarray(inputs, dtype=np.float32)) - mean) / std
    return torch.nan_to_num(scaled, nan=0.0)


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
    # Column by column, so each column is read and written in one contiguous run.
    features = np.asfortranarray(features, dtype=np.float64)
    quantiles = quantiles.numpy()
    levels = np.linspace(0, 1, len(quantiles))
    mapped = np.empty_like(features, order="F")
    for column in range(features.shape[1]):
        points, values = quantiles[:, column], features[:, column]
        mapped[:, column] = 0.5 * (np.interp(values, points, levels)
                                   - np.interp(-values, -points[::-1], -levels[::-1]))
    mapped[np.isnan(features)] = np.nan
    return special.ndtri(np.clip(mapped, 1e-4, 1 - 1e-4, out=mapped), out=mapped)


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
