"""The training loop: an ensemble's members learn side by side, each stopping early on its own.

Usage:
    from genrelearn.training import Schedule, train_members
    history, best_epochs = train_members(network, (inputs, labels), (val_inputs, val_labels),
                                         Schedule(...), val_scores, on_epoch=print)

Mini-batches are slices of a shuffled copy of the in-memory tensors (no DataLoader: it costs
more than a small network's step). An epoch is a pass over the training rows or, on a table of
more than ROUND_ROWS, the next ROUND_ROWS of the pass: early stopping then checks several times a
pass instead of waiting whole passes of a huge table. Every member sees the same batches with
its own weights, dropout and input noise, and with bootstrap row weights its own resample of the
rows. A member stops when what ``stop_on`` watches (class-weighted validation loss, or validation
accuracy + macro-F1) has not improved for ``patience`` epochs; it then leaves the batched network,
so the members still learning no longer pay for it. The network ends with each member's best
weights.
"""
import dataclasses
import math
import time

import torch
from torch import nn

from dataset import interrupts

ROUND_ROWS = 50_000
HISTORY_COLUMNS = ("member", "epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1",
                   "seconds")


class TrainingError(Exception):
    """Training that cannot give a model, e.g. a loss that blew up."""


@dataclasses.dataclass
class Schedule:
    """How long and how members learn: the training half of GenreClassifier's parameters."""
    epochs: int
    batch_size: int
    patience: int
    stop_on: str            # "loss" or "score"
    optimizer: str          # "sgd", "adam" or "adamw"
    lr: float
    momentum: float
    weight_decay: float
    input_noise: float
    seed: int


def train_members(network, train, val, schedule, val_scores, criterion, row_weights=None,
                  on_epoch=None):
    """Train ``network`` (a GenreMLP) on ``train`` = (inputs, labels) tensors, stopping each
    member on ``val``; ``val_scores(probabilities)`` gives each member's (accuracy, macro-F1)
    from (members, songs, genres) probabilities; ``criterion`` is a class-weighted
    CrossEntropyLoss (reduction none); ``row_weights`` (members x rows) a bootstrap's weights.
    ``on_epoch(rows, improved)`` sees each epoch's history rows. Returns (history, best
    epochs); ``network`` is left with each member at its best epoch."""
    active = _Active(network, schedule, row_weights)
    shuffle = torch.Generator(device=train[1].device).manual_seed(schedule.seed)
    history, best = [], [-math.inf] * network.members
    best_epochs = [0] * network.members
    best_states = [network.member_state(member) for member in range(network.members)]
    for epoch in range(1, schedule.epochs + 1):
        started = time.perf_counter()
        train_losses = active.train_round(train, criterion, shuffle)
        val_losses, probabilities = _validate(active.network, val, criterion, epoch)
        rows = [{"member": member, "epoch": epoch, "train_loss": train_losses[i],
                 "val_loss": val_losses[i], "val_accuracy": accuracy, "val_macro_f1": macro_f1,
                 "seconds": time.perf_counter() - started}
                for i, (member, (accuracy, macro_f1))
                in enumerate(zip(active.members, val_scores(probabilities), strict=True))]
        history += rows
        for i, row in enumerate(rows):
            watched = (-row["val_loss"] if schedule.stop_on == "loss"
                       else row["val_accuracy"] + row["val_macro_f1"])
            if watched > best[row["member"]]:
                best[row["member"]], best_epochs[row["member"]] = watched, epoch
                best_states[row["member"]] = active.network.member_state(i)
        if on_epoch:
            on_epoch(rows, any(best_epochs[row["member"]] == epoch for row in rows))
        active.drop([i for i, member in enumerate(active.members)
                     if epoch - best_epochs[member] >= schedule.patience])
        if not active.members:
            break
    for member, state in enumerate(best_states):
        network.load_member_state(member, state)
    return history, best_epochs


class _Active:
    """The members still learning: their batched network, optimiser and bootstrap weights."""

    def __init__(self, network, schedule, row_weights):
        self.network, self.schedule, self.row_weights = network, schedule, row_weights
        self.members = list(range(network.members))
        self.optimizer = make_optimizer(schedule, network.parameters())
        self.cursor, self.order = 0, None

    def train_round(self, train, criterion, shuffle):
        """One epoch: the next ROUND_ROWS rows of the shuffled order (all of them on a smaller
        table), a new order at the start of each pass; each member's mean training loss."""
        inputs, labels = train
        if self.cursor == 0:
            self.order = torch.randperm(len(labels), generator=shuffle, device=labels.device)
        rows = self.order[self.cursor:self.cursor + ROUND_ROWS]
        self.cursor += len(rows)
        if self.cursor >= len(labels):
            self.cursor = 0
        inputs, labels = inputs[rows], labels[rows]
        weights = None if self.row_weights is None else self.row_weights[:, rows]
        size, count = self.schedule.batch_size, len(self.members)
        self.network.train()
        total = torch.zeros(count, device=labels.device)
        for start in range(0, len(rows), size):
            interrupts.check()
            batch = inputs[start:start + size].expand(count, -1, -1)
            if self.schedule.input_noise:  # in place: two fewer tensors a step
                batch = torch.randn(batch.shape, device=batch.device).mul_(
                    self.schedule.input_noise).add_(batch)
            losses = weighted_losses(criterion, self.network(batch), labels[start:start + size],
                                     None if weights is None else weights[:, start:start + size])
            self.optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            self.optimizer.step()
            total += losses.detach()
        return (total / math.ceil(len(rows) / size)).tolist()

    def drop(self, positions):
        """Take the members at ``positions`` (of ``members``) out of the batched network."""
        if not positions:
            return
        kept = [i for i in range(len(self.members)) if i not in positions]
        self.members = [self.members[i] for i in kept]
        if not kept:
            return
        old = list(self.network.parameters())
        self.network = self.network.select(kept)
        self.optimizer = _sliced_optimizer(self.optimizer, old, self.schedule,
                                           self.network.parameters(), kept)
        if self.row_weights is not None:
            self.row_weights = self.row_weights[kept]


def _sliced_optimizer(optimizer, old_parameters, schedule, parameters, kept):
    """A new optimiser over ``parameters`` whose state is ``optimizer``'s for the kept members."""
    sliced = make_optimizer(schedule, parameters)
    index = torch.tensor(kept, device=old_parameters[0].device)
    for old, new in zip(old_parameters, sliced.param_groups[0]["params"], strict=True):
        sliced.state[new] = {name: value if value.dim() == 0 else value[index]
                             for name, value in optimizer.state[old].items()}
    return sliced


def _validate(network, val, criterion, epoch):
    """(each member's class-weighted validation loss, probabilities as (members, songs, genres)
    on the CPU); TrainingError when a loss is not finite."""
    inputs, labels = val
    network.eval()
    with torch.no_grad():
        logits = network(inputs)
        losses = weighted_losses(criterion, logits, labels)
    if not torch.isfinite(losses).all():
        raise TrainingError(f"validation loss is {losses.max().item()} at epoch {epoch}: "
                            "lower --lr")
    return losses.tolist(), torch.softmax(logits, dim=2).cpu()


def auto_batch_size(n_rows):
    """32 songs a step up to 8,192 training rows; above, rows / 256 rounded down to a power of
    two, at most 1,024: a large table's step then carries enough rows that its fixed cost no
    longer dominates (about 250-1,000 steps a pass up to a million rows)."""
    return min(1024, max(32, 2 ** math.floor(math.log2(max(n_rows, 1) / 256))))


def auto_lr(lr, batch_size):
    """The learning rate for an automatic batch: ``lr`` at 32 songs, times sqrt(batch / 32)."""
    return lr * math.sqrt(batch_size / 32)


def make_optimizer(schedule, parameters):
    if schedule.optimizer in ("adam", "adamw"):
        adam = torch.optim.Adam if schedule.optimizer == "adam" else torch.optim.AdamW
        return adam(parameters, lr=schedule.lr, weight_decay=schedule.weight_decay, fused=True)
    return torch.optim.SGD(parameters, lr=schedule.lr, momentum=schedule.momentum,
                           weight_decay=schedule.weight_decay, fused=True)


def weighted_losses(criterion, logits, labels, row_weights=None):
    """Per member, the mean of ``criterion`` (class-weighted, reduction none) over the rows,
    weighted by the rows' class weights, times ``row_weights`` (members x rows; None: all 1). A
    member whose bootstrap resample holds none of the rows gets 0."""
    count, rows, classes = logits.shape
    losses = criterion(logits.reshape(-1, classes),
                       labels if count == 1 else labels.repeat(count)).view(count, rows)
    if row_weights is None:  # fewer operations in the step that training repeats most
        return losses.sum(dim=1) / criterion.weight[labels].sum()
    total_weight = (row_weights * criterion.weight[labels]).sum(dim=1)
    return (losses * row_weights).sum(dim=1) / total_weight.clamp(min=1e-12)


def class_weighted_loss(weights, label_smoothing):
    return nn.CrossEntropyLoss(weight=weights, reduction="none", label_smoothing=label_smoothing)


def format_epoch(rows, improved):
    """One line per epoch: the mean over the members still learning, * when one improved."""
    mean = {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}
    return (f"epoch {rows[0]['epoch']:4d}  train loss {mean['train_loss']:.4f}  "
            f"val loss {mean['val_loss']:.4f}  val acc {mean['val_accuracy']:.3f}  "
            f"val macro-F1 {mean['val_macro_f1']:.3f}  {rows[0]['seconds'] * 1000:6.1f} ms"
            + ("  *" if improved else ""))
