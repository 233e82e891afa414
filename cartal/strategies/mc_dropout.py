"""Uncertainty under Monte Carlo dropout: T passes with dropout on (Gal et al., ICML 2017).

Two different scores, under two names:

- ``mc-max-entropy``: entropy of the mean probabilities. This is what the CAL
  paper's reference code runs and calls "BALD".
- ``bald``: Bayesian Active Learning by Disagreement (Houlsby et al., 2011), the
  mutual information between prediction and weights: entropy of the mean minus
  the mean entropy. High only where the passes disagree, not where every pass
  is equally unsure.
"""

from __future__ import annotations

import numpy as np

from cartal.strategies.base import PoolState, QueryStrategy
from cartal.strategies.uncertainty import entropy


class MCMaxEntropy(QueryStrategy):
    name = "mc-max-entropy"
    needs = frozenset({"mc"})

    def score(self, state: PoolState) -> np.ndarray:
        return entropy(state.pool_mc_probs.mean(axis=0))


class BALD(QueryStrategy):
    name = "bald"
    needs = frozenset({"mc"})

    def score(self, state: PoolState) -> np.ndarray:
        return entropy(state.pool_mc_probs.mean(axis=0)) - entropy(state.pool_mc_probs).mean(axis=0)
