"""cartal.stopping against small-text's own stopping criteria (small_text.stopping_criteria), round by round on
the same predictions: a model whose predictions settle over the rounds while the pool shrinks by one batch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy
from sklearn.metrics import cohen_kappa_score

from cartal import stopping
from cartal.params import StoppingParams

small_text = pytest.importorskip("small_text.stopping_criteria")

CLASSES, TRAIN, BATCH, ROUNDS = 6, 500, 20, 8


def settling_rounds():
    """Per round: probabilities of every train instance and the ids of the pool; the noise on the logits
    shrinks round by round, so that the predictions change a lot at first and then hardly at all."""
    gen = np.random.default_rng(7)
    logits = gen.normal(size=(TRAIN, CLASSES)) * 3
    pool = np.arange(TRAIN)
    for k in range(ROUNDS + 1):
        noisy = logits + gen.normal(size=logits.shape) * 2.0 / (1 + k) ** 3
        probs = np.exp(noisy) / np.exp(noisy).sum(axis=1, keepdims=True)
        yield probs, pool.copy()
        pool = pool[BATCH:]


def cartal_rounds(params: StoppingParams, stop_ids: np.ndarray):
    """What evaluate@k computes in each round, chained the way the stage chains it."""
    results, before, kappas = [], None, []
    for _k, (probs, pool) in enumerate(settling_rounds()):
        predicted = probs.argmax(axis=1)
        result = stopping.criteria(
            params, CLASSES, pool_probs=probs[pool], stop_now=predicted[stop_ids],
            stop_before=None if before is None else before[stop_ids], kappas_before=kappas,
            pool_now=predicted[pool], pool_before=None if before is None else before[pool])
        kappas = result["stabilising_predictions"]["kappas"]
        results.append(result)
        before = predicted
    return results


def test_kappa_average_matches_small_text_round_by_round():
    params = StoppingParams(window=3, kappa=0.99)
    stop_ids = np.sort(np.random.default_rng(1).choice(TRAIN, 300, replace=False))
    ours = cartal_rounds(params, stop_ids)
    theirs = small_text.KappaAverage(CLASSES, window_size=3, kappa=0.99)
    decisions = []
    for k, (probs, _) in enumerate(settling_rounds()):
        decisions.append(theirs.stop(predictions=probs.argmax(axis=1)[stop_ids]))
        stable = ours[k]["stabilising_predictions"]
        assert stable["kappas"] == pytest.approx(theirs.kappa_history[-3:], abs=1e-12)
        assert stable["stop"] == decisions[-1]
    assert decisions[:3] == [False] * 3 and True in decisions and False in decisions[3:]  # both answers occur
    kappas = [r["stabilising_predictions"]["kappas"][-1] for r in ours[1:]]
    assert min(kappas) < 0.9 < 0.99 < max(kappas)


def test_overall_uncertainty_and_classification_change_match_small_text():
    ours = cartal_rounds(StoppingParams(), np.arange(TRAIN))
    before = None
    for k, (probs, pool) in enumerate(settling_rounds()):
        value = ours[k]["overall_uncertainty"]["value"]
        # small-text says stop exactly when its value is below the threshold: these two pin its value to ours
        assert not small_text.OverallUncertainty(CLASSES, threshold=value - 1e-12).stop(
            proba=probs, indices_stopping=pool)
        assert small_text.OverallUncertainty(CLASSES, threshold=value + 1e-12).stop(proba=probs, indices_stopping=pool)
        predicted = probs.argmax(axis=1)[pool]
        if before is not None:
            changed = ours[k]["classification_change"]["value"]
            for threshold in (0.0, changed - 1e-9, changed + 1e-9, 0.05):
                if not 0 <= threshold <= 1:
                    continue
                theirs = small_text.ClassificationChange(CLASSES, threshold=threshold)
                theirs.stop(predictions=before[pool])
                ours_now = stopping.criteria(StoppingParams(classification_change=threshold), CLASSES,
                                             probs[pool], predicted, before[pool], [], predicted, before[pool])
                assert ours_now["classification_change"]["stop"] == theirs.stop(predictions=predicted)
        before = probs.argmax(axis=1)
    changes = [r["classification_change"]["value"] for r in ours[1:]]
    assert changes[0] > 0.05 and changes[-1] < changes[0]


def test_kappa_is_sklearns_and_entropy_scipys():
    gen = np.random.default_rng(3)
    a, b = gen.integers(0, 4, 200), gen.integers(0, 3, 200)  # class 3 never predicted by b
    assert stopping.cohen_kappa(a, b, 4) == pytest.approx(cohen_kappa_score(a, b, labels=np.arange(4)), abs=1e-12)
    assert stopping.cohen_kappa(a, a, 4) == 1.0
    probs = gen.dirichlet(np.ones(5) * 0.3, size=50)
    probs[0] = [1, 0, 0, 0, 0]
    expected = entropy(probs, axis=1) / np.log(5)
    np.testing.assert_allclose(stopping.normalised_entropy(probs), expected, rtol=0, atol=1e-12)
    result = stopping.criteria(StoppingParams(max_confidence=0.5, min_expected_error=0.5), 5, probs,
                               probs.argmax(1), None, [], probs.argmax(1), None)
    assert result["max_confidence"]["value"] == pytest.approx(expected.max(), abs=1e-12)
    assert result["min_expected_error"]["value"] == pytest.approx(np.mean(1 - probs.max(axis=1)), abs=1e-12)
    assert result["classification_change"] == {"value": None, "threshold": 0.0, "stop": False}  # round 0


def test_the_stop_set_is_seeded_and_fixed():
    ids = np.array([f"train-{i}" for i in range(50)], dtype=object)
    first = stopping.stop_set(ids, 10, seed=5)
    assert len(set(first)) == 10 and set(first) <= set(ids)
    assert list(stopping.stop_set(ids[::-1], 10, seed=5)) == list(first)  # the order of the ids does not matter
    assert list(stopping.stop_set(ids, 10, seed=6)) != list(first)
    assert sorted(stopping.stop_set(ids, 100, seed=5)) == sorted(ids)


def test_the_verdict_in_words():
    rounds = cartal_rounds(StoppingParams(), np.arange(TRAIN))
    stop, words = stopping.verdict(rounds[1], 1)
    assert not stop and words == "not yet: stabilising predictions need 4 rounds to compare, 2 more rounds"
    first_stop = next(k for k, r in enumerate(rounds) if r["stabilising_predictions"]["stop"])
    stop, words = stopping.verdict(rounds[first_stop - 1], first_stop - 1)
    mean = rounds[first_stop - 1]["stabilising_predictions"]["mean_kappa"]
    assert not stop and words.startswith(f"not yet: the predictions on the stop set still change (mean kappa of "
                                         f"the last 3 rounds {mean:.4f}, below 0.99)")
    stop, words = stopping.verdict(rounds[-1], ROUNDS)
    assert stop and words.startswith("the last 3 rounds changed the model's predictions on the stop set by less "
                                     "than kappa 0.99 allows (mean kappa ")
    assert words.endswith(": labeling more is unlikely to help")
