"""Cartography Active Learning: targets, the probe's choice on a case with a known answer, the one-class fallback."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cartal import strategies
from cartal.params import params_from_dict
from cartal.strategies import PoolState
from cartal.strategies.cartography import Cartography
from cartal.testing import pool_state

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("tau, expected", [
    (0.2, [0, 0, 0, 1, 1, 1, 1]),
    (0.0, [0, 1, 1, 1, 1, 1, 1]),
    (0.6, [0, 0, 0, 1, 1, 1, 1]),
    (0.8, [0, 0, 0, 0, 0, 0, 1]),
    (1.0, [0, 0, 0, 0, 0, 0, 0]),
])
def test_targets_split_at_tau(tau, expected):
    correctness = np.array([0.0, 0.2, 0.25, 0.7, 0.8, 0.9, 1.0])
    # bins: 0, .2, .2 (1.25 rounds to 1), .8 (3.5 rounds to even 4), .8, .8 (4.5 -> 4), 1; target 0 where bin <= tau
    bins = np.array([round(c * 5) / 5 for c in correctness])
    assert Cartography(tau=tau).targets(correctness).tolist() == (bins > tau).astype(int).tolist() == expected


def boundary_case() -> PoolState:
    """Hard-to-learn instances around x=-2, the rest around x=+2; the pool's boundary points are p-mid*."""
    generator = np.random.default_rng(0)
    hard = generator.normal([-2, 0], 0.3, size=(20, 2))
    easy = generator.normal([2, 0], 0.3, size=(20, 2))
    labeled_ids = np.array([f"l{i:02d}" for i in range(40)], dtype=object)
    pool_ids = np.array(["p-far-a", "p-far-b", "p-far-c", "p-mid-a", "p-mid-b", "p-far-d"], dtype=object)
    pool_hidden = np.array([[-5, 0], [5, 0], [-5, 1], [0.05, 0], [-0.05, 0.5], [5, -1]], dtype=np.float32)
    correctness = np.r_[np.zeros(20), np.ones(20)]
    data_map = pd.DataFrame({"id": labeled_ids, "confidence": 0.5, "variability": 0.1, "correctness": correctness,
                             "correctness_bin": correctness, "region": "ambiguous"})
    return PoolState(round=0, seed=1, pool_ids=pool_ids, labeled_ids=labeled_ids,
                     labeled_targets=np.zeros(40, dtype=int), pool_hidden=pool_hidden,
                     labeled_hidden=np.r_[hard, easy].astype(np.float32), data_map=data_map)


def test_picks_the_instances_on_the_hard_to_learn_boundary():
    cal = Cartography(probe_lr=0.05, epochs=40, batch_size=8)
    selection = cal.select(boundary_case(), 2)
    assert sorted(selection.ids) == ["p-mid-a", "p-mid-b"]
    assert selection.picked_by == "cartography"
    assert np.all(selection.scores > 0.3)  # close to the 0.5 of a maximally unsure probe


def test_targets_of_the_binned_ties():
    # .1 -> 0, .3 -> .4, .5 -> .4, .7 -> .8, .9 -> .8 (Python's round); at tau = .4 only .7 and .9 are not hard
    correctness = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    assert Cartography(tau=0.4).targets(correctness).tolist() == [0, 0, 0, 1, 1]
    assert Cartography(tau=0.2).targets(correctness).tolist() == [0, 1, 1, 1, 1]


def test_boundary_scores_are_highest_in_the_middle():
    cal = Cartography(probe_lr=0.05, epochs=40, batch_size=8)
    state = boundary_case()
    scores = dict(zip(state.pool_ids, cal.score(state)))
    assert min(scores["p-mid-a"], scores["p-mid-b"]) > max(v for k, v in scores.items() if k.startswith("p-far"))
    assert all(0 <= v <= 0.5 for v in scores.values())  # 1 - max of two probabilities


def test_deterministic_per_seed():
    cal = Cartography(probe_lr=0.01, epochs=5, batch_size=8)
    first, second = cal.select(pool_state(), 10), cal.select(pool_state(), 10)
    assert first.ids.tolist() == second.ids.tolist() and np.array_equal(first.scores, second.scores)
    assert first.picked_by == "cartography"
    other = cal.select(pool_state(seed=8), 10)  # another seed: another probe initialisation and data order
    assert not np.array_equal(other.scores, first.scores)


def test_configured_from_params():
    params = params_from_dict({**yaml.safe_load((ROOT / "params.yaml").read_text()),
                               "model": {"epochs": 7, "batch_size": 4, "weight_decay": 0.0},
                               "cal": {"tau": 0.4, "probe_lr": 0.01, "probe_relu": True, "fallback": "entropy"}})
    cal = strategies.create("cal", params)
    assert isinstance(cal, Cartography)
    assert (cal.tau, cal.probe_lr, cal.probe_relu, cal.fallback) == (0.4, 0.01, True, "entropy")
    assert (cal.epochs, cal.batch_size, cal.weight_decay) == (7, 4, 0.0)


@pytest.mark.parametrize("correctness, missing", [(1.0, "hard-to-learn"), (0.0, "not-hard-to-learn")])
def test_one_binary_class_falls_back_loudly(caplog, correctness, missing):
    state = pool_state(correctness=np.full(30, correctness))
    with caplog.at_level(logging.WARNING, logger="cartal.strategies.cartography"):
        selection = Cartography(epochs=2).select(state, 8)
    expected = strategies.create("random").select(state, 8)
    assert selection.ids.tolist() == expected.ids.tolist()
    assert selection.picked_by.startswith("random (cartography fallback")
    assert f"no {missing} instance" in selection.picked_by
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "cartal.strategies.cartography"]
    assert len(warnings) == 1 and "fallback" in warnings[0].getMessage() and "random" in warnings[0].getMessage()


def test_the_fallback_can_be_another_strategy(caplog):
    state = pool_state(correctness=np.ones(30))
    with caplog.at_level(logging.WARNING, logger="cartal.strategies.cartography"):
        selection = Cartography(epochs=2, fallback="least-confidence").select(state, 5)
    expected = strategies.create("least-confidence").select(state, 5)
    assert selection.ids.tolist() == expected.ids.tolist()
    assert np.array_equal(selection.scores, expected.scores)
    assert selection.picked_by.startswith("least-confidence (cartography fallback")
    assert caplog.records


def test_no_warning_when_both_classes_are_present(caplog):
    with caplog.at_level(logging.WARNING, logger="cartal.strategies.cartography"):
        Cartography(probe_lr=0.05, epochs=3, batch_size=8).select(boundary_case(), 2)
    assert not [r for r in caplog.records if "fallback" in r.getMessage()]


def test_the_probe_can_carry_the_reference_codes_relu():
    state = boundary_case()
    plain = Cartography(probe_lr=0.05, epochs=5, batch_size=8).score(state)
    with_relu = Cartography(probe_lr=0.05, epochs=5, batch_size=8, probe_relu=True).score(state)
    assert not np.allclose(plain, with_relu)


def test_the_fallback_is_checked_and_cannot_be_cal_itself():
    from cartal.errors import UnknownStrategyError

    assert strategies.check_fallback("least-confidence").name == "least-confidence"
    with pytest.raises(UnknownStrategyError, match="cal.fallback cannot be 'cal'"):
        strategies.check_fallback("cal")
    with pytest.raises(UnknownStrategyError, match="unknown strategy 'nope'"):
        strategies.check_fallback("nope")
