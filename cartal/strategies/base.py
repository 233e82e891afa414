"""The query-strategy contract: score the pool, pick the b highest scores, break ties by id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from cartal.params import Params


@dataclass(frozen=True)
class PoolState:
    """Everything a strategy may look at in one round; never the pool's labels.

    Arrays about the pool follow ``pool_ids``, arrays about L follow
    ``labeled_ids``. The optional fields are filled when the strategy's
    ``needs`` names them: ``probs`` (the main model's class probabilities),
    ``hidden`` (its hidden representations h), ``map`` (L's data map),
    ``mc`` (``pool_mc_probs``: class probabilities of T passes with dropout on,
    shaped (T, pool, classes)), ``first_epoch`` (``labeled_first_epoch_hidden``:
    L's hidden layer in the first epoch's training forward passes).
    """

    round: int
    seed: int
    pool_ids: np.ndarray
    labeled_ids: np.ndarray
    labeled_targets: np.ndarray
    pool_probs: np.ndarray | None = None
    pool_hidden: np.ndarray | None = None
    labeled_hidden: np.ndarray | None = None
    data_map: pd.DataFrame | None = None
    labeled_probs: np.ndarray | None = None
    pool_mc_probs: np.ndarray | None = None
    labeled_first_epoch_hidden: np.ndarray | None = None

    def __post_init__(self):
        m, n = len(self.pool_ids), len(self.labeled_ids)
        if self.pool_mc_probs is not None and self.pool_mc_probs.shape[1] != m:
            raise ValueError(f"PoolState.pool_mc_probs covers {self.pool_mc_probs.shape[1]} instances, expected {m}")
        for name, expected in (("pool_probs", m), ("pool_hidden", m), ("labeled_hidden", n),
                               ("labeled_targets", n), ("data_map", n), ("labeled_probs", n),
                               ("labeled_first_epoch_hidden", n)):
            value = getattr(self, name)
            if value is not None and len(value) != expected:
                raise ValueError(f"PoolState.{name} has {len(value)} rows, expected {expected}")
        if self.data_map is not None and not np.array_equal(self.data_map["id"].to_numpy(), self.labeled_ids):
            raise ValueError("PoolState.data_map must list the labeled ids in the order of labeled_ids")


@dataclass(frozen=True)
class Selection:
    """The picked ids, best first, with the score that ranked them and the rule that picked them."""

    ids: np.ndarray
    scores: np.ndarray
    picked_by: str


class QueryStrategy(ABC):
    """A pool-based batch query strategy.

    Subclasses implement :meth:`score` (higher = picked first) and declare in
    ``needs`` which model outputs they read, so the select stage loads nothing
    else. :meth:`select` returns the ``batch_size`` best-scored pool ids; ties
    are broken by id in ascending string order, so a selection never depends on
    the order the pool was read in.
    """

    name: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_params(cls, params: Params) -> QueryStrategy:
        return cls()

    @abstractmethod
    def score(self, state: PoolState) -> np.ndarray:
        """One score per pool instance, in the order of ``state.pool_ids``."""

    def select(self, state: PoolState, batch_size: int) -> Selection:
        scores = np.asarray(self.score(state), dtype=np.float64)
        if scores.shape != (len(state.pool_ids),):
            raise ValueError(f"{self.name}: score() returned {scores.shape}, expected ({len(state.pool_ids)},)")
        return top_b(state.pool_ids, scores, batch_size, picked_by=self.name)


def top_b(ids: np.ndarray, scores: np.ndarray, batch_size: int, picked_by: str) -> Selection:
    """The ``batch_size`` highest scores (all of them if the pool is smaller), ties by ascending id."""
    ids = np.asarray(ids, dtype=object)
    order = np.lexsort((ids.astype(str), -scores))[:batch_size]
    return Selection(ids[order], scores[order], picked_by)
