"""The network alone: linear layers with ReLU and dropout, for one or several members side by side.

Usage:
    from genrelearn.network import GenreMLP
    network = GenreMLP(n_features=200, n_classes=8, hidden=(256, 128, 64), dropout=0.36, members=5)
    logits = network(inputs)       # (members, songs, genres) from (songs, features)

Three hidden widths make the four-linear-layer MLP of the original project. The members of an
ensemble are independent networks of one shape; layer by layer their weights are stacked along a
leading member dimension, so one batched matrix product runs them all and an ensemble of five
costs little more per step than one network. Inputs are (songs, features), shared by every
member, or (members, songs, features), one set per member (e.g. each with its own input noise).
"""
import copy
import itertools

import torch
from torch import nn


class GenreMLP(nn.Module):
    """``members`` MLPs: inputs -> Linear -> ReLU -> dropout ... -> Linear -> genre logits.

    ``seeds`` (one per member) draws member m's initial weights as torch.nn.Linear draws them
    after torch.manual_seed(seeds[m]); without it they come from torch's current random state.
    """

    def __init__(self, n_features, n_classes, hidden=(128, 64, 32), dropout=0.0, members=1,
                 seeds=None):
        super().__init__()
        self.widths = [n_features, *hidden, n_classes]
        self.dropout = dropout
        self.members = members
        layers = [self._initial_layers(None if seeds is None else seeds[member])
                  for member in range(members)]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([member[depth].weight.detach().T for member in layers]))
            for depth in range(len(self.widths) - 1))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([member[depth].bias.detach() for member in layers])[:, None])
            for depth in range(len(self.widths) - 1))

    def _initial_layers(self, seed):
        if seed is not None:
            torch.manual_seed(seed)
        return [nn.Linear(width_in, width_out)
                for width_in, width_out in itertools.pairwise(self.widths)]

    def forward(self, x):
        if x.dim() == 2:
            x = x.expand(self.members, -1, -1)
        last = len(self.weights) - 1
        for depth, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)
            if depth < last:
                x = torch.relu(x)
                if self.training and self.dropout:
                    # A uniform draw per unit: torch's own dropout draws Bernoulli variables on
                    # the CPU four times slower, a sixth of an ensemble's training step. The
                    # scaled mask is made outside autograd: one product to differentiate.
                    with torch.no_grad():
                        kept = torch.rand_like(x).ge_(self.dropout).mul_(1 / (1 - self.dropout))
                    x = x * kept
        return x

    def arguments(self):
        """The constructor's arguments that rebuild this shape (a checkpoint's model_args)."""
        return {"n_features": self.widths[0], "n_classes": self.widths[-1],
                "hidden": list(self.widths[1:-1]), "dropout": self.dropout,
                "members": self.members}

    def layer_lines(self):
        """The network in words: a line per Linear layer, then its parameter count."""
        depth = len(self.widths) - 1
        lines = [f"Linear {width_in:>5} -> {width_out:<5}"
                 + (f" ReLU, dropout {self.dropout:g}" if layer < depth - 1 else " genre logits")
                 for layer, (width_in, width_out) in enumerate(itertools.pairwise(self.widths))]
        each = sum(value[0].numel() for value in self.parameters())
        return lines + [f"{each:,} parameters a member x {self.members} "
                        f"member{'s' * (self.members != 1)} = {each * self.members:,}"]

    def select(self, members):
        """A network of the listed members alone, with their current weights."""
        chosen = copy.deepcopy(self)
        index = torch.tensor(members, device=self.weights[0].device)
        for values in (chosen.weights, chosen.biases):
            for depth, value in enumerate(values):
                values[depth] = nn.Parameter(value.detach()[index])
        chosen.members = len(members)
        return chosen

    def member_state(self, member):
        """A copy of member ``member``'s weights, for ``load_member_state``."""
        return [value[member].detach().clone() for value in self.parameters()]

    def load_member_state(self, member, state):
        with torch.no_grad():
            for value, saved in zip(self.parameters(), state, strict=True):
                value[member] = saved
