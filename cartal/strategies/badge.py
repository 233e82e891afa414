"""BADGE: k-means++ seeding on gradient embeddings (Ash et al., ICLR 2020).

The gradient of the cross-entropy with respect to the last layer, taking the
predicted class as the label, is g = (p - onehot(argmax p)) (outer) h. Its
pairwise inner products factor as <a_i, a_j><h_i, h_j>, so distances are
computed from the (classes)- and (hidden)-sized factors without ever building
the (classes x hidden) embeddings. The first pick is the largest gradient; each
next one is drawn with probability proportional to the squared distance to the
nearest pick (seeded). k-means++ samples rather than ranks, so the score is the
pick order: the first pick scores b, the last 1.
"""

from __future__ import annotations

import numpy as np

from cartal.seeding import rng
from cartal.strategies.base import PoolState, QueryStrategy, Selection


class Badge(QueryStrategy):
    name = "badge"
    needs = frozenset({"hidden", "probs"})

    def score(self, state: PoolState) -> np.ndarray:
        a, h = self._factors(state)
        return (a ** 2).sum(axis=1) * (h ** 2).sum(axis=1)  # the gradient's squared norm

    @staticmethod
    def _factors(state: PoolState) -> tuple[np.ndarray, np.ndarray]:
        probs = np.asarray(state.pool_probs, dtype=np.float64)
        a = probs.copy()
        a[np.arange(len(a)), probs.argmax(axis=1)] -= 1.0
        return a, np.asarray(state.pool_hidden, dtype=np.float64)

    def select(self, state: PoolState, batch_size: int) -> Selection:
        ids = np.asarray(state.pool_ids, dtype=object)
        order = np.argsort(ids.astype(str), kind="stable")  # the draw must not depend on the pool's order
        ids = ids[order]
        a, h = self._factors(state)
        a, h = a[order], h[order]
        squared_norm = (a ** 2).sum(axis=1) * (h ** 2).sum(axis=1)
        n = min(batch_size, len(ids))
        generator = rng(state.seed, state.round, "badge")
        picks = [int(np.argmax(squared_norm))]
        nearest = np.full(len(ids), np.inf)
        for _ in range(n - 1):
            last = picks[-1]
            distance = squared_norm + squared_norm[last] - 2 * (a @ a[last]) * (h @ h[last])
            nearest = np.minimum(nearest, np.clip(distance, 0, None))
            nearest[picks] = 0.0
            total = nearest.sum()
            if total <= 0:  # every remaining gradient coincides with a pick: go on in id order
                picks.append(int(np.setdiff1d(np.arange(len(ids)), picks)[0]))
                continue
            picks.append(int(generator.choice(len(ids), p=nearest / total)))
        return Selection(ids[picks], np.arange(n, 0, -1, dtype=np.float64), self.name)
