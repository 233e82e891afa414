"""Is strategy A better than strategy B over seeds? Almost Stochastic Order, or a paired bootstrap.

The paper tests with Almost Stochastic Order (ASO; Dror et al., 2019), which
the package deepsig implements. ASO returns eps_min in [0, 1]: the amount by
which A's score distribution violates stochastic dominance over B's. eps_min
below 0.5 means A tends to be better; below ``ASO_THRESHOLD`` (0.2, deepsig's
recommendation) we call A almost stochastically dominant (and B, when eps_min of B
over A is). Without deepsig we
fall back to a paired bootstrap over seeds and say so in the ``test`` column.
"""

from __future__ import annotations

import warnings

import numpy as np

ASO_THRESHOLD = 0.2
BOOTSTRAP_ALPHA = 0.05


def compare(a: np.ndarray, b: np.ndarray, seed: int = 0, samples: int = 1000, jobs: int = 1) -> dict:
    """A against B on paired per-seed scores: the test's name, its statistic and a verdict.

    ``jobs`` processes share ASO's bootstrap (deepsig's num_jobs): a grid's tests took 10 s each on one core.
    deepsig seeds every bootstrap iteration on its own, so the result does not depend on ``jobs``.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"the scores must be paired by seed: got {a.shape} and {b.shape}")
    try:
        from deepsig import aso
    except ImportError:
        return _paired_bootstrap(a, b, seed, samples)
    with warnings.catch_warnings():  # identical scores divide by zero inside deepsig; eps_min is still defined
        warnings.simplefilter("ignore", UserWarning)
        # both directions: with few seeds eps(B over A) can be far from 1 - eps(A over B)
        eps_ab, eps_ba = (float(aso(x, y, seed=seed, num_bootstrap_iterations=samples, num_jobs=jobs,
                                    show_progress=False))
                          for x, y in ((a, b), (b, a)))
    verdict = "better" if eps_ab < ASO_THRESHOLD else "worse" if eps_ba < ASO_THRESHOLD else "no clear order"
    return {"test": "ASO (deepsig)", "statistic": eps_ab, "reverse": eps_ba, "verdict": verdict,
            "mean_difference": float(np.mean(a - b))}


def _paired_bootstrap(a: np.ndarray, b: np.ndarray, seed: int, samples: int) -> dict:
    """Share of bootstrap resamples of the paired differences in which A is not better (a one-sided p-value)."""
    differences = a - b
    resampled = np.random.default_rng(seed).choice(differences, size=(samples, len(differences))).mean(axis=1)
    p_better = float(np.mean(resampled <= 0))
    p_worse = float(np.mean(resampled >= 0))
    verdict = "better" if p_better < BOOTSTRAP_ALPHA else "worse" if p_worse < BOOTSTRAP_ALPHA else "no clear order"
    return {"test": "paired bootstrap", "statistic": p_better, "reverse": p_worse, "verdict": verdict,
            "mean_difference": float(differences.mean())}
