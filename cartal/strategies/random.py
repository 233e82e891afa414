"""Random sampling: the baseline every strategy has to beat."""

from __future__ import annotations

import numpy as np

from cartal.seeding import rng
from cartal.strategies.base import PoolState, QueryStrategy


class RandomSampling(QueryStrategy):
    """A uniform sample of the pool, drawn from the experiment seed and the round."""

    name = "random"

    def score(self, state: PoolState) -> np.ndarray:
        # One uniform score per id in sorted order, so the draw does not depend on how the pool was read.
        order = np.argsort(np.asarray(state.pool_ids, dtype=str), kind="stable")
        scores = np.empty(len(order))
        scores[order] = rng(state.seed, state.round, "random").random(len(order))
        return scores
