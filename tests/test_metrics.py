"""Accuracy and macro-F1 agree with scikit-learn; the area under the learning curve by hand."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from cartal.metrics import area_under_curve, classification_metrics


@pytest.mark.parametrize("classes, absent", [(2, None), (4, None), (6, 5), (6, 0)])
def test_agrees_with_sklearn(classes, absent):
    generator = np.random.default_rng(classes)
    gold = generator.integers(0, classes, 300)
    probs = generator.random((300, classes))
    if absent is not None:  # a class that neither gold nor predictions contain
        gold[gold == absent] = (absent + 1) % classes
        probs[:, absent] = -1
    predicted = probs.argmax(axis=1)
    ours = classification_metrics(gold, probs, classes)
    assert ours["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    assert ours["macro_f1"] == pytest.approx(
        f1_score(gold, predicted, labels=list(range(classes)), average="macro", zero_division=0))


def test_area_under_curve_by_hand():
    # trapezoids: (0.5+0.7)/2*100 + (0.7+0.8)/2*100 = 60 + 75 = 135 over a range of 200
    assert area_under_curve([100, 200, 300], [0.5, 0.7, 0.8]) == pytest.approx(135 / 200)
    assert area_under_curve([100], [0.42]) == pytest.approx(0.42)
