"""Train the genre MLP on a preprocessed table; keep the best checkpoint, its history and curve.

Usage:
    python train.py --data data/preprocessed_data.csv --out runs/NAME
    python train.py --config runs/tune-NAME/best.json --ensemble 5 [--bootstrap]

Writes runs/NAME/model.pt (self-contained: see model.py), history.csv (one row per epoch with
its wall-clock seconds) and learning_curve.png. Features are standardised with train-split
statistics only; the loss is class-weighted cross-entropy (genres are imbalanced); training stops
when the validation loss has not improved for --patience epochs and keeps the best epoch.

--ensemble K trains K networks with seeds --seed, --seed+1, ... (with --bootstrap, each on its
own resample of the train rows) into one checkpoint that predicts their mean probability.
--config reads a JSON object whose keys are this script's option names (e.g. the best.json of
tune.py); options given on the command line override it.
"""
import argparse
import csv
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from evaluate import pyplot, scores
from model import (GenreMLP, correct_prior, fit_standardisation, predict_proba, save_checkpoint,
                   standardise)
from preprocess import (OutputError, PreprocessError, atomic_output, feature_names_of,
                        read_table, split_arrays, train_genres)


class TrainingError(Exception):
    """Training that cannot give a model, e.g. a loss that blew up."""


class ConfigError(Exception):
    """A --config file that is not a JSON object of train.py options."""


HISTORY_COLUMNS = ("member", "epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1",
                   "seconds")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings.

    The defaults were chosen on the real benchmark (bench/real_benchmark.py) by scores on the
    train and val rows of its seed-0 split: optimiser settings and class-weight power by
    tune.py's search, then widths, dropout, input noise and prior correction by artist-grouped
    5-fold cross-validation over those rows (three fold seeds; the prior correction maximises
    accuracy + macro-F1 there). Cross-validation over all rows was also seen while comparing, so
    the test figures are not quite blind (README: Results on real data). The widths keep a whole
    run on that benchmark near one second on one CPU core; an ensemble of wider networks does
    better.
    """
    epochs: int = 500
    batch_size: int = 32
    lr: float = 0.0188
    momentum: float = 0.65
    weight_decay: float = 0.017
    optimizer: str = "sgd"
    hidden: tuple = (256, 128, 64)
    dropout: float = 0.36
    patience: int = 20
    class_weight_power: float = 0.78
    input_noise: float = 0.2
    prior_correction: float = 0.4
    seed: int = 0
    ensemble: int = 1
    bootstrap: bool = False


def default_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def class_weights(labels, n_classes, power=1.0):
    """Per-genre loss weights (n / (classes * count)) ** power, scaled to average 1 per song.

    Power 1 is fully balanced (each genre weighs the same in the loss), 0 is unweighted; in
    between trades accuracy on the common genres for recall on the rare ones. The scaling keeps
    the loss, and so the effective learning rate, independent of the power.
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = (len(labels) / (n_classes * np.maximum(counts, 1))) ** power
    weights *= len(labels) / (weights * counts).sum()
    return torch.tensor(weights, dtype=torch.float32)


def class_shares(labels, n_classes):
    """Each genre's share of ``labels`` (a float32 tensor summing to 1)."""
    counts = np.bincount(labels, minlength=n_classes)
    return torch.tensor(counts / max(len(labels), 1), dtype=torch.float32)


def make_optimizer(parameters, config):
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay,
                                fused=True)
    return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, fused=True)


def fit(train_inputs, train_labels, val_inputs, val_labels, n_classes, config, device="cpu",
        log=None, class_prior=None):
    """Train one MLP on standardised tensors; returns (model at its best epoch, history rows).

    Mini-batches are slices of a shuffled copy of the in-memory tensors, with Gaussian noise
    of std ``config.input_noise`` (in units of each feature's std) added to their inputs. The
    validation loss, which early stopping watches, is the same class-weighted loss; validation
    accuracy and macro-F1 are those of the predictions after ``config.prior_correction``
    towards ``class_prior`` (default: the genre shares of ``train_labels``). ``log`` (e.g.
    print) gets one line per epoch.
    """
    torch.manual_seed(config.seed)
    shuffle = torch.Generator(device=device).manual_seed(config.seed)
    train_inputs, train_labels = train_inputs.to(device), train_labels.to(device)
    val_inputs, val_labels = val_inputs.to(device), val_labels.to(device)
    model = GenreMLP(train_inputs.shape[1], n_classes, config.hidden, config.dropout).to(device)
    weights = class_weights(train_labels.cpu().numpy(), n_classes, config.class_weight_power)
    if class_prior is None:
        class_prior = class_shares(train_labels.cpu().numpy(), n_classes)
    class_prior = class_prior.to(device)
    criterion = nn.CrossEntropyLoss(weight=weights.to(device))
    optimizer = make_optimizer(model.parameters(), config)
    n_rows, size = len(train_labels), config.batch_size
    history, best_loss, best_epoch, best_state = [], math.inf, 0, None
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n_rows, generator=shuffle, device=device)
        inputs, labels = train_inputs[order], train_labels[order]
        total = torch.zeros((), device=device)
        for start in range(0, n_rows, size):
            batch = inputs[start:start + size]
            if config.input_noise:
                batch = batch + config.input_noise * torch.randn_like(batch)
            loss = criterion(model(batch), labels[start:start + size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        model.eval()
        with torch.no_grad():
            logits = model(val_inputs)
            val_loss = criterion(logits, val_labels).item()
        if not math.isfinite(val_loss):
            raise TrainingError(f"validation loss is {val_loss} at epoch {epoch}: "
                                "lower --lr")
        predicted = correct_prior(torch.softmax(logits, dim=1), class_prior,
                                  config.prior_correction)
        val_scores = scores(val_labels.cpu().numpy(), predicted.argmax(dim=1).cpu().numpy())
        row = {"epoch": epoch, "train_loss": total.item() / math.ceil(n_rows / size),
               "val_loss": val_loss, "val_accuracy": val_scores["accuracy"],
               "val_macro_f1": val_scores["macro_f1"], "seconds": time.perf_counter() - started}
        history.append(row)
        improved = val_loss < best_loss
        if improved:
            best_loss, best_epoch = val_loss, epoch
            best_state = {name: value.clone() for name, value in model.state_dict().items()}
        if log:
            log(format_epoch(row) + ("  *" if improved else ""))
        if epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    return model.eval(), history


def format_epoch(row):
    return (f"epoch {row['epoch']:4d}  train loss {row['train_loss']:.4f}  "
            f"val loss {row['val_loss']:.4f}  val acc {row['val_accuracy']:.3f}  "
            f"val macro-F1 {row['val_macro_f1']:.3f}  {row['seconds'] * 1000:6.1f} ms")


def bootstrap_rows(n_rows, seed):
    """Indices of a resample with replacement of ``n_rows`` rows (an ensemble member's data)."""
    return np.random.default_rng(seed).integers(0, n_rows, n_rows)


def train_checkpoint(table, config, device="cpu", log=None):
    """Fit on the train split of a preprocessed table, stop on its val split.

    With ``config.ensemble`` > 1, fits that many members (seeds config.seed + member), each
    stopped on the val split, on bootstrap resamples of the train rows when
    ``config.bootstrap``. Returns (checkpoint dict, history rows with their member number);
    the checkpoint is what model.py loads.
    """
    feature_names = feature_names_of(table)
    classes = train_genres(table)
    train_x, train_y = split_arrays(table, "train", feature_names, classes)
    val_x, val_y = split_arrays(table, "val", feature_names, classes)
    if len(val_y) == 0:
        raise PreprocessError("no validation rows (split == 'val'): early stopping needs them")
    mean, std = fit_standardisation(train_x)
    class_prior = class_shares(train_y, len(classes))
    train_inputs, train_labels = standardise(train_x, mean, std), torch.from_numpy(train_y)
    val_inputs = standardise(val_x, mean, std)
    started = time.perf_counter()
    states, history, best_epochs = [], [], []
    for member in range(config.ensemble):
        member_config = dataclasses.replace(config, seed=config.seed + member)
        rows = (bootstrap_rows(len(train_y), member_config.seed) if config.bootstrap
                else slice(None))
        if log and config.ensemble > 1:
            log(f"member {member + 1} of {config.ensemble} (seed {member_config.seed})")
        model, member_history = fit(train_inputs[rows], train_labels[rows], val_inputs,
                                    torch.from_numpy(val_y), len(classes), member_config,
                                    device, log, class_prior)
        states.append({name: value.cpu() for name, value in model.state_dict().items()})
        history += [{"member": member, **row} for row in member_history]
        best_epochs.append(min(member_history, key=lambda row: row["val_loss"])["epoch"])
    checkpoint = {
        "model": states[0] if config.ensemble == 1 else states,
        "model_args": {"n_features": len(feature_names), "n_classes": len(classes),
                       "hidden": list(config.hidden), "dropout": config.dropout},
        "feature_names": feature_names, "mean": mean, "std": std, "classes": classes,
        "class_prior": class_prior,
        "prior_correction": config.prior_correction,
        "config": {**dataclasses.asdict(config), "hidden": list(config.hidden), "device": device},
    }
    val_scores = scores(val_y, predict_proba(checkpoint, val_x).argmax(axis=1))
    checkpoint["metrics"] = {
        "best_epochs": best_epochs, "epochs_run": len(history),
        "val_accuracy": val_scores["accuracy"], "val_macro_f1": val_scores["macro_f1"],
        "n_train": len(train_y), "n_val": len(val_y),
        "train_seconds": time.perf_counter() - started}
    return checkpoint, history


def write_history(path, history):
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def plot_learning_curve(path, history):
    plt = pyplot()
    figure, (losses, f1) = plt.subplots(1, 2, figsize=(10, 4))
    # An ensemble's members share the axes, each in fainter lines after the first.
    for member in sorted({row["member"] for row in history}):
        rows = [row for row in history if row["member"] == member]
        epochs = [row["epoch"] for row in rows]
        style = {"alpha": 1.0 if member == 0 else 0.3}
        first = member == 0
        losses.plot(epochs, [row["train_loss"] for row in rows], color="C0",
                    label="train" if first else None, **style)
        losses.plot(epochs, [row["val_loss"] for row in rows], color="C1",
                    label="validation" if first else None, **style)
        best = min(rows, key=lambda row: row["val_loss"])["epoch"]
        losses.axvline(best, color="grey", linestyle=":",
                       label=f"best epoch ({best})" if first else None, **style)
        f1.plot(epochs, [row["val_macro_f1"] for row in rows], color="C2",
                label="macro-F1" if first else None, **style)
        f1.plot(epochs, [row["val_accuracy"] for row in rows], color="C3",
                label="accuracy" if first else None, **style)
    losses.set(xlabel="epoch", ylabel="class-weighted cross-entropy", title="loss")
    losses.legend()
    f1.set(xlabel="epoch", title="validation scores", ylim=(0, 1))
    f1.legend()
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def config_arguments(path, known):
    """The JSON object at ``path`` as command-line tokens; ConfigError for an unknown option.

    Tokens go before the real command line, where argparse lets a later option win.
    """
    try:
        settings = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: not a JSON object of train.py options")
    tokens = []
    for key, value in settings.items():
        name = key.replace("-", "_")
        if name not in known or name == "config":
            raise ConfigError(f"{path}: {key!r} is not a train.py option")
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            tokens.append(option if value else "--no-" + option[2:])
        elif isinstance(value, list):
            tokens += [option, *map(str, value)]
        else:
            tokens += [option, str(value)]
    return tokens


def parse_args(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.config:
        try:
            tokens = config_arguments(args.config, vars(args))
        except ConfigError as err:
            parser.error(str(err))
        args = parser.parse_args(tokens + argv)
    check_args(parser, args)
    return args


def make_parser():
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default="data/preprocessed_data.csv",
                        help="table written by preprocess.py")
    parser.add_argument("--out", default="runs/main", help="run folder for model.pt and history")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="at most this many")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="songs per optimisation step")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    parser.add_argument("--momentum", type=float, default=defaults.momentum, help="SGD only")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                        help="L2 penalty")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=defaults.optimizer,
                        help="SGD with momentum, or Adam")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(defaults.hidden),
                        help="hidden layer widths")
    parser.add_argument("--dropout", type=float, default=defaults.dropout,
                        help="dropout after each hidden layer (0: none)")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="stop after this many epochs without a lower validation loss")
    parser.add_argument("--class-weight-power", type=float, default=defaults.class_weight_power,
                        help="loss weight of a genre ~ (1 / its songs) ** power: 1 balanced, "
                        "0 unweighted")
    parser.add_argument("--input-noise", type=float, default=defaults.input_noise,
                        help="std of Gaussian noise added to the standardised training inputs")
    parser.add_argument("--prior-correction", type=float, default=defaults.prior_correction,
                        help="multiply predicted probabilities by genre share ** this: 0 keeps "
                        "the class weighting's favour to rare genres, a value equal to "
                        "--class-weight-power undoes it (more accuracy, less macro-F1)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of the initial weights, shuffling and dropout")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads: a small MLP runs fastest on one")
    parser.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda")
    parser.add_argument("--ensemble", type=int, default=defaults.ensemble, metavar="K",
                        help="train K networks (seeds --seed, --seed+1, ...) and average "
                        "their probabilities")
    parser.add_argument("--bootstrap", action=argparse.BooleanOptionalAction,
                        default=defaults.bootstrap,
                        help="train each ensemble member on a resample of the train rows")
    parser.add_argument("--config", help="JSON file of these options (e.g. best.json of "
                        "tune.py); options on the command line override it")
    return parser


def check_args(parser, args):
    for name in ("epochs", "batch_size", "patience", "threads", "ensemble"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.dropout < 1:
        parser.error("--dropout must be in [0, 1)")
    if args.lr <= 0 or any(width < 1 for width in args.hidden):
        parser.error("--lr must be positive and --hidden widths at least 1")
    if not 0 <= args.class_weight_power <= 1:
        parser.error("--class-weight-power must be in [0, 1]")
    if not 0 <= args.prior_correction <= args.class_weight_power:
        parser.error(f"--prior-correction {args.prior_correction} must be in [0, "
                     f"--class-weight-power {args.class_weight_power}] (more would favour common "
                     "genres beyond an unweighted fit): lower it too")
    if not (math.isfinite(args.input_noise) and args.input_noise >= 0):
        parser.error("--input-noise must be a finite number, not negative")
    if args.momentum < 0 or args.weight_decay < 0:
        parser.error("--momentum and --weight-decay must not be negative")
    if args.device != "auto":
        try:
            torch.device(args.device)
        except RuntimeError:
            parser.error(f"--device {args.device!r} is not a torch device (cpu, cuda, cuda:1)")


def config_from_args(args):
    """The TrainConfig of parsed options (parse_args([...]) takes a --config file too)."""
    return TrainConfig(**{field.name: getattr(args, field.name)
                          for field in dataclasses.fields(TrainConfig)}
                       | {"hidden": tuple(args.hidden)})


def main(argv=None):
    args = parse_args(argv)
    device = default_device() if args.device == "auto" else args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    config = config_from_args(args)
    try:
        table = read_table(args.data)
        checkpoint, history = train_checkpoint(table, config, device, log=print)
        checkpoint["config"].update(data=str(args.data), threads=args.threads)
        out = Path(args.out)
        save_checkpoint(out / "model.pt", checkpoint)
        write_history(out / "history.csv", history)
        plot_learning_curve(out / "learning_curve.png", history)
    except (PreprocessError, TrainingError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    metrics = checkpoint["metrics"]
    epochs = ", ".join(map(str, metrics["best_epochs"]))
    print(f"{args.ensemble} network(s), best epoch(s) {epochs} of {metrics['epochs_run']} run: "
          f"val accuracy {metrics['val_accuracy']:.3f}, macro-F1 "
          f"{metrics['val_macro_f1']:.3f}; {metrics['train_seconds']:.1f} s on {device} "
          f"({metrics['n_train']} train / {metrics['n_val']} val songs, "
          f"{len(checkpoint['classes'])} genres, {len(checkpoint['feature_names'])} features)")
    print(f"wrote {out / 'model.pt'}, {out / 'history.csv'}, {out / 'learning_curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
