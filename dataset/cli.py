"""The command line every script shares: one --help layout, list options, renamed options.

Usage:
    from dataset import cli
    parser = cli.new_parser(__doc__)
    cli.add_data_option(parser, default="data/SongCSV.csv")
    cli.add_list_option(parser, "--train-only", metavar="SOURCE", help="...")  # a b, a,b, a, b
    parser.add_argument("--out", default="data/preprocessed_data.csv", help="...")
    cli.add_renamed(parser, "--output", "--out")   # the old name works, with a note on stderr

Each option the scripts share is declared once: here those that scripts without torch
(preprocess.py, dataset.extract) need too, so this module imports no torch; the learning
scripts' own (--threads, --device, --checkpoint, the classifier's parameters) in options.py.
"""
import argparse
import copy
import sys

NOTE = "note: {old} is now {new} (the old name still works for now)"
DATA_HELP = "input table: a CSV file, a Parquet file or a folder of Parquet parts"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help's layout in every script: each option's default after its help, unless there is
    none worth showing (None: not set; a flag's True or False); a list's as it is typed."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)

    def _expand_help(self, action):
        if isinstance(action.default, (list, tuple)):
            action = copy.copy(action)
            action.default = " ".join(map(str, action.default))
        return super()._expand_help(action)


def module_prog(module):
    """How a data-half command names itself in --help and errors: ``python -m MODULE`` when run
    so (Python would say __main__.py), the installed command's own name (msd-extract) else."""
    return f"python -m {module}" if sys.argv[0].endswith(".py") else None


def new_parser(doc, prog=None):
    """A script's parser: its docstring's first paragraph as the description, HelpFormatter."""
    return argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                   formatter_class=HelpFormatter)


def split_list(values, keep_whole=None):
    """The items of a list option's ``values`` in order: each value split at its commas, unless
    ``keep_whole(value)`` says it is one item (a path that holds a comma). A comma at a value's
    end is a separator too ('a,' 'b', as a shell splits "a, b"); ValueError for an empty item
    between two commas ('a,,b') or for no item at all."""
    items = []
    for value in values:
        if keep_whole and keep_whole(value):
            items.append(value)
            continue
        parts = value.strip().strip(",").split(",")
        if not all(part.strip() for part in parts) and parts != [""]:
            raise ValueError(f"an empty item in {value!r}")
        items += [part.strip() for part in parts if part.strip()]
    if not items:
        raise ValueError("no items")
    return items


class _ListAction(argparse.Action):
    """Values separated by spaces, commas or both, each made an ``item`` (int, str) and checked
    against ``allowed``."""

    def __init__(self, option_strings, dest, item=str, allowed=None, keep_whole=None,
                 **settings):
        super().__init__(option_strings, dest, nargs="+", **settings)
        self.item, self.allowed, self.keep_whole = item, allowed, keep_whole

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            texts = split_list(values, self.keep_whole)
        except ValueError as err:
            raise argparse.ArgumentError(self, str(err)) from None
        items = []
        for text in texts:
            try:
                items.append(self.item(text))
            except ValueError:
                raise argparse.ArgumentError(
                    self, f"invalid {self.item.__name__} value: {text!r}") from None
            if self.allowed is not None and items[-1] not in self.allowed:
                raise argparse.ArgumentError(self, f"invalid choice: {text!r} (choose from "
                                             f"{', '.join(map(str, self.allowed))})")
        setattr(namespace, self.dest, items)


def add_list_option(parser, option, *, item=str, choices=None, keep_whole=None, **settings):
    """Add ``option`` taking a list: values separated by spaces, commas or both, kept in the
    order given (--labels: the first source that labels a song wins). ``item`` makes each
    value; ``choices`` are the values allowed; ``keep_whole`` see split_list."""
    return parser.add_argument(option, action=_ListAction, item=item, allowed=choices,
                               keep_whole=keep_whole, **settings)


class _RenamedAction(argparse.Action):
    """An option's old name: does what the new name's action does, after a note naming it."""

    def __init__(self, option_strings, dest, renamed, **settings):
        super().__init__(option_strings, dest, **settings)
        self.renamed = renamed

    def __call__(self, parser, namespace, values, option_string=None):
        new = self.renamed.option_strings[0]
        print(NOTE.format(old=option_string, new=new), file=sys.stderr)
        self.renamed(parser, namespace, values, new)


def add_renamed(parser, old, new):
    """Accept ``old``, the name an option had before, as the option ``new`` (already added):
    hidden from --help, the same value, and a one-line note on stderr naming ``new``."""
    renamed = parser._option_string_actions[new]  # argparse's table of every option's action
    parser.add_argument(old, action=_RenamedAction, renamed=renamed, dest=renamed.dest,
                        nargs=renamed.nargs, type=renamed.type, choices=renamed.choices,
                        metavar=renamed.metavar, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)


def add_data_option(parser, default="data/preprocessed_data.csv"):
    parser.add_argument("--data", default=default, metavar="TABLE", help=DATA_HELP)


def add_quiet_option(parser):
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
