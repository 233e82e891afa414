"""The query-strategy contract: score the pool, pick the b highest scores, break ties by id."""

from __future__ import annotations

import dataclasses
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from cartal.errors import ParamsError
from cartal.params import Params, settings_from_dict, type_name


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
    #: the strategy's own settings, given in params.yaml's ``strategy_args``: a dataclass whose fields' types and
    #: defaults say what it takes (each value is checked as params.yaml's are, and its ``__post_init__`` may
    #: refuse one with ValueError); the instance holds them as ``self.args``. None: it takes none (the
    #: built-in strategies read their own blocks, cal, dal, mc and contrastive, in ``from_params``).
    Args: ClassVar[type | None] = None

    def __init__(self, args=None):
        if self.Args is not None:
            self.args = self.Args() if args is None else args

    @classmethod
    def from_params(cls, params: Params) -> QueryStrategy:
        args = cls.parse_args(params.strategy_args)
        return cls() if args is None else cls(args)

    @classmethod
    def parse_args(cls, raw: dict | None, source: str = "params.yaml"):
        """``Args`` built from ``raw`` (params.yaml's strategy_args), None for a strategy that takes none; a
        ParamsError names an unknown, missing, mistyped or refused key and what the strategy takes."""
        raw = raw or {}
        takes = f"strategy {getattr(cls, 'name', cls.__name__)!r} takes {describe_args(cls)}"
        if cls.Args is None:
            if raw:
                raise ParamsError(f"{source}: 'strategy_args.{sorted(raw)[0]}' is not a setting of the strategy: "
                                  f"{takes}; empty strategy_args for it (-S strategy_args=null)")
            return None
        fields = {f.name: f for f in dataclasses.fields(cls.Args)}
        unknown = sorted(set(raw) - set(fields))
        missing = [name for name, f in fields.items() if name not in raw and _required(f)]
        if unknown or missing:
            problem = "is not a setting of the strategy" if unknown else "is required"
            raise ParamsError(f"{source}: 'strategy_args.{(unknown or missing)[0]}' {problem}: {takes}")
        try:
            return settings_from_dict(cls.Args, raw, prefix="strategy_args.", source=source)
        except ParamsError as exc:
            raise ParamsError(f"{exc}: {takes}") from None
        except ValueError as exc:  # the Args' own check
            raise ParamsError(f"{source}: strategy_args: {exc}: {takes}") from None

    @abstractmethod
    def score(self, state: PoolState) -> np.ndarray:
        """One score per pool instance, in the order of ``state.pool_ids``."""

    def select(self, state: PoolState, batch_size: int) -> Selection:
        scores = np.asarray(self.score(state), dtype=np.float64)
        if scores.shape != (len(state.pool_ids),):
            raise ValueError(f"{self.name}: score() returned {scores.shape}, expected ({len(state.pool_ids)},)")
        return top_b(state.pool_ids, scores, batch_size, picked_by=self.name)


def describe_args(cls: type[QueryStrategy]) -> str:
    """What a strategy takes in strategy_args: 'power (float, default 2.0), ...', or 'no strategy_args'."""
    if cls.Args is None:
        return "no strategy_args"
    hints = typing.get_type_hints(cls.Args)
    return ", ".join(f"{f.name} ({type_name(hints[f.name])}, "
                     + ("required)" if _required(f) else f"default {_default(f)!r})")
                     for f in dataclasses.fields(cls.Args))


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _default(f: dataclasses.Field):
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def top_b(ids: np.ndarray, scores: np.ndarray, batch_size: int, picked_by: str) -> Selection:
    """The ``batch_size`` highest scores (all of them if the pool is smaller), ties by ascending id."""
    ids = np.asarray(ids, dtype=object)
    order = np.lexsort((ids.astype(str), -scores))[:batch_size]
    return Selection(ids[order], scores[order], picked_by)
