"""Uncertainty sampling on the main model's class probabilities (Lewis and Gale, 1994; Settles, 2009)."""

from __future__ import annotations

import numpy as np

from cartal.strategies.base import PoolState, QueryStrategy


def entropy(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy in nats, row by row; 0 log 0 counts as 0."""
    probs = np.asarray(probs, dtype=np.float64)
    return -np.sum(probs * np.log(np.clip(probs, 1e-12, 1.0)), axis=-1)


class Entropy(QueryStrategy):
    """Largest predictive entropy of the softmax."""

    name = "entropy"
    needs = frozenset({"probs"})

    def score(self, state: PoolState) -> np.ndarray:
        return entropy(state.pool_probs)


class LeastConfidence(QueryStrategy):
    """Smallest maximum class probability (score = 1 - max p)."""

    name = "least-confidence"
    needs = frozenset({"probs"})

    def score(self, state: PoolState) -> np.ndarray:
        return 1.0 - np.asarray(state.pool_probs, dtype=np.float64).max(axis=1)


class Margin(QueryStrategy):
    """Smallest gap between the two most probable classes (score = -(p1 - p2))."""

    name = "margin"
    needs = frozenset({"probs"})

    def score(self, state: PoolState) -> np.ndarray:
        probs = np.asarray(state.pool_probs, dtype=np.float64)
        top_two = np.partition(probs, probs.shape[1] - 2, axis=1)[:, -2:]
        return -(top_two[:, 1] - top_two[:, 0])
