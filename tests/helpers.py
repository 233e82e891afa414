"""Small hand-made inputs shared by the tests: pool states for the strategies (cartal.testing's), strategies of a
user's own, a separable toy problem for the models, a toy dataset for the dataset registry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartal.data.frames import Dataset
from cartal.strategies import PoolState, QueryStrategy


class FirstIds(QueryStrategy):
    """A user-defined strategy for the registry test: every instance scores the same."""

    name = "first-ids"

    def score(self, state: PoolState) -> np.ndarray:
        return np.zeros(len(state.pool_ids))


class PowerOfHidden(QueryStrategy):
    """A user-defined strategy with settings of its own (strategy_args): the norm of the hidden layer to a power,
    largest first, or smallest first."""

    name = "power-of-hidden"
    needs = frozenset({"hidden"})

    @dataclass(frozen=True)
    class Args:
        power: float = 2.0
        smallest: bool = False  # pick the smallest norms first

        def __post_init__(self):
            if self.power <= 0:
                raise ValueError(f"power must be positive, got {self.power}")

    def score(self, state: PoolState) -> np.ndarray:
        norms = np.linalg.norm(state.pool_hidden.astype(np.float64), axis=1) ** self.args.power
        return -norms if self.args.smallest else norms


def toy(n=120, d=6, seed=0):
    """Three well separated Gaussian classes."""
    generator = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = generator.normal(size=(n, d)).astype(np.float32) * 0.3
    x[np.arange(n), y] += 3
    return x, y


def toy_dataset(params) -> Dataset:
    """A loader of the registry's kind (the data block in, a Dataset out): 40 texts of two classes."""
    rows = pd.DataFrame({"id": [f"t{i:02d}" for i in range(40)], "text": [f"text number {i}" for i in range(40)],
                         "label": ["even" if i % 2 == 0 else "odd" for i in range(40)]})
    return Dataset("toy", rows.iloc[:30].reset_index(drop=True), rows.iloc[30:].reset_index(drop=True), ("even", "odd"))
