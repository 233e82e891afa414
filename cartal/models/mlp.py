"""The paper's classifier head and the linear probes that CAL and DAL train on its hidden layer."""

from __future__ import annotations

import torch
from torch import nn

from cartal.seeding import derive_seed


class MLPClassifier(nn.Module):
    """Linear(d,h) -> ReLU -> Dropout -> Linear(h,h) -> ReLU -> Dropout -> Linear(h,C).

    ``hidden(x)`` is the output of the second hidden layer: the representation h
    on which the CAL and DAL probes work.
    """

    def __init__(self, in_dim: int, n_classes: int, hidden_dim: int | None = None, dropout: float = 0.3):
        super().__init__()
        hidden_dim = in_dim if hidden_dim is None else hidden_dim  # 0 is an error, not the default
        self.config = {"in_dim": in_dim, "n_classes": n_classes, "hidden_dim": hidden_dim, "dropout": dropout}
        self.body = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
        )
        self.head = nn.Linear(hidden_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def linear_probe(in_dim: int, relu: bool = False) -> nn.Module:
    """Linear(d, 2), optionally with the ReLU the reference code puts on its output."""
    layers = [nn.Linear(in_dim, 2)] + ([nn.ReLU()] if relu else [])
    return nn.Sequential(*layers)


def seeded(factory, seed: int, *keys: int | str) -> nn.Module:
    """Build a module with weights drawn from a seed of its own, leaving global RNG untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(derive_seed(seed, "init", *keys))
        return factory()
