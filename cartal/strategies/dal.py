"""Discriminative Active Learning (Gissin and Shalev-Shwartz, 2019).

A linear probe on the main model's hidden representations learns to tell the
labeled set (1) from the pool (0), with the loss weighted against the pool's
size; the pool instances it is least sure belong to L are the ones L does not
yet represent. Score = 1 - P(labeled), in evaluation mode. (The reference CAL
code reads these probabilities off the probe's last training pass instead.)
"""

from __future__ import annotations

import numpy as np

from cartal.params import Params
from cartal.seeding import derive_seed
from cartal.strategies.base import PoolState, QueryStrategy


class DiscriminativeAL(QueryStrategy):
    name = "dal"
    needs = frozenset({"hidden"})

    def __init__(self, lr: float = 1e-4, epochs: int = 30, batch_size: int = 16, weight_decay: float = 0.01):
        self.lr, self.epochs, self.batch_size, self.weight_decay = lr, epochs, batch_size, weight_decay

    @classmethod
    def from_params(cls, params: Params) -> DiscriminativeAL:
        return cls(lr=params.dal.lr, epochs=params.dal.epochs or params.model.epochs,
                   batch_size=params.dal.batch_size or params.model.batch_size,
                   weight_decay=params.model.weight_decay)

    def score(self, state: PoolState) -> np.ndarray:
        from cartal.models.mlp import linear_probe, seeded
        from cartal.models.training import fit, predict_proba

        # Train in id order: mini-batch order follows row order, and the pool's reading order must not matter.
        order = np.argsort(np.asarray(state.pool_ids, dtype=str), kind="stable")
        features = np.concatenate([state.labeled_hidden, state.pool_hidden[order]])
        targets = np.r_[np.ones(len(state.labeled_hidden), np.int64), np.zeros(len(state.pool_hidden), np.int64)]
        counts = np.bincount(targets, minlength=2).astype(np.float64)
        weights = len(targets) / (2 * np.maximum(counts, 1))  # balanced: each side weighs the same in the loss
        probe = seeded(lambda: linear_probe(features.shape[1]), state.seed, state.round, "dal-probe")
        fit(probe, features, targets, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, class_weights=weights,
            seed=derive_seed(state.seed, state.round, "dal-probe"))
        return 1.0 - predict_proba(probe, state.pool_hidden)[:, 1]
