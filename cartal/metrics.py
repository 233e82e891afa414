"""Test-set metrics and learning-curve summaries."""

from __future__ import annotations

import numpy as np


def classification_metrics(gold: np.ndarray, probs: np.ndarray, n_classes: int) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = probs.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=list(range(n_classes)), average="macro", zero_division=0)),
    }


def area_under_curve(sizes, accuracies) -> float:
    """Trapezoidal area under accuracy vs. labeled-set size, divided by the size range (a mean accuracy)."""
    sizes, accuracies = np.asarray(sizes, dtype=float), np.asarray(accuracies, dtype=float)
    if len(sizes) == 1:
        return float(accuracies[0])
    return float(np.trapezoid(accuracies, sizes) / (sizes[-1] - sizes[0]))
