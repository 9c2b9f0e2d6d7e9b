"""The one declaration of the learning scripts' options and of the training configuration.

Usage:
    from genrelearn import options
    from dataset import cli
    parser = cli.new_parser(__doc__)                   # the --help layout of every script
    cli.add_data_option(parser)                        # --data
    options.add_checkpoint_option(parser)              # evaluate, predict: --checkpoint, and
    options.add_device_option(parser)                  # --device, where the network predicts
    options.add_threads_option(parser)                 # --threads
    options.add_parameter_options(parser)              # train, tune: --hidden, --lr, ... --config
    args = parser.parse_args(argv)
    parameters = options.chosen_parameters(parser, args)    # defaults < --config < command line
    settings = options.suggest(trial)                  # an Optuna trial's draw from SEARCH_SPACE

The scripts name the same thing the same way: the input table is --data, what a script writes
--out, --threads its CPU threads, --device where the network runs, --seed the networks' seed
(the split's is preprocess --split-seed, the baselines' evaluate --baseline-seed, the search's
tune --search-seed); lists take values separated by spaces, commas or both; an old name still
works, with a note. Each shared option is declared once, with one help line: here, or in
dataset/cli.py where a script without torch needs it too (--data, --quiet, the list and
renamed options).

GenreClassifier's constructor parameters are the configuration; this module gives each a help
line, turns them into command-line options of the same names (train.py, tune.py), reads them
from JSON files (--config, tune.py's best.json) and declares the ranges worth searching.
"""
import argparse
import inspect
import json
from pathlib import Path

from dataset import cli
from genrelearn.checkpoint import RENAMED_PARAMETERS
from genrelearn.classifier import GenreClassifier, SettingError, torch_device

PARAMETER_HELP = {
    "hidden": "widths of the hidden layers (three make the four-linear-layer MLP)",
    "dropout": "dropout after each hidden layer",
    "epochs": "at most this many epochs: passes over the training rows or, on a table of more "
              "than 50,000 rows, 50,000 rows each (early stopping checks once an epoch)",
    "batch_size": "songs per optimiser step, or auto: 32 up to 8,192 training rows, above "
                  "that rows / 256 rounded down to a power of two, at most 1,024, with the "
                  "learning rate times sqrt(batch / 32)",
    "lr": "learning rate (at 32 songs a step when batch_size is auto)",
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
    "holdout_fraction": "share of the training artists held out for early stopping when no "
                        "validation rows are given (train.py uses the table's val split)",
    "seed": "seed of the networks: their weights, shuffling, dropout, noise and held-out "
            "artists",
    "device": "where the network runs: auto (cuda if torch sees a GPU), cpu or cuda",
    "verbose": "print one line per epoch",
}
HIDDEN_PARAMETERS = ("verbose",)  # the scripts decide what they print

# The ranges worth searching, around the defaults: name -> (grid values, (low, high) for random
# and TPE sampling or None to sample the grid's values, log scale). tune.py and
# bench/select_mlp.py search this space; the other parameters keep their values there. Not the
# batch size: its default, auto, sizes the batch by the table's rows and scales the learning rate
# with it, and a searched batch would be pinned in best.json in its place (32 songs a step on a
# table of 100,000 rows); a user who wants a fixed one gives tune.py --batch-size.
SEARCH_SPACE = {
    "hidden": (("128-64-32", "256-128-64", "512-256-128"), None, False),
    "lr": ((3e-4, 1e-3, 3e-3), (3e-4, 3e-3), True),
    "weight_decay": ((1e-3, 1e-2, 1e-1), (1e-3, 0.3), True),
    "dropout": ((0.0, 0.2, 0.4), (0.0, 0.6), False),
    "label_smoothing": ((0.0, 0.05, 0.1), (0.0, 0.15), False),
    "class_weight_power": ((0.4, 0.7, 1.0), (0.4, 1.0), False),
    "input_noise": ((0.0, 0.2, 0.4), (0.0, 0.4), False),
}


def parameter_defaults():
    """{parameter: default} of GenreClassifier's constructor, in its order."""
    return {name: parameter.default
            for name, parameter in inspect.signature(GenreClassifier).parameters.items()}


def option_defaults():
    """{parameter: default} of the parameters that are command-line options."""
    return {name: default for name, default in parameter_defaults().items()
            if name not in HIDDEN_PARAMETERS}


def add_parameter_options(parser):
    """--config and one option per parameter, typed by its default; a renamed parameter's old
    option (checkpoint.RENAMED_PARAMETERS) still works, with a note. Options not given stay
    unset, so a --config file's value is only overridden by what the user typed."""
    parser.add_argument("--config", help="JSON file of the options below (e.g. best.json of "
                        "tune.py); options on the command line override it")
    for name, default in option_defaults().items():
        option = _option(name)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        settings = {"default": argparse.SUPPRESS,
                    "help": f"{PARAMETER_HELP[name]} (default: {shown})"}
        if isinstance(default, bool):
            parser.add_argument(option, action=argparse.BooleanOptionalAction, **settings)
        elif isinstance(default, tuple):
            cli.add_list_option(parser, option, item=int, **settings)
        elif isinstance(default, str):
            parser.add_argument(option, type=_number_or_text, **settings)
        else:
            parser.add_argument(option, type=type(default), **settings)
    for old, new in RENAMED_PARAMETERS.items():
        cli.add_renamed(parser, _option(old), _option(new))


def _option(name):
    """A parameter's command-line option: holdout_fraction -> --holdout-fraction."""
    return "--" + name.replace("_", "-")


def chosen_parameters(parser, args):
    """GenreClassifier parameters of parsed ``args``: defaults < --config < command line;
    ``parser.error`` (a one-line message, exit 2) for a bad file or value."""
    given = {name: value for name, value in vars(args).items() if name in option_defaults()}
    try:
        config = read_parameters(args.config) if args.config else {}
    except ValueError as err:
        parser.error(str(err))
    parameters = {**config, **given}
    if "hidden" in parameters:
        parameters["hidden"] = tuple(parameters["hidden"])
    try:
        GenreClassifier(**parameters).check_params()
    except SettingError as err:
        parser.error(f"{_option(err.name)} {err.requirement}")
    return parameters


def add_checkpoint_option(parser):
    parser.add_argument("--checkpoint", default="runs/main/model.pt", metavar="MODEL",
                        help="the model: a model.pt written by train.py")


def add_threads_option(parser):
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="CPU threads for torch (and the baselines' libraries): a small MLP "
                        "runs fastest on one, and a busy machine slows many threads tenfold")


def check_threads(parser, args):
    if args.threads < 1:
        parser.error("--threads must be at least 1")


def add_device_option(parser):
    """--device of a script that predicts with a trained model: on the CPU unless told (train.py
    and tune.py have it as the GenreClassifier parameter, default auto)."""
    parser.add_argument("--device", default="cpu", help=PARAMETER_HELP["device"])


def check_device(parser, args):
    try:
        torch_device(args.device)
    except SettingError as err:
        parser.error(f"--device {err.requirement}")


def read_parameters(path):
    """The GenreClassifier parameters in the JSON object at ``path`` (--config, tune.py's
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
        name = RENAMED_PARAMETERS.get(name, name)
        if name not in defaults:
            raise ValueError(f"{path}: {key!r} is not a train.py option")
        try:
            parameters[name] = _like(defaults[name], value)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {key!r} should be like {defaults[name]!r}, "
                             f"not {value!r}") from None
    return parameters


def suggest(trial, grid=False):
    """GenreClassifier parameters of an Optuna trial drawn from SEARCH_SPACE (its grid values
    only with ``grid``)."""
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


def as_json(parameters):
    """Parameters as a JSON-ready dict (a --config file): hidden widths as a list."""
    return {**parameters, **({"hidden": list(parameters["hidden"])}
                             if "hidden" in parameters else {})}


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


def _number_or_text(text):
    """A number where one is given (--prior-correction 0.3, --batch-size 64), else the word
    (auto, sgd, cpu)."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text
