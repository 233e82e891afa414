"""The contract every registered strategy must keep, checked for each of them."""

from dataclasses import replace

import numpy as np
import pytest

from cartal import strategies
from cartal.errors import UnknownStrategyError
from cartal.params import params_from_dict
from cartal.strategies import top_b
from cartal.strategies.cartography import Cartography
from helpers import pool_state

NAMES = [info.name for info in strategies.available()]
FAST_PARAMS = params_from_dict({"rounds": 0, "model": {"epochs": 3}})


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


@pytest.mark.parametrize("name", NAMES)
def test_the_contract_state_holds_hard_and_easy_instances(name):
    # the shared state must exercise CAL's probe, not its one-class fallback
    state = pool_state()
    assert np.array_equal(state.data_map["id"].to_numpy(), state.labeled_ids)
    assert set(state.data_map["correctness_bin"]) >= {0.0, 1.0}
    assert make(name).select(state, 7).picked_by == strategies.resolve(name).load().name


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("coreset", "badge")])
def test_scores_beside_the_ids_are_the_strategys_scores(name):
    # coreset and badge score their picks greedily (documented); the others rank score() with top_b
    state = pool_state()
    strategy = make(name)
    selection = strategy.select(state, 7)
    position = {i: n for n, i in enumerate(state.pool_ids)}
    scores = np.asarray(strategy.score(state), dtype=np.float64)
    assert selection.scores == pytest.approx(scores[[position[i] for i in selection.ids]])
    assert selection.scores[-1] >= np.delete(scores, [position[i] for i in selection.ids]).max()


@pytest.mark.parametrize("name", NAMES)
def test_the_order_the_pool_is_given_in_does_not_matter(name):
    # QueryStrategy's contract: a selection never depends on the order the pool was read in
    state = pool_state()
    shuffled = np.random.default_rng(1).permutation(len(state.pool_ids))
    reordered = replace(state, pool_ids=state.pool_ids[shuffled], pool_probs=state.pool_probs[shuffled],
                        pool_hidden=state.pool_hidden[shuffled], pool_mc_probs=state.pool_mc_probs[:, shuffled])
    first, second = make(name).select(state, 7), make(name).select(reordered, 7)
    assert second.ids.tolist() == first.ids.tolist()
    assert second.scores == pytest.approx(first.scores, abs=1e-9)


def test_random_depends_on_seed_and_round_not_on_pool_order():
    state = pool_state()
    base = make("random").select(state, 10).ids.tolist()
    assert make("random").select(replace(state, seed=8), 10).ids.tolist() != base
    assert make("random").select(replace(state, round=1), 10).ids.tolist() != base
    shuffled = np.random.default_rng(0).permutation(len(state.pool_ids))
    reordered = replace(state, pool_ids=state.pool_ids[shuffled], pool_probs=state.pool_probs[shuffled],
                        pool_hidden=state.pool_hidden[shuffled])
    assert make("random").select(reordered, 10).ids.tolist() == base
    # different seeds: different batches (over several seeds, not one lucky pair)
    batches = {tuple(make("random").select(replace(state, seed=seed), 10).ids) for seed in range(10)}
    assert len(batches) == 10


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
    assert selection.scores.tolist() == [2.0, 1.0, 1.0] and selection.picked_by == "test"
    # whatever order the tied ids come in
    for order in ([3, 2, 1, 0], [1, 3, 0, 2]):
        again = top_b(ids[order], np.array([1.0, 1.0, 2.0, 1.0])[order], 3, picked_by="test")
        assert again.ids.tolist() == ["d", "a", "b"]
    # string order, not natural order: "p10" < "p9"
    assert top_b(np.array(["p9", "p10"], dtype=object), np.zeros(2), 1, "t").ids.tolist() == ["p10"]
    # a batch bigger than the pool: everything, best first
    assert top_b(ids, np.array([0.1, 0.4, 0.3, 0.2]), 10, "t").ids.tolist() == ["a", "d", "b", "c"]


def test_registry_resolves_the_alias_and_lists_known_names():
    assert strategies.resolve("cal") == strategies.resolve("cartography")
    assert strategies.resolve("cal").name == "cartography"
    assert strategies.resolve("cal").load() is Cartography
    assert isinstance(strategies.create("cal", FAST_PARAMS), Cartography)
    with pytest.raises(UnknownStrategyError, match=r"unknown strategy 'nope'.*cartography \(alias cal\).*random"):
        strategies.resolve("nope")
    with pytest.raises(UnknownStrategyError) as info:
        strategies.create("nope", FAST_PARAMS)
    for name in NAMES:
        assert name in str(info.value)


def test_every_registered_strategy_loads_and_names_itself():
    assert {"random", "cartography", "entropy", "least-confidence", "dal", "mc-max-entropy", "bald"} <= set(NAMES)
    for info in strategies.available():
        cls = info.load()
        assert issubclass(cls, strategies.QueryStrategy) and cls.name == info.name


def test_a_strategy_from_a_users_module_can_be_registered():
    strategies.register("first-ids", "helpers:FirstIds", "picks the smallest ids", "a test")
    try:
        state = pool_state()
        assert strategies.create("first-ids").select(state, 3).ids.tolist() == ["p000", "p001", "p002"]
    finally:
        strategies._REGISTRY.pop("first-ids")


def probs_state(probs, hidden=None, labeled_hidden=None) -> "strategies.PoolState":
    probs = np.asarray(probs, dtype=np.float32)
    ids = np.array([f"p{i}" for i in range(len(probs))], dtype=object)
    labeled_hidden = np.zeros((1, 1), np.float32) if labeled_hidden is None else np.asarray(labeled_hidden, np.float32)
    return strategies.PoolState(
        round=0, seed=0, pool_ids=ids,
        labeled_ids=np.array([f"l{i}" for i in range(len(labeled_hidden))], dtype=object),
        labeled_targets=np.zeros(len(labeled_hidden), dtype=int), pool_probs=probs,
        pool_hidden=np.zeros((len(probs), 1), np.float32) if hidden is None else np.asarray(hidden, np.float32),
        labeled_hidden=labeled_hidden)


@pytest.mark.parametrize("name", ["entropy", "least-confidence", "margin"])
def test_uncertainty_picks_the_one_uncertain_instance(name):
    state = probs_state([[0.98, 0.01, 0.01], [0.34, 0.33, 0.33], [0.01, 0.97, 0.02], [0.9, 0.05, 0.05]])
    assert make(name).select(state, 1).ids.tolist() == ["p1"]


def test_margin_least_confidence_and_entropy_disagree_where_they_should():
    # p0: a tie between two classes (margin 0, max .5, entropy ln 2 = .693)
    # p1: spread over three classes (margin .1, max .4, entropy 1.089)
    state = probs_state([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3]])
    assert make("margin").select(state, 1).ids.tolist() == ["p0"]
    assert make("least-confidence").select(state, 1).ids.tolist() == ["p1"]
    assert make("entropy").select(state, 1).ids.tolist() == ["p1"]
    assert make("entropy").select(state, 2).scores == pytest.approx([1.0889, np.log(2)], abs=1e-3)


def test_coreset_covers_the_space_greedily():
    # L sits at 0; pool at 1, 2, 10 and 6. First the farthest: 10 (distance 10). Then 6, whose nearest
    # center is now 10 (distance 4), beats 2 (distance 2 to L); then 2 (distance 2) beats 1 (distance 1).
    hidden = [[1.0], [2.0], [10.0], [6.0]]
    state = probs_state(np.full((4, 2), 0.5), hidden=hidden, labeled_hidden=[[0.0]])
    selection = make("coreset").select(state, 3)
    assert selection.ids.tolist() == ["p2", "p3", "p1"]
    assert selection.scores == pytest.approx([10.0, 4.0, 2.0])


def test_dal_picks_the_pool_region_that_l_does_not_cover():
    # L and most of the pool lie around x=-2; two pool points sit alone around x=+3
    generator = np.random.default_rng(0)
    labeled_hidden = generator.normal([-2, 0], 0.3, size=(30, 2))
    pool_hidden = np.r_[generator.normal([-2, 0], 0.3, size=(20, 2)), [[3.0, 0.0], [3.2, 0.3]]]
    state = probs_state(np.full((22, 2), 0.5), hidden=pool_hidden, labeled_hidden=labeled_hidden)
    dal = strategies.create("dal")
    dal.lr, dal.epochs, dal.batch_size = 0.05, 40, 8
    assert sorted(dal.select(state, 2).ids) == ["p20", "p21"]


def test_a_users_class_is_selectable_by_import_path():
    state = pool_state()
    assert strategies.create("helpers:FirstIds").select(state, 2).ids.tolist() == ["p000", "p001"]
    with pytest.raises(UnknownStrategyError, match="could not be imported"):
        strategies.resolve("helpers:Missing")
    with pytest.raises(UnknownStrategyError, match="not a subclass"):
        strategies.resolve("helpers:pool_state")


def test_bald_and_mc_max_entropy_are_different_scores():
    # p0: every pass equally unsure (high entropy, no disagreement); p1: confident passes that disagree
    unsure = np.array([[0.5, 0.5]] * 4)
    disagree = np.array([[0.95, 0.05], [0.05, 0.95]] * 2)
    state = replace(probs_state([[0.5, 0.5], [0.5, 0.5]]), pool_mc_probs=np.stack([unsure, disagree], axis=1))
    # mean of both is (.5, .5): the same max entropy ln 2, but only p1 carries mutual information
    assert make("mc-max-entropy").score(state) == pytest.approx([np.log(2), np.log(2)])
    bald = make("bald").score(state)
    assert bald[0] == pytest.approx(0, abs=1e-9) and bald[1] > 0.4
    assert make("bald").select(state, 1).ids.tolist() == ["p1"]


def test_mc_dropout_passes_are_seeded_and_differ_from_each_other():
    import torch

    from cartal.models.mlp import MLPClassifier
    from cartal.models.training import mc_dropout_proba

    torch.manual_seed(0)
    model = MLPClassifier(8, 3, dropout=0.3)
    x = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    first, again = mc_dropout_proba(model, x, 6, seed=1), mc_dropout_proba(model, x, 6, seed=1)
    assert first.shape == (6, 20, 3) and np.array_equal(first, again)
    assert not np.allclose(first[0], first[1])  # dropout is on
    assert not model.training  # left in evaluation mode


def test_contrastive_picks_the_prediction_that_contradicts_its_neighbour():
    labeled_hidden, labeled_probs = [[0.0], [10.0]], [[0.9, 0.1], [0.1, 0.9]]
    state = replace(
        probs_state([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8]], hidden=[[0.2], [9.8], [0.3]], labeled_hidden=labeled_hidden),
        labeled_probs=np.array(labeled_probs, np.float32))
    contrastive = strategies.create("contrastive")
    contrastive.neighbours = 1
    scores = contrastive.score(state)
    # p2's neighbour is l0: KL((.9,.1) || (.2,.8)) = .9 ln(.9/.2) + .1 ln(.1/.8)
    assert scores[2] == pytest.approx(0.9 * np.log(4.5) + 0.1 * np.log(0.125), rel=1e-5)
    assert scores[0] == pytest.approx(0, abs=1e-6) and scores[1] == pytest.approx(0, abs=1e-6)
    assert contrastive.select(state, 1).ids.tolist() == ["p2"]


def test_badge_starts_at_the_largest_gradient_and_never_repeats_a_direction():
    probs = [[0.5, 0.5], [0.5, 0.5], [0.7, 0.3], [0.99, 0.01]]
    hidden = [[3.0, 0.0], [3.0, 0.0], [0.0, 2.0], [1.0, 1.0]]
    state = probs_state(probs, hidden=hidden)
    for seed in range(20):
        selection = make("badge").select(replace(state, seed=seed), 2)
        assert selection.ids[0] == "p0"  # largest gradient norm; p1 ties and loses on id
        assert selection.ids[1] != "p1"  # a copy of p0 is at distance 0: never drawn
    assert make("badge").select(state, 4).scores.tolist() == [4, 3, 2, 1]
