"""Show the genre classifier's network: its layers and size, for train.py's options or a run.

Usage:
    python model.py                                        # train.py's default network
    python model.py --inputs 382 --genres 8 --hidden 512,256,128 --ensemble 3
    python model.py --config runs/tune-NAME/best.json      # a tuned configuration's
    python model.py --checkpoint runs/main/model.pt        # a trained model's

The network is genrelearn/network.py's GenreMLP: four Linear layers (three hidden widths) with
ReLU and dropout, the ensemble's members side by side in one batched module. Its inputs are the
table's features plus a missing-value flag for each feature with gaps (genrelearn/transforms.py);
genrelearn/classifier.py trains it (train.py) and genrelearn/checkpoint.py saves it. The
options are train.py's (--hidden, --dropout and --ensemble shape the network; the others do
not); --checkpoint shows a trained model's network instead.
"""
import sys

from dataset import cli
from genrelearn import options
from genrelearn.checkpoint import CheckpointError, read_checkpoint
from genrelearn.network import GenreMLP


def build_parser():
    parser = cli.new_parser(__doc__)
    parser.add_argument("--inputs", type=int, default=200,
                        help="network inputs: the features, plus a flag per feature with gaps")
    parser.add_argument("--genres", type=int, default=13, help="genres: the network's outputs")
    options.add_checkpoint_option(parser)
    parser.set_defaults(checkpoint=None)
    options.add_parameter_options(parser)
    return parser


def network_of(parser, args):
    """The GenreMLP that --checkpoint holds, or that the options describe."""
    if args.checkpoint:
        return GenreMLP(**read_checkpoint(args.checkpoint)["model_args"])
    if args.inputs < 1 or args.genres < 2:
        parser.error("--inputs must be at least 1 and --genres at least 2")
    parameters = {**options.parameter_defaults(), **options.chosen_parameters(parser, args)}
    return GenreMLP(args.inputs, args.genres, tuple(parameters["hidden"]), parameters["dropout"],
                    members=parameters["ensemble"])


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        network = network_of(parser, args)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(network.layer_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
