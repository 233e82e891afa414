"""Cartography Active Learning (Zhang and Plank, Findings of EMNLP 2021).

Not Contrastive Active Learning (Margatina et al., 2021), which other libraries
also call "CAL". Here CAL:

1. bins each labeled instance's correctness to the nearest 0.2;
2. labels it 0 ("hard-to-learn") when the binned correctness is <= tau, else 1;
3. trains a linear probe on the main model's hidden representations of L with
   those targets (AdamW, the main model's epochs and batch size); by default
   those of the trained model, with ``probe_features="first-epoch"`` those of
   the first epoch's training forward passes, as the reference code does
   since its 2022 update;
4. scores each pool instance by 1 - the probe's maximum class probability and
   picks the highest scores: the instances on the boundary between
   hard-to-learn and the rest.

When L holds only one of the two binary classes the probe has nothing to
separate (the reference code crashes there); we log a warning and let the
``fallback`` strategy pick the batch, recording that in ``picked_by``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from cartal.dynamics import bin_correctness
from cartal.params import PROBE_FEATURES, Params
from cartal.seeding import derive_seed
from cartal.strategies.base import PoolState, QueryStrategy, Selection

log = logging.getLogger(__name__)


class Cartography(QueryStrategy):
    name = "cartography"
    needs = frozenset({"hidden", "map"})

    def __init__(self, tau: float = 0.2, probe_lr: float = 5e-5, probe_relu: bool = False,
                 epochs: int = 30, batch_size: int = 16, weight_decay: float = 0.01, fallback: str = "random",
                 probe_features: str = "last"):
        self.tau, self.probe_lr, self.probe_relu = tau, probe_lr, probe_relu
        self.epochs, self.batch_size, self.weight_decay = epochs, batch_size, weight_decay
        self.fallback = fallback
        if probe_features not in PROBE_FEATURES:
            raise ValueError(f"probe_features must be one of {', '.join(PROBE_FEATURES)}, got {probe_features!r}")
        self.probe_features = probe_features
        if probe_features == "first-epoch":  # the probe learns L's hidden layer of the first epoch's training passes
            self.needs = type(self).needs | {"first_epoch"}

    @classmethod
    def from_params(cls, params: Params) -> Cartography:
        return cls(tau=params.cal.tau, probe_lr=params.cal.probe_lr, probe_relu=params.cal.probe_relu,
                   epochs=params.model.epochs, batch_size=params.model.batch_size,
                   weight_decay=params.model.weight_decay, fallback=params.cal.fallback,
                   probe_features=params.cal.probe_features)

    def targets(self, correctness: np.ndarray) -> np.ndarray:
        """0 = hard-to-learn (binned correctness <= tau), 1 = the rest."""
        return (bin_correctness(correctness) > self.tau).astype(np.int64)

    def select(self, state: PoolState, batch_size: int) -> Selection:
        targets = self.targets(state.data_map["correctness"].to_numpy())
        if len(np.unique(targets)) < 2:
            missing = "hard-to-learn" if targets.all() else "not-hard-to-learn"
            reason = f"cartography fallback: L holds no {missing} instance at tau={self.tau}"
            log.warning("round %d: %s; %s picks this batch", state.round, reason, self.fallback)
            from cartal.strategies import check_fallback

            chosen = check_fallback(self.fallback).load()().select(state, batch_size)
            return replace(chosen, picked_by=f"{chosen.picked_by} ({reason})")
        return super().select(state, batch_size)

    def score(self, state: PoolState) -> np.ndarray:
        from cartal.models.mlp import linear_probe, seeded
        from cartal.models.training import fit, predict_proba

        targets = self.targets(state.data_map["correctness"].to_numpy())
        learned = state.labeled_first_epoch_hidden if self.probe_features == "first-epoch" else state.labeled_hidden
        if learned is None:
            raise ValueError(f"cartography with probe_features={self.probe_features} needs its hidden layer of L "
                             "in the PoolState")
        probe = seeded(lambda: linear_probe(learned.shape[1], self.probe_relu),
                       state.seed, state.round, "cal-probe")
        fit(probe, learned, targets, epochs=self.epochs, batch_size=self.batch_size,
            lr=self.probe_lr, weight_decay=self.weight_decay, seed=derive_seed(state.seed, state.round, "cal-probe"))
        return 1.0 - predict_proba(probe, state.pool_hidden).max(axis=1)
