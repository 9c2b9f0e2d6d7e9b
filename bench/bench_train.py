"""Training speed against the original project's way of training, on the same data.

Usage:
    python -m bench.bench_train [--data data/preprocessed_data.csv] [--songs 10000]

1. Seconds per epoch at batch size 32 and the seed's widths (128-64-32): GenreClassifier.fit
   (slices of in-memory tensors, its validation pass and metrics included) against the seed's
   network and loop (``seed_network``: nn.Sequential of Linear and ReLU; TensorDataset +
   DataLoader, Adam; also with fused Adam, to isolate the loop), median over --rounds rounds
   of --timed-epochs each, the three loops taking turns.
   Then 8 default epochs of 5 members against 8 of one (median over --rounds, taking turns):
   what the batched members cost.
2. A whole default train.py run (to early stopping) against the seed's configuration (Adam,
   lr 0.01, batch 32, widths 128-64-32, --seed-epochs epochs, unweighted loss, last epoch
   kept), once per training seed 0 ... --whole-seeds - 1, taking turns: median wall time and
   epochs, mean test-split accuracy and macro-F1 of each.
3. With --songs N, 1. and 2. on N synthetic songs with as many features (Gaussian genre
   clusters, 70/15/15 split), 2. once per training seed 0 ... --synthetic-seeds - 1: the scale
   at which issue 12 first measured the whole run (a 9,200-song table), where early stopping
   comes after fewer epochs than on the real table's 436 training songs.

Without --data it uses the real song files in ../shared/data labelled by tagtraum CD1 alone,
extracted (to data/bench_train/SongCSV.csv, apart from real_cv's tables, which have crops) and
cleaned as bench/real_songs.py does, with the seed-0 split.
"""
import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench import real_songs
from genrelearn import scoring, splitting, tablefiles
from genrelearn.classifier import GenreClassifier
from genrelearn.transforms import fit_standardisation, standardise

SEED_CONFIG = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 1000,
               "hidden": (128, 64, 32)}


def seed_network(n_features, n_classes):
    """The original project's network: Linear and ReLU layers in an nn.Sequential, inputs ->
    128 -> 64 -> 32 -> genre logits, no dropout. (genrelearn.network.GenreMLP is now the batched
    ensemble; the comparison is against what the project started from.)"""
    widths = [n_features, *SEED_CONFIG["hidden"]]
    layers = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], n_classes))


def prepared_splits(table):
    """Per split: (raw features, genres, standardised tensor, genre index tensor); the genres."""
    classes = sorted(set(table.loc[table[tablefiles.SPLIT] == "train", tablefiles.LABEL]))
    index = {genre: i for i, genre in enumerate(classes)}
    rows = {split: splitting.split_rows(table, split)[:2] for split in splitting.SPLITS}
    mean, std = fit_standardisation(rows["train"][0].to_numpy())
    return {split: (features, genres, standardise(features.to_numpy(), mean, std),
                    torch.tensor([index[genre] for genre in genres]))
            for split, (features, genres) in rows.items()}, classes


def seed_epoch(model, loader, optimizer, criterion):
    """One epoch as the original project trained: DataLoader batches, one step each."""
    model.train()
    for inputs, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()


def seed_loop(train_x, train_y, n_classes, seed=0, fused=None):
    """The seed's network, loader, optimiser and loss: arguments of ``seed_epoch``.

    ``fused=True`` swaps in the fused Adam GenreClassifier uses, so only the loop differs.
    """
    torch.manual_seed(seed)
    model = seed_network(train_x.shape[1], n_classes)
    loader = DataLoader(TensorDataset(train_x, train_y), batch_size=SEED_CONFIG["batch_size"],
                        shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=SEED_CONFIG["lr"], fused=fused)
    return model, loader, optimizer, nn.CrossEntropyLoss()


def time_seed_epochs(loop, epochs):
    """Seconds of each of ``epochs`` seed-style epochs of ``loop`` (from ``seed_loop``)."""
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        seed_epoch(*loop)
        seconds.append(time.perf_counter() - started)
    return seconds


def epoch_speed(splits, n_classes, epochs, rounds):
    """Median s/epoch at batch 32, same widths: the seed loop as it was, the seed loop with
    fused Adam, and GenreClassifier.fit (validation pass and metrics included).

    The three take turns, ``epochs`` each per round, so a machine that speeds up or slows down
    during the run (a shared one does) weighs on all three alike.
    """
    train_x, train_y = splits["train"][2:]
    loops = {"seed": seed_loop(train_x, train_y, n_classes),
             "fused": seed_loop(train_x, train_y, n_classes, fused=True)}
    # One network learning as the seed's did; only the loop (and the validation pass) differ.
    classifier = GenreClassifier(optimizer="adam", lr=SEED_CONFIG["lr"], batch_size=32,
                                 hidden=SEED_CONFIG["hidden"], dropout=0.0, input_noise=0.0,
                                 epochs=epochs, patience=epochs + 1, ensemble=1, weight_decay=0.0,
                                 class_weight_power=0.0, prior_correction=0.0,
                                 label_smoothing=0.0, input_transform="standard", stop_on="loss")
    seconds = {"seed": [], "fused": [], "ours": []}
    for _ in range(rounds):
        for name, loop in loops.items():
            seconds[name] += time_seed_epochs(loop, epochs)
        classifier.fit(*splits["train"][:2], eval_set=splits["val"][:2])
        seconds["ours"] += [row["seconds"] for row in classifier.history_]
    return tuple(statistics.median(seconds[name]) for name in ("seed", "fused", "ours"))


def print_epoch_speed(splits, n_classes, epochs, rounds):
    seed_s, seed_fused_s, ours_s = epoch_speed(splits, n_classes, epochs, rounds)
    print(f"per epoch, batch 32, Adam lr 0.01: seed DataLoader loop {seed_s * 1000:.1f} ms "
          f"({seed_fused_s * 1000:.1f} ms with fused Adam), GenreClassifier.fit "
          f"{ours_s * 1000:.1f} ms incl. its validation pass: {seed_s / ours_s:.2f}x faster "
          f"({seed_fused_s / ours_s:.2f}x from the loop alone)", flush=True)


def member_cost(splits, epochs, rounds, members=5):
    """Median wall seconds of ``epochs`` default epochs of ``members`` members and of one
    member (no early stop: patience above the epochs), taking turns ``rounds`` times."""
    seconds = {1: [], members: []}
    for _ in range(rounds):
        for count in seconds:
            started = time.perf_counter()
            GenreClassifier(ensemble=count, epochs=epochs, patience=epochs + 1).fit(
                *splits["train"][:2], eval_set=splits["val"][:2])
            seconds[count].append(time.perf_counter() - started)
    return statistics.median(seconds[members]), statistics.median(seconds[1])


def print_member_cost(splits, rounds, epochs=8, members=5):
    many, one = member_cost(splits, epochs, rounds, members)
    print(f"{epochs} default epochs: {members} members {many:.2f} s, one {one:.2f} s: "
          f"{many / one:.2f}x one member's wall time", flush=True)


def default_run(splits, seed):
    """Wall seconds, epochs and test scores of a default train.py run (training seed ``seed``)."""
    started = time.perf_counter()
    classifier = GenreClassifier(seed=seed).fit(*splits["train"][:2], eval_set=splits["val"][:2])
    found = scoring.scores(splits["test"][1], classifier.predict(splits["test"][0]))
    return {**found, "seconds": time.perf_counter() - started,
            "epochs": classifier.metrics_["epochs_run"]}


def seed_run(splits, n_classes, epochs, seed):
    """The same for the seed's configuration: ``epochs`` epochs, the last one kept."""
    started = time.perf_counter()
    loop = seed_loop(*splits["train"][2:], n_classes, seed=seed)
    time_seed_epochs(loop, epochs)
    with torch.no_grad():
        predicted = loop[0].eval()(splits["test"][2]).argmax(dim=1).numpy()
    found = scoring.scores(splits["test"][3].numpy(), predicted)
    return {**found, "seconds": time.perf_counter() - started, "epochs": epochs}


def whole_runs(splits, classes, seed_epochs, seeds):
    """The default train.py run against the seed's configuration, once per training seed in
    ``seeds`` (taking turns): per configuration the median wall seconds and epochs and the mean
    test scores over the seeds (one seed's macro-F1 on a small test split moves by a tenth)."""
    runs = {"ours": [], "seed": []}
    for seed in seeds:
        runs["ours"].append(default_run(splits, seed))
        runs["seed"].append(seed_run(splits, len(classes), seed_epochs, seed))
    return [{**{key: statistics.median(run[key] for run in found)
                for key in ("seconds", "epochs")},
             **{key: statistics.mean(run[key] for run in found)
                for key in ("accuracy", "macro_f1")},
             "macro_f1_per_seed": [run["macro_f1"] for run in found]}
            for found in (runs["ours"], runs["seed"])]


def print_whole_runs(splits, classes, seed_epochs, seeds):
    ours, seed = whole_runs(splits, classes, seed_epochs, seeds)
    for title, run in (("train.py defaults", ours), ("seed configuration", seed)):
        print(f"{title:<20} {run['epochs']:5.0f} epochs {run['seconds']:8.1f} s   test accuracy "
              f"{run['accuracy']:.3f}  macro-F1 {run['macro_f1']:.3f} (per seed "
              f"{' '.join(f'{value:.3f}' for value in run['macro_f1_per_seed'])})")
    print(f"whole run (median time, mean scores over {len(seeds)} training seed(s)): "
          f"{seed['seconds'] / ours['seconds']:.1f}x less wall time, macro-F1 "
          f"{ours['macro_f1'] - seed['macro_f1']:+.3f}", flush=True)


def synthetic_table(n_songs, n_features, n_classes=10, seed=0, spread=0.15):
    """A preprocessed-style table of Gaussian genre clusters, 5 songs per artist, 70/15/15 split.

    The clusters' centres scatter by ``spread`` feature stds: 0.15 makes 200 features about as
    hard as the real tables (default run, 10,000 songs: test accuracy 0.66); at 0.5 they were
    separable (0.999): every network's best epoch was its first, which flattered the whole run.
    """
    rng = np.random.default_rng(seed)
    genres = rng.integers(0, n_classes, n_songs // 5).repeat(5)
    centres = rng.normal(0, spread, (n_classes, n_features))
    values = centres[genres] + rng.normal(size=(len(genres), n_features))
    table = pd.DataFrame(values, columns=[f"x{i}" for i in range(n_features)])
    artists = np.arange(len(genres)) // 5
    table.insert(0, "artist_id", [f"AR{a}" for a in artists])
    table.insert(1, "genre", [f"genre{g}" for g in genres])
    table.insert(2, "split", splitting.assign_splits(table["genre"].to_numpy(),
                                                     table["artist_id"].to_numpy(), 0.15, 0.15,
                                                     seed))
    return table


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", help="a preprocessed table (default: the real benchmark's "
                        "tagtraum CD1 table)")
    parser.add_argument("--timed-epochs", type=int, default=10,
                        help="epochs timed per loop and round for the per-epoch comparison")
    parser.add_argument("--rounds", type=int, default=6,
                        help="rounds in which the loops take turns for the per-epoch comparison")
    parser.add_argument("--seed-epochs", type=int, default=SEED_CONFIG["epochs"],
                        help="epochs of the seed's whole run")
    parser.add_argument("--whole-seeds", type=int, default=3,
                        help="training seeds (0, 1, ...) of each whole run; they take turns")
    parser.add_argument("--songs", type=int, default=0,
                        help="also compare both on this many synthetic songs")
    parser.add_argument("--synthetic-seeds", type=int, default=1,
                        help="training seeds of each whole run on the synthetic songs")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (both loops)")
    args = parser.parse_args(argv)
    for name in ("timed_epochs", "rounds", "seed_epochs", "whole_seeds", "synthetic_seeds",
                 "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.songs and args.songs < 200:
        parser.error("--songs must be 0 (none) or at least 200 (every genre in every split)")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        table = tablefiles.read_table(args.data) if args.data else real_songs.labelled_table(
            real_songs.SONGS, real_songs.Run(str(real_songs.CD1)), real_songs.MISMATCHES,
            Path("data/bench_train"), split=True)[0]
    except tablefiles.TableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    splits, classes = prepared_splits(table)
    n_features = splits["train"][2].shape[1]
    print(f"data: {args.data or 'real benchmark (tagtraum CD1)'}: {len(splits['train'][1])} "
          f"train songs, {n_features} features, {len(classes)} genres; "
          f"torch {torch.__version__}, {args.threads} CPU thread(s)")
    print_epoch_speed(splits, len(classes), args.timed_epochs, args.rounds)
    print_member_cost(splits, args.rounds)
    print_whole_runs(splits, classes, args.seed_epochs, range(args.whole_seeds))
    if args.songs:
        synthetic_splits, synthetic_classes = prepared_splits(
            synthetic_table(args.songs, n_features))
        print(f"\n{args.songs} synthetic songs ({len(synthetic_splits['train'][1])} train), "
              f"{n_features} features:", end=" ")
        print_epoch_speed(synthetic_splits, len(synthetic_classes), args.timed_epochs,
                          args.rounds)
        print_whole_runs(synthetic_splits, synthetic_classes, args.seed_epochs,
                         range(args.synthetic_seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
