"""Test-set metrics and learning-curve summaries.

Accuracy and macro-F1 are computed from a confusion matrix in numpy: importing
sklearn.metrics alone costs about a second, paid by every evaluate stage.
tests/test_metrics.py checks these against sklearn.
"""

from __future__ import annotations

import numpy as np


def classification_metrics(gold: np.ndarray, probs: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 (classes absent from both gold and predictions count as F1 0, as sklearn's
    zero_division=0)."""
    gold = np.asarray(gold, dtype=np.int64)
    predicted = np.asarray(probs).argmax(axis=1)
    confusion = np.bincount(gold * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    true_positive = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)  # 2TP + FP + FN
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return {"accuracy": float(true_positive.sum() / max(len(gold), 1)), "macro_f1": float(f1.mean())}


def area_under_curve(sizes, accuracies) -> float:
    """Trapezoidal area under accuracy vs. labeled-set size, divided by the size range (a mean accuracy)."""
    sizes, accuracies = np.asarray(sizes, dtype=float), np.asarray(accuracies, dtype=float)
    if len(sizes) == 1:
        return float(accuracies[0])
    return float(np.trapezoid(accuracies, sizes) / (sizes[-1] - sizes[0]))
