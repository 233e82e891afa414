"""Core-set selection: greedy k-center on the hidden representations (Sener and Savarese, ICLR 2018)."""

from __future__ import annotations

import numpy as np

from cartal.strategies.base import PoolState, QueryStrategy, Selection


def min_distances(points: np.ndarray, centers: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Euclidean distance of each point to its nearest center, in chunks to bound memory."""
    if len(centers) == 0:
        return np.full(len(points), np.inf)
    centers = centers.astype(np.float32)
    center_norms = (centers ** 2).sum(axis=1)
    out = np.empty(len(points), dtype=np.float64)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk].astype(np.float32)
        squared = (block ** 2).sum(axis=1)[:, None] - 2 * block @ centers.T + center_norms[None, :]
        out[start:start + chunk] = np.sqrt(np.clip(squared.min(axis=1), 0, None))
    return out


class CoreSet(QueryStrategy):
    """Repeatedly pick the pool instance farthest from L and the picks so far.

    The score of a pick is its distance to the nearest center when it was
    picked; greedy k-center never lets that grow, so the scores come out sorted.
    Among equally far instances the one with the smallest id wins.
    """

    name = "coreset"
    needs = frozenset({"hidden"})

    def score(self, state: PoolState) -> np.ndarray:
        return min_distances(state.pool_hidden, state.labeled_hidden)

    def select(self, state: PoolState, batch_size: int) -> Selection:
        ids = np.asarray(state.pool_ids, dtype=object)
        order = np.argsort(ids.astype(str), kind="stable")  # ties go to the smallest id
        ids, hidden = ids[order], np.asarray(state.pool_hidden, dtype=np.float32)[order]
        distance = min_distances(hidden, state.labeled_hidden)
        picks, scores = [], []
        for _ in range(min(batch_size, len(ids))):
            best = int(np.argmax(distance))
            picks.append(best)
            scores.append(distance[best])
            distance = np.minimum(distance, min_distances(hidden, hidden[best:best + 1]))
            distance[best] = -np.inf
        return Selection(ids[picks], np.asarray(scores, dtype=np.float64), self.name)
