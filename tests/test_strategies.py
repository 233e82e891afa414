"""The contract every registered strategy must keep, checked for each of them with cartal.testing, the checks a
user runs on a strategy of their own; strategy_args, a strategy's own settings."""

from dataclasses import replace

import numpy as np
import pytest

from cartal import strategies
from cartal.errors import ParamsError, UnknownStrategyError
from cartal.params import params_from_dict
from cartal.strategies import QueryStrategy, Selection, top_b
from cartal.strategies.cartography import Cartography
from cartal.testing import FAST_PARAMS, check_strategy, pool_state, reorder_pool

NAMES = [info.name for info in strategies.available()]


def make(name):
    return strategies.create(name, FAST_PARAMS)


GREEDY = ("coreset", "badge")  # they score their picks greedily or sample (documented): not score()'s top b


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_strategy_keeps_the_contract(name):
    # the same checks a user runs on a strategy of their own (cartal.testing)
    check_strategy(name, params=FAST_PARAMS, ranked=name not in GREEDY)


def test_the_contract_state_holds_hard_and_easy_instances():
    # the shared state must exercise CAL's probe, not its one-class fallback
    state = pool_state()
    assert np.array_equal(state.data_map["id"].to_numpy(), state.labeled_ids)
    assert set(state.data_map["correctness_bin"]) >= {0.0, 1.0}


@pytest.mark.parametrize("broken, rule", [
    ("Repeats", "picked 7 ids \\(1 distinct\\), not 7"),
    ("ReadsProbs", "fails \\(TypeError: .*\\) with only the inputs its needs \\(hidden\\) name"),
    ("DependsOnOrder", "the order the pool is given in changed the batch"),
])
def test_the_contract_checks_catch_a_broken_strategy(broken, rule):
    with pytest.raises(AssertionError, match=rule):
        check_strategy(getattr(BrokenStrategies, broken))


class BrokenStrategies:
    class Repeats(QueryStrategy):
        name = "repeats"

        def score(self, state):
            return np.zeros(len(state.pool_ids))

        def select(self, state, batch_size):
            return Selection(np.array([state.pool_ids[0]] * batch_size, dtype=object), np.zeros(batch_size), self.name)

    class ReadsProbs(QueryStrategy):
        name = "reads-probs"
        needs = frozenset({"hidden"})  # but it reads probs

        def score(self, state):
            return state.pool_hidden[:, 0] + state.pool_probs[:, 0]

    class DependsOnOrder(QueryStrategy):
        name = "depends-on-order"

        def score(self, state):
            return -np.arange(len(state.pool_ids), dtype=float)  # the first ids given win


def test_random_depends_on_seed_and_round_not_on_pool_order():
    state = pool_state()
    base = make("random").select(state, 10).ids.tolist()
    assert make("random").select(replace(state, seed=8), 10).ids.tolist() != base
    assert make("random").select(replace(state, round=1), 10).ids.tolist() != base
    shuffled = np.random.default_rng(0).permutation(len(state.pool_ids))
    assert make("random").select(reorder_pool(state, shuffled), 10).ids.tolist() == base
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
        strategies.resolve("helpers:toy")


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


def user_params(**args):
    return params_from_dict({"rounds": 0, "strategy": "helpers:PowerOfHidden", "strategy_args": args})


def test_a_users_strategy_with_settings_of_its_own_keeps_the_contract():
    check_strategy("helpers:PowerOfHidden")
    check_strategy("helpers:PowerOfHidden", args={"power": 3, "smallest": True})


def test_a_users_strategy_takes_its_settings_from_strategy_args():
    from helpers import PowerOfHidden

    params = user_params(power=1, smallest=True)
    assert strategies.check_args(params) == PowerOfHidden.Args(power=1.0, smallest=True)
    state = pool_state()
    norms = np.linalg.norm(state.pool_hidden.astype(np.float64), axis=1)
    smallest = strategies.create(params.strategy, params).select(state, 3)
    assert smallest.ids.tolist() == state.pool_ids[np.argsort(norms)[:3]].tolist()
    assert smallest.scores == pytest.approx(-np.sort(norms)[:3])
    largest = strategies.create(params.strategy, user_params()).select(state, 3)  # the defaults: power 2, largest
    assert largest.ids.tolist() == state.pool_ids[np.argsort(-norms)[:3]].tolist()
    assert largest.scores == pytest.approx(np.sort(norms)[::-1][:3] ** 2)
    assert strategies.create(params.strategy).args == PowerOfHidden.Args()  # without params: the defaults
    assert strategies.check_args(params_from_dict({"strategy": "random"})) is None  # takes none, none given


TAKES = r"strategy 'power-of-hidden' takes power \(float, default 2.0\), smallest \(bool, default False\)"


@pytest.mark.parametrize("args, message", [
    ({"pwr": 3}, r"^params.yaml: 'strategy_args.pwr' is not a setting of the strategy: " + TAKES + "$"),
    ({"power": "big"}, r"^params.yaml: 'strategy_args.power' must be float, got 'big': " + TAKES + "$"),
    ({"smallest": 1}, r"'strategy_args.smallest' must be bool, got 1: " + TAKES),
    ({"power": -1}, r"^params.yaml: strategy_args: power must be positive, got -1.0: " + TAKES + "$"),
    ({"power": float("nan")}, r"'strategy_args.power' must be a finite number, got nan"),
])
def test_a_setting_the_strategy_does_not_take_is_refused_naming_the_key_and_what_it_takes(args, message):
    params = user_params(**args)
    with pytest.raises(ParamsError, match=message):
        strategies.check_args(params)
    with pytest.raises(ParamsError, match=message):
        strategies.create(params.strategy, params)
    with pytest.raises(ParamsError, match=message):
        check_strategy("helpers:PowerOfHidden", args=args)


def test_strategy_args_for_a_strategy_that_takes_none_are_refused(tmp_path, monkeypatch):
    from stages import check_params

    params = params_from_dict({"strategy": "random", "strategy_args": {"power": 3}})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError, match=r"^params.yaml: 'strategy_args.power' is not a setting of the strategy: "
                                          r"strategy 'random' takes no strategy_args; empty strategy_args for it "
                                          r"\(-S strategy_args=null\)$"):
        check_params.run(params)  # check-params refuses them before any other stage runs
    assert not any(tmp_path.iterdir())
    with pytest.raises(ParamsError, match=r"'strategy_args' must be a mapping of names to values, got 3"):
        params_from_dict({"strategy_args": 3})
    assert params_from_dict({"strategy_args": None}).strategy_args == {}  # empty (null) in params.yaml: none
