"""The query-strategy contract as checks to run on a strategy of one's own.

Every registered strategy passes them (tests/test_strategies.py runs ``check_strategy`` on each); a
strategy of yours can be checked the same way, from pytest or anywhere else::

    from cartal.testing import check_strategy
    from my_strategies import LongestHidden

    def test_longest_hidden_keeps_the_contract():
        check_strategy(LongestHidden, args={"power": 3})

A broken rule raises AssertionError naming it; strategy_args the strategy refuses raise ParamsError, as
check-params would. ``pool_state`` is the state the checks use: every optional field filled, L holding
both hard-to-learn and easy instances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from cartal import strategies
from cartal.params import Params, params_from_dict
from cartal.strategies import PoolState, QueryStrategy

#: the params a checked strategy is built from unless told otherwise: the defaults, with 3 epochs so that
#: the strategies that train a probe (cartography, dal) train it quickly
FAST_PARAMS = params_from_dict({"rounds": 0, "model": {"epochs": 3}})

#: the PoolState fields that each name in ``QueryStrategy.needs`` fills (what the select stage loads)
NEEDED_FIELDS = {
    "probs": ("pool_probs", "labeled_probs"),
    "hidden": ("pool_hidden", "labeled_hidden"),
    "map": ("data_map",),
    "mc": ("pool_mc_probs",),
    "first_epoch": ("labeled_first_epoch_hidden",),
}


def pool_state(n_labeled: int = 30, n_pool: int = 40, classes: int = 3, dim: int = 8, seed: int = 7,
               round: int = 0, correctness: np.ndarray | None = None) -> PoolState:
    """A PoolState with every optional field filled; L holds hard and easy instances unless told otherwise."""
    generator = np.random.default_rng(123)
    labeled_ids = np.array([f"l{i:03d}" for i in range(n_labeled)], dtype=object)
    pool_ids = np.array([f"p{i:03d}" for i in range(n_pool)], dtype=object)
    logits = generator.normal(size=(n_pool, classes))
    probs = _softmax(logits)
    mc_probs = _softmax(logits[None] + generator.normal(scale=0.5, size=(5, n_pool, classes)))
    if correctness is None:
        correctness = np.linspace(0, 1, n_labeled)
    data_map = pd.DataFrame({
        "id": labeled_ids, "confidence": generator.random(n_labeled), "variability": generator.random(n_labeled) / 3,
        "correctness": correctness, "correctness_bin": np.round(np.asarray(correctness) * 5) / 5,
        "region": ["easy-to-learn"] * n_labeled,
    })
    return PoolState(
        round=round, seed=seed, pool_ids=pool_ids, labeled_ids=labeled_ids,
        labeled_targets=generator.integers(0, classes, n_labeled),
        pool_probs=probs.astype(np.float32),
        pool_hidden=generator.normal(size=(n_pool, dim)).astype(np.float32),
        labeled_hidden=generator.normal(size=(n_labeled, dim)).astype(np.float32),
        labeled_first_epoch_hidden=generator.normal(size=(n_labeled, dim)).astype(np.float32),
        data_map=data_map,
        labeled_probs=_softmax(generator.normal(size=(n_labeled, classes))).astype(np.float32),
        pool_mc_probs=mc_probs.astype(np.float32),
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def factory(strategy: str | type[QueryStrategy], args: dict | None = None,
            params: Params | None = None) -> Callable[[], QueryStrategy]:
    """A function that builds a fresh ``strategy`` (a QueryStrategy subclass, "module:Class" or a registered
    name) the way the select stage does, from ``params`` (default FAST_PARAMS) with ``args`` as their
    strategy_args; the args are checked first (ParamsError, as in check-params)."""
    cls = strategy if isinstance(strategy, type) else strategies.resolve(strategy).load()
    if not (isinstance(cls, type) and issubclass(cls, QueryStrategy)):
        raise TypeError(f"{strategy!r} is not a subclass of cartal.strategies.QueryStrategy")
    params = params or FAST_PARAMS
    if args is not None:
        params = dataclasses.replace(params, strategy_args=dict(args))
    cls.parse_args(params.strategy_args)
    return lambda: cls.from_params(params)


def check_strategy(strategy: str | type[QueryStrategy], args: dict | None = None, params: Params | None = None,
                   ranked: bool = True) -> None:
    """Every rule of the contract, on ``strategy`` built as :func:`factory` builds it.

    ``ranked``: the selection's scores are those score() gives the picked ids, and no id left out scores
    higher; pass False for a strategy that picks greedily or samples (coreset, badge)."""
    make = factory(strategy, args, params)
    for check in CHECKS:
        check(make)
    if ranked:
        check_scores_are_the_strategys_scores(make)


def check_b_distinct_pool_ids_best_first(make: Callable[[], QueryStrategy]) -> None:
    state = pool_state()
    strategy = make()
    selection = strategy.select(state, 7)
    ids = list(selection.ids)
    _expect(len(ids) == 7 == len(set(ids)), strategy, f"picked {len(ids)} ids ({len(set(ids))} distinct), not 7")
    _expect(set(ids) <= set(state.pool_ids), strategy, "picked ids that are not in the pool")
    _expect(not set(ids) & set(state.labeled_ids), strategy, "picked labeled ids")
    scores = np.asarray(selection.scores, dtype=np.float64)
    _expect(scores.shape == (7,) and bool(np.all(np.diff(scores) <= 0)), strategy,
            "the scores beside the picked ids are not one per id, best (highest) first")
    _expect(bool(selection.picked_by), strategy, "the selection does not say what picked it (picked_by)")


def check_a_small_pool_is_taken_whole(make: Callable[[], QueryStrategy]) -> None:
    state = pool_state(n_pool=5)
    for batch_size in (5, 9):
        strategy = make()
        _expect(sorted(strategy.select(state, batch_size).ids) == sorted(state.pool_ids), strategy,
                f"a pool of 5 with batch_size {batch_size} is not taken whole")


def check_the_same_inputs_give_the_same_batch(make: Callable[[], QueryStrategy]) -> None:
    first, second = make().select(pool_state(), 10), make().select(pool_state(), 10)
    _expect(first.ids.tolist() == second.ids.tolist() and np.array_equal(first.scores, second.scores), make(),
            "the same inputs and seed gave another batch or other scores")


def check_picked_by_names_the_strategy(make: Callable[[], QueryStrategy]) -> None:
    strategy = make()
    picked_by = strategy.select(pool_state(), 7).picked_by
    _expect(picked_by == strategy.name, strategy, f"picked_by is {picked_by!r}, not the strategy's name")


def check_the_pool_order_does_not_matter(make: Callable[[], QueryStrategy]) -> None:
    state = pool_state()
    shuffled = np.random.default_rng(1).permutation(len(state.pool_ids))
    first, second = make().select(state, 7), make().select(reorder_pool(state, shuffled), 7)
    _expect(second.ids.tolist() == first.ids.tolist()
            and np.allclose(second.scores, first.scores, rtol=1e-6, atol=1e-9), make(),
            "the order the pool is given in changed the batch or its scores")


def check_it_reads_only_what_it_needs(make: Callable[[], QueryStrategy]) -> None:
    """The select stage loads only the fields ``needs`` names: the strategy must work with the others None."""
    strategy = make()
    wanted = {name for need in strategy.needs for name in NEEDED_FIELDS.get(need, ())}
    unknown = set(strategy.needs) - set(NEEDED_FIELDS)
    _expect(not unknown, strategy, f"needs names {', '.join(sorted(unknown))}; known: {', '.join(NEEDED_FIELDS)}")
    bare = dataclasses.replace(pool_state(), **{name: None for field in NEEDED_FIELDS.values() for name in field
                                                if name not in wanted})
    try:
        selection = strategy.select(bare, 7)
    except Exception as exc:
        raise AssertionError(f"strategy {strategy.name!r}: fails ({type(exc).__name__}: {exc}) with only the "
                             f"inputs its needs ({', '.join(sorted(strategy.needs)) or 'none'}) name") from exc
    _expect(len(selection.ids) == 7, strategy, "picked another number of ids with only what it needs")


def check_scores_are_the_strategys_scores(make: Callable[[], QueryStrategy]) -> None:
    state = pool_state()
    strategy = make()
    selection = strategy.select(state, 7)
    position = {i: n for n, i in enumerate(state.pool_ids)}
    picked = [position[i] for i in selection.ids]
    scores = np.asarray(strategy.score(state), dtype=np.float64)
    _expect(np.allclose(selection.scores, scores[picked], rtol=1e-6, atol=1e-12), strategy,
            "the scores beside the picked ids are not what score() gives them")
    _expect(selection.scores[-1] >= np.delete(scores, picked).max(), strategy,
            "an id left out scores higher than one picked")


def reorder_pool(state: PoolState, order: np.ndarray) -> PoolState:
    """``state`` with its pool in another order: the ids and every array about the pool."""
    changes = {name: getattr(state, name)[order] for name in ("pool_ids", "pool_probs", "pool_hidden")
               if getattr(state, name) is not None}
    if state.pool_mc_probs is not None:
        changes["pool_mc_probs"] = state.pool_mc_probs[:, order]
    return dataclasses.replace(state, **changes)


def _expect(condition: bool, strategy: QueryStrategy, problem: str) -> None:
    if not condition:
        raise AssertionError(f"strategy {getattr(strategy, 'name', type(strategy).__name__)!r}: {problem}")


#: the checks every strategy passes; ``check_scores_are_the_strategys_scores`` too unless it picks greedily
CHECKS = (check_b_distinct_pool_ids_best_first, check_a_small_pool_is_taken_whole,
          check_the_same_inputs_give_the_same_batch, check_picked_by_names_the_strategy,
          check_the_pool_order_does_not_matter, check_it_reads_only_what_it_needs)
