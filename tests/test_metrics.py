"""Accuracy and macro-F1 agree with scikit-learn; the area under the learning curve by hand."""

import numpy as np
import pandas as pd
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


def test_a_small_case_by_hand():
    # gold 0 0 1 1 2, predicted 0 1 1 1 0, four classes (3 never appears)
    # class 0: TP 1, FP 1, FN 1 -> F1 2/4 = .5; class 1: TP 2, FP 1, FN 0 -> 4/5 = .8;
    # class 2: TP 0 -> 0; class 3: absent -> 0. Macro-F1 = 1.3 / 4; accuracy 3/5.
    gold = np.array([0, 0, 1, 1, 2])
    probs = np.eye(4)[[0, 1, 1, 1, 0]]
    assert classification_metrics(gold, probs, 4) == pytest.approx({"accuracy": 0.6, "macro_f1": 0.325})
    assert classification_metrics(gold, np.eye(4)[gold], 4) == pytest.approx({"accuracy": 1.0, "macro_f1": 0.75})
    assert classification_metrics(gold, np.eye(3)[gold], 3) == pytest.approx({"accuracy": 1.0, "macro_f1": 1.0})


def test_area_under_an_uneven_curve_by_hand():
    # sizes 0, 1, 3 with accuracies 0, 1, 1: trapezoids .5 + 2 = 2.5 over a range of 3
    assert area_under_curve([0, 1, 3], [0.0, 1.0, 1.0]) == pytest.approx(2.5 / 3)
    assert area_under_curve(np.array([500, 550]), np.array([0.6, 0.6])) == pytest.approx(0.6)


def test_report_summary_by_hand():
    from cartal.report import batch_table, learning_curve, summarise

    curve = learning_curve([
        {"round": 1, "labeled": 150, "accuracy": 0.7, "macro_f1": 0.6},
        {"round": 0, "labeled": 100, "accuracy": 0.5, "macro_f1": 0.4},
    ])
    assert curve["round"].tolist() == [0, 1]
    maps = {1: pd.DataFrame({"id": ["a", "b", "c"], "confidence": [0.2, 0.6, 0.9], "variability": [0.1, 0.3, 0.2],
                             "correctness": [0.0, 1.0, 1.0]})}
    batches = batch_table({0: np.array(["b", "c"], dtype=object)}, maps)
    assert batches.to_dict("records") == [pytest.approx(
        {"round": 0, "size": 2, "confidence": 0.75, "variability": 0.25, "correctness": 1.0})]
    summary = summarise(curve, batches, strategy="random")
    assert summary["strategy"] == "random" and summary["rounds"] == 1 and summary["final_labeled"] == 150
    assert summary["final_accuracy"] == pytest.approx(0.7) and summary["aulc_accuracy"] == pytest.approx(0.6)
    assert summary["aulc_macro_f1"] == pytest.approx(0.5)
    assert summary["batch_mean"] == pytest.approx({"confidence": 0.75, "variability": 0.25, "correctness": 1.0})


def test_the_curve_carries_each_stopping_decision_and_the_plot_draws_the_first(tmp_path):
    from cartal.plots import plot_learning_curve
    from cartal.report import first_stops, learning_curve

    def said(kappa: bool, change: bool) -> dict:
        return {"stabilising_predictions": {"stop": kappa}, "classification_change": {"stop": change}}

    curve = learning_curve([
        {"round": 2, "labeled": 200, "accuracy": 0.8, "macro_f1": 0.7, "stopping": said(True, True)},
        {"round": 0, "labeled": 100, "accuracy": 0.5, "macro_f1": 0.4, "stopping": said(False, False)},
        {"round": 1, "labeled": 150, "accuracy": 0.7, "macro_f1": 0.6, "stopping": said(False, True)},
    ])
    assert curve["stop_stabilising_predictions"].tolist() == [0, 0, 1]
    assert curve["stop_classification_change"].tolist() == [0, 1, 1]
    assert first_stops(curve) == {"stabilising_predictions": 200, "classification_change": 150}
    assert first_stops(learning_curve([{"round": 0, "labeled": 100, "accuracy": 0.5, "macro_f1": 0.4}])) == {}
    png = plot_learning_curve(curve, tmp_path / "curve.png", "t", stops=first_stops(curve))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = plot_learning_curve(curve, tmp_path / "plain.png", "t")
    assert plain.read_bytes() != png.read_bytes()  # the two lines and their legend entries are drawn
