"""Training dynamics -> data map, against values computed by hand."""

import numpy as np
import pandas as pd
import pytest

from cartal.dynamics import REGIONS, batch_statistics, bin_correctness, data_map, regions, tidy_dynamics
from cartal.io import artifacts as art
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
    # every (id, epoch) pair exactly once, and the gold probability of every row by hand
    assert not tidy.duplicated(["id", "epoch"]).any()
    by_hand = {(i, e + 1): (P0[e, n] if GOLD[n] == 0 else 1 - P0[e, n]) for n, i in enumerate(IDS) for e in range(4)}
    for row in tidy.itertuples():
        assert row.gold_prob == pytest.approx(by_hand[(row.id, row.epoch)], abs=1e-6)


def test_tidy_dynamics_with_three_classes_picks_the_gold_column_and_uses_argmax():
    # 2 epochs, 2 instances, 3 classes. Correct means the arg-max is gold, not p(gold) > 0.5.
    probs = np.array([
        [[0.40, 0.30, 0.30], [0.10, 0.45, 0.45]],
        [[0.45, 0.55, 0.00], [0.20, 0.20, 0.60]],
    ])
    tidy = tidy_dynamics(probs, np.array(["x", "y"], dtype=object), np.array([0, 2])).set_index(["id", "epoch"])
    assert tidy.loc[("x", 1), "gold_prob"] == pytest.approx(0.40) and tidy.loc[("x", 1), "correct"]  # 0.4 wins
    assert tidy.loc[("x", 2), "gold_prob"] == pytest.approx(0.45) and not tidy.loc[("x", 2), "correct"]
    # a tie: arg-max takes class 1
    assert tidy.loc[("y", 1), "gold_prob"] == pytest.approx(0.45) and not tidy.loc[("y", 1), "correct"]
    assert tidy.loc[("y", 2), "gold_prob"] == pytest.approx(0.60) and tidy.loc[("y", 2), "correct"]


def test_tidy_dynamics_fits_the_dynamics_artifact_schema(tmp_path):
    tidy = tidy_dynamics(epoch_probs(), IDS, GOLD)
    path = art.write_table(art.table_from_columns(art.DYNAMICS, tidy), tmp_path / "dynamics.parquet", art.DYNAMICS)
    back = art.read_table(path, art.DYNAMICS).to_pandas()
    assert back["epoch"].tolist() == tidy["epoch"].tolist()
    assert back["correct"].tolist() == tidy["correct"].tolist()


def test_data_map_by_hand():
    frame = data_map(tidy_dynamics(epoch_probs(), IDS, GOLD))
    assert list(frame.columns) == ["id", "confidence", "variability", "correctness", "correctness_bin", "region"]
    assert frame["id"].tolist() == ["a", "b", "c"]
    frame = frame.set_index("id")
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
    # population, not sample, standard deviation: the sample one of c would be sqrt(.13 / 3)
    assert frame.loc["c", "variability"] != pytest.approx(np.sqrt(0.13 / 3))


def test_data_map_does_not_depend_on_row_order():
    tidy = tidy_dynamics(epoch_probs(), IDS, GOLD)
    shuffled = tidy.sample(frac=1, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(data_map(shuffled), data_map(tidy))


def test_data_map_bins_correctness_of_ten_epochs_like_pythons_round():
    # 11 instances over 10 epochs: instance i is right in its first i epochs, so its correctness is i/10
    epochs, n = 10, 11
    probs = np.zeros((epochs, n, 2))
    for i in range(n):
        probs[:i, i] = [0.8, 0.2]  # gold (class 0) wins
        probs[i:, i] = [0.3, 0.7]
    frame = data_map(tidy_dynamics(probs, np.array([f"i{i:02d}" for i in range(n)], dtype=object), np.zeros(n, int)))
    assert frame["correctness"].tolist() == pytest.approx([i / 10 for i in range(n)])
    assert frame["correctness_bin"].tolist() == pytest.approx([round(5 * (i / 10)) / 5 for i in range(n)])
    # the ties, spelled out: .1 -> 0, .3 -> .4, .5 -> .4, .7 -> .8, .9 -> .8
    assert frame["correctness_bin"].iloc[[1, 3, 5, 7, 9]].tolist() == pytest.approx([0.0, 0.4, 0.4, 0.8, 0.8])


@pytest.mark.parametrize("correctness", [0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1.0, 1 / 3, 2 / 3, 7 / 30, 9 / 30, 0.45])
def test_binning_matches_pythons_round(correctness):
    assert bin_correctness(np.array([correctness]))[0] == pytest.approx(round(correctness * 5) / 5)


def test_binning_ties_go_to_even():
    assert bin_correctness(np.array([0.1, 0.3, 0.5, 0.7, 0.9])).tolist() == pytest.approx([0.0, 0.4, 0.4, 0.8, 0.8])


def test_regions_use_the_variability_quantile_and_confidence():
    variability = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    confidence = np.array([0.9, 0.2, 0.6, 0.4, 0.9, 0.1])
    names = regions(confidence, variability, MapParams(ambiguous_quantile=0.5, easy_confidence=0.5))
    # median of variability = 0.25: the three most variable are ambiguous
    assert names.tolist() == ["easy-to-learn", "hard-to-learn", "easy-to-learn", "ambiguous", "ambiguous", "ambiguous"]
    # a stricter confidence threshold turns the confident-enough 0.6 into hard-to-learn
    names = regions(confidence, variability, MapParams(ambiguous_quantile=0.5, easy_confidence=0.7))
    assert names.tolist()[:3] == ["easy-to-learn", "hard-to-learn", "hard-to-learn"]


def test_data_map_names_regions_with_the_given_thresholds():
    tidy = tidy_dynamics(epoch_probs(), IDS, GOLD)
    # variabilities .112, .112, .180: the 0.67 quantile (.135) leaves only c ambiguous; a and b have confidence .75
    assert data_map(tidy)["region"].tolist() == ["easy-to-learn", "easy-to-learn", "ambiguous"]
    assert data_map(tidy, MapParams(easy_confidence=0.8))["region"].tolist() == [
        "hard-to-learn", "hard-to-learn", "ambiguous"]
    assert set(data_map(tidy)["region"]) <= set(REGIONS)


def test_instances_that_never_vary_are_not_ambiguous():
    # One epoch of training: every variability is 0. Ambiguous means high variability, so none of these
    # instances is ambiguous; confidence alone tells easy-to-learn (>= 0.5) from hard-to-learn.
    probs = np.array([[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]])
    frame = data_map(tidy_dynamics(probs, np.array(["a", "b", "c", "d"], dtype=object), np.zeros(4, int)))
    assert frame["variability"].tolist() == [0.0] * 4
    assert frame["region"].tolist() == ["easy-to-learn", "hard-to-learn", "easy-to-learn", "hard-to-learn"]


def test_batch_statistics_average_the_batch_in_the_next_map():
    next_map = pd.DataFrame({"id": ["x", "y", "z"], "confidence": [0.2, 0.4, 0.9],
                             "variability": [0.1, 0.3, 0.0], "correctness": [0.0, 0.5, 1.0]})
    stats = batch_statistics(next_map, ["x", "y"])
    assert stats == pytest.approx({"size": 2, "confidence": 0.3, "variability": 0.2, "correctness": 0.25})
    # ids that are not in the map do not count; the batch can be given as a numpy array
    stats = batch_statistics(next_map, np.array(["z", "y", "gone"], dtype=object))
    assert stats == pytest.approx({"size": 2, "confidence": 0.65, "variability": 0.15, "correctness": 0.75})
