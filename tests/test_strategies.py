"""The contract every registered strategy must keep, checked for each of them."""

import numpy as np
import pytest
from dataclasses import replace

from cartal import strategies
from cartal.errors import UnknownStrategyError
from cartal.params import params_from_dict, rounds_block
from cartal.strategies import top_b
from helpers import pool_state
import yaml

NAMES = [info.name for info in strategies.available()]
FAST_PARAMS = params_from_dict({"rounds": 0, "model": {"epochs": 3}, **yaml.safe_load(rounds_block(0))})


def make(name):
    return strategies.create(name, FAST_PARAMS)


@pytest.mark.parametrize("name", NAMES)
def test_returns_b_distinct_pool_ids_best_first(name):
    state = pool_state()
    selection = make(name).select(state, 7)
    assert len(selection.ids) == 7 == len(set(selection.ids))
    assert set(selection.ids) <= set(state.pool_ids)
    assert not set(selection.ids) & set(state.labeled_ids)
    assert len(selection.scores) == 7 and np.all(np.diff(selection.scores) <= 0)
    assert selection.picked_by


@pytest.mark.parametrize("name", NAMES)
def test_a_pool_of_b_or_fewer_is_taken_whole(name):
    state = pool_state(n_pool=5)
    assert sorted(make(name).select(state, 5).ids) == sorted(state.pool_ids)
    assert sorted(make(name).select(state, 9).ids) == sorted(state.pool_ids)


@pytest.mark.parametrize("name", NAMES)
def test_same_inputs_and_seed_give_the_same_batch(name):
    first, second = make(name).select(pool_state(), 10), make(name).select(pool_state(), 10)
    assert first.ids.tolist() == second.ids.tolist()
    assert np.array_equal(first.scores, second.scores)


def test_random_depends_on_seed_and_round_not_on_pool_order():
    state = pool_state()
    base = make("random").select(state, 10).ids.tolist()
    assert make("random").select(replace(state, seed=8), 10).ids.tolist() != base
    assert make("random").select(replace(state, round=1), 10).ids.tolist() != base
    shuffled = np.random.default_rng(0).permutation(len(state.pool_ids))
    reordered = replace(state, pool_ids=state.pool_ids[shuffled], pool_probs=state.pool_probs[shuffled],
                        pool_hidden=state.pool_hidden[shuffled])
    assert make("random").select(reordered, 10).ids.tolist() == base


def test_random_is_roughly_uniform():
    state = pool_state(n_pool=20)
    counts = {i: 0 for i in state.pool_ids}
    for seed in range(400):
        for i in make("random").select(replace(state, seed=seed), 5).ids:
            counts[i] += 1
    assert min(counts.values()) > 50 and max(counts.values()) < 150  # expected 100 each


def test_ties_are_broken_by_ascending_id():
    ids = np.array(["c", "a", "d", "b"], dtype=object)
    selection = top_b(ids, np.array([1.0, 1.0, 2.0, 1.0]), 3, picked_by="test")
    assert selection.ids.tolist() == ["d", "a", "b"]


def test_registry_resolves_the_alias_and_lists_known_names():
    assert strategies.resolve("cal").name == "cartography"
    with pytest.raises(UnknownStrategyError, match=r"unknown strategy 'nope'.*cartography \(alias cal\).*random"):
        strategies.resolve("nope")


def test_a_strategy_from_a_users_module_can_be_registered():
    strategies.register("first-ids", "helpers:FirstIds", "picks the smallest ids", "a test")
    try:
        state = pool_state()
        assert strategies.create("first-ids").select(state, 3).ids.tolist() == ["p000", "p001", "p002"]
    finally:
        strategies._REGISTRY.pop("first-ids")
