"""Training dynamics -> data map, against values computed by hand."""

import numpy as np
import pandas as pd
import pytest

from cartal.dynamics import batch_statistics, bin_correctness, data_map, regions, tidy_dynamics
from cartal.params import MapParams

# 3 instances, 4 epochs, 2 classes; gold labels 0, 1, 0. Probability of class 0 per epoch:
P0 = np.array([
    [0.6, 0.3, 0.4],
    [0.8, 0.4, 0.3],
    [0.9, 0.2, 0.6],
    [0.7, 0.1, 0.1],
])
GOLD = np.array([0, 1, 0])
IDS = np.array(["a", "b", "c"], dtype=object)


def epoch_probs() -> np.ndarray:
    return np.stack([P0, 1 - P0], axis=2)  # (epochs, n, classes)


def test_tidy_dynamics_has_one_row_per_instance_and_epoch():
    tidy = tidy_dynamics(epoch_probs(), IDS, GOLD)
    assert list(tidy.columns) == ["id", "epoch", "gold_prob", "correct"]
    assert len(tidy) == 12
    row = tidy[(tidy["id"] == "b") & (tidy["epoch"] == 2)].iloc[0]
    assert row["gold_prob"] == pytest.approx(0.6)  # gold is class 1: 1 - 0.4
    assert row["correct"]
    row = tidy[(tidy["id"] == "c") & (tidy["epoch"] == 1)].iloc[0]
    assert row["gold_prob"] == pytest.approx(0.4) and not row["correct"]
    assert sorted(tidy["epoch"].unique()) == [1, 2, 3, 4]


def test_data_map_by_hand():
    frame = data_map(tidy_dynamics(epoch_probs(), IDS, GOLD)).set_index("id")
    # a: gold probs .6 .8 .9 .7 -> mean .75; deviations -.15 .05 .15 -.05 -> var (.0225+.0025+.0225+.0025)/4 = .0125
    assert frame.loc["a", "confidence"] == pytest.approx(0.75)
    assert frame.loc["a", "variability"] == pytest.approx(np.sqrt(0.0125))
    assert frame.loc["a", "correctness"] == pytest.approx(1.0)
    # b: gold probs .7 .6 .8 .9 -> mean .75, same spread; all correct
    assert frame.loc["b", "confidence"] == pytest.approx(0.75)
    assert frame.loc["b", "variability"] == pytest.approx(np.sqrt(0.0125))
    # c: gold probs .4 .3 .6 .1 -> mean .35; deviations .05 -.05 .25 -.25 -> var (.0025+.0025+.0625+.0625)/4 = .0325
    assert frame.loc["c", "confidence"] == pytest.approx(0.35)
    assert frame.loc["c", "variability"] == pytest.approx(np.sqrt(0.0325))
    assert frame.loc["c", "correctness"] == pytest.approx(0.25)  # right only in epoch 3
    assert frame.loc["c", "correctness_bin"] == pytest.approx(0.2)  # round(1.25) / 5


@pytest.mark.parametrize("correctness", [0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1.0, 1 / 3, 2 / 3, 7 / 30, 9 / 30, 0.45])
def test_binning_matches_pythons_round(correctness):
    assert bin_correctness(np.array([correctness]))[0] == pytest.approx(round(correctness * 5) / 5)


def test_binning_ties_go_to_even():
    assert bin_correctness(np.array([0.3, 0.5, 0.7, 0.9])).tolist() == pytest.approx([0.4, 0.4, 0.8, 0.8])


def test_regions_use_the_variability_quantile_and_confidence():
    variability = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    confidence = np.array([0.9, 0.2, 0.6, 0.4, 0.9, 0.1])
    names = regions(confidence, variability, MapParams(ambiguous_quantile=0.5, easy_confidence=0.5))
    # median of variability = 0.25: the three most variable are ambiguous
    assert names.tolist() == ["easy-to-learn", "hard-to-learn", "easy-to-learn", "ambiguous", "ambiguous", "ambiguous"]


def test_batch_statistics_average_the_batch_in_the_next_map():
    next_map = pd.DataFrame({"id": ["x", "y", "z"], "confidence": [0.2, 0.4, 0.9],
                             "variability": [0.1, 0.3, 0.0], "correctness": [0.0, 0.5, 1.0]})
    stats = batch_statistics(next_map, ["x", "y"])
    assert stats == pytest.approx({"size": 2, "confidence": 0.3, "variability": 0.2, "correctness": 0.25})
