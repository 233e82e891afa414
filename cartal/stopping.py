"""When to stop labeling: stopping criteria computed from what a round already has, no labels needed.

- stabilising predictions (Bloodgood and Vijay-Shanker, 2009): Cohen's kappa between consecutive rounds'
  predictions on a fixed stop set; stop when its mean over the last ``window`` rounds reaches ``kappa``
  (small-text's KappaAverage);
- overall uncertainty (Zhu, Wang and Hovy, 2008): the pool's mean normalised entropy is below a threshold
  (small-text's OverallUncertainty, given the pool as its indices_stopping);
- classification change (the same paper): at most a share ``threshold`` of the pool changed its predicted
  label since the round before (small-text's ClassificationChange);
- max confidence (Zhu, Wang and Hovy, 2008, "Learning a stopping criterion..."): even the pool's most
  uncertain instance has a normalised entropy below a threshold;
- min expected error (the same paper): the pool's mean 1 - max probability, the error the model expects of
  itself, is below a threshold.

Each criterion decides the way small-text's does (``>=`` for kappa, ``<`` for uncertainty), so that
tests/test_stopping.py can compare both value for value. Kappa is computed in numpy: importing
sklearn.metrics costs every evaluate stage about a second (cartal.metrics says the same).
"""

from __future__ import annotations

import numpy as np

from cartal.params import StoppingParams
from cartal.seeding import rng


def stop_set(ids, size: int, seed: int) -> np.ndarray:
    """A fixed, seeded sample of ``size`` of ``ids`` (all of them when fewer), in a stable order."""
    ids = np.sort(np.asarray(ids, dtype=object))
    chosen = rng(seed, "stop-set").permutation(len(ids))[:size]
    return ids[np.sort(chosen)]


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_classes: int) -> float:
    """Cohen's kappa of two label vectors; 1.0 when they are identical (small-text's guard against 0 / 0)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if np.array_equal(a, b):
        return 1.0
    confusion = np.bincount(a * n_classes + b, minlength=n_classes ** 2).reshape(n_classes, n_classes) / len(a)
    observed = np.trace(confusion)
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    return float((observed - expected) / (1 - expected))


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """Each row's entropy divided by log(classes): 0 = certain, 1 = uniform."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    terms = np.where(probs > 0, -probs * np.log(np.where(probs > 0, probs, 1.0)), 0.0)
    return terms.sum(axis=1) / np.log(probs.shape[1])


def criteria(params: StoppingParams, n_classes: int, pool_probs: np.ndarray,
             stop_now: np.ndarray, stop_before: np.ndarray | None, kappas_before: list[float],
             pool_now: np.ndarray, pool_before: np.ndarray | None) -> dict:
    """Round k's criteria: each one's value, threshold and decision.

    ``stop_now``/``stop_before`` are the predicted labels of the stop set in rounds k and k-1 (None in round 0),
    ``kappas_before`` the kappas of the rounds before (the last ``window - 1`` count), ``pool_now``/
    ``pool_before`` the predicted labels of U_k by rounds k and k-1, ``pool_probs`` round k's probabilities of U_k.
    """
    kappas = list(kappas_before)
    if stop_before is not None:
        kappas.append(cohen_kappa(stop_now, stop_before, n_classes))
    kappas = kappas[-params.window:]
    mean_kappa = float(np.mean(kappas)) if len(kappas) == params.window else None
    entropy = normalised_entropy(pool_probs) if len(pool_probs) else None
    changed = (None if pool_before is None or not len(pool_now)
               else float(np.mean(np.asarray(pool_now) != np.asarray(pool_before))))
    expected_error = None if entropy is None else float(np.mean(1 - np.asarray(pool_probs).max(axis=1)))
    return {
        "stabilising_predictions": {
            "kappas": kappas, "mean_kappa": mean_kappa, "window": params.window, "threshold": params.kappa,
            "stop": mean_kappa is not None and mean_kappa >= params.kappa},
        "overall_uncertainty": _below(None if entropy is None else float(entropy.mean()), params.overall_uncertainty),
        "classification_change": {
            "value": changed, "threshold": params.classification_change,
            # small-text's test, unchanged >= n (1 - threshold), on counts: no rounding at the boundary
            "stop": changed is not None and
            int(np.sum(np.asarray(pool_now) == np.asarray(pool_before))) >= len(pool_now) * (
                1 - params.classification_change)},
        "max_confidence": _below(None if entropy is None else float(entropy.max()), params.max_confidence),
        "min_expected_error": _below(expected_error, params.min_expected_error),
    }


def _below(value: float | None, threshold: float) -> dict:
    return {"value": value, "threshold": threshold, "stop": value is not None and value < threshold}


def verdict(stopping: dict, k: int) -> tuple[bool, str]:
    """Whether labeling more is unlikely to help, and why in plain words: stabilising predictions decide
    (Bloodgood and Vijay-Shanker's method needs no labels and stops neither early nor late); the others
    that agree are named."""
    stable = stopping["stabilising_predictions"]
    window, others = stable["window"], _others_that_stop(stopping)
    also = f"; {others} also say stop" if others else ""
    if stable["stop"]:
        return True, (f"the last {window} rounds changed the model's predictions on the stop set by less than "
                      f"kappa {stable['threshold']:g} allows (mean kappa {stable['mean_kappa']:.4f}){also}: "
                      "labeling more is unlikely to help")
    if stable["mean_kappa"] is None:
        needed = window - k
        return False, (f"not yet: stabilising predictions need {window + 1} rounds to compare, "
                       f"{needed} more round{'s' if needed != 1 else ''}{also}")
    return False, (f"not yet: the predictions on the stop set still change (mean kappa of the last {window} "
                   f"rounds {stable['mean_kappa']:.4f}, below {stable['threshold']:g}){also}")


_NAMES = {"overall_uncertainty": "overall uncertainty", "classification_change": "classification change",
          "max_confidence": "max confidence", "min_expected_error": "min expected error"}


def _others_that_stop(stopping: dict) -> str:
    names = [name for key, name in _NAMES.items() if stopping.get(key, {}).get("stop")]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
