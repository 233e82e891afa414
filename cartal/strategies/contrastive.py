"""Contrastive Active Learning (Margatina et al., EMNLP 2021): not Cartography Active Learning.

A pool instance is worth labeling when the model predicts it very differently
from its nearest labeled neighbours in representation space: the score is the
mean KL divergence KL(p(neighbour) || p(candidate)) over its k nearest labeled
neighbours (Euclidean, on the model's hidden representations).
"""

from __future__ import annotations

import numpy as np

from cartal.params import Params
from cartal.strategies.base import PoolState, QueryStrategy


def nearest(points: np.ndarray, references: np.ndarray, k: int, chunk: int = 4096) -> np.ndarray:
    """Indices of the k nearest references of each point, in no particular order.

    A partial sort (argpartition) per row: a full sort of every row costs an
    order of magnitude more on a large pool. Ties at the k-th distance are
    broken the same way every run.
    """
    k = min(k, len(references))
    references = references.astype(np.float32)
    reference_norms = (references ** 2).sum(axis=1)
    out = np.empty((len(points), k), dtype=np.int64)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk].astype(np.float32)
        distance = reference_norms[None, :] - 2 * block @ references.T  # + |block|^2, the same along a row
        out[start:start + chunk] = np.argpartition(distance, k - 1, axis=1)[:, :k]
    return out


class ContrastiveAL(QueryStrategy):
    name = "contrastive"
    needs = frozenset({"hidden", "probs"})

    def __init__(self, neighbours: int = 10):
        self.neighbours = neighbours

    @classmethod
    def from_params(cls, params: Params) -> ContrastiveAL:
        return cls(neighbours=params.contrastive.neighbours)

    def score(self, state: PoolState) -> np.ndarray:
        index = nearest(state.pool_hidden, state.labeled_hidden, self.neighbours)
        pool = np.clip(np.asarray(state.pool_probs, dtype=np.float64), 1e-12, 1)
        neighbours = np.clip(np.asarray(state.labeled_probs, dtype=np.float64), 1e-12, 1)[index]  # (m, k, C)
        kl = (neighbours * (np.log(neighbours) - np.log(pool)[:, None, :])).sum(axis=2)
        return kl.mean(axis=1)
