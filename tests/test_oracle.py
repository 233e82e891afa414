"""The simulated oracle moves the selected batch with its gold labels from the pool into L."""

import numpy as np
import pandas as pd
import pytest

from cartal.errors import ArtifactError
from cartal.oracle import merge_labels

GOLD = pd.Series({"a": "x", "b": "y", "c": "x", "d": "y", "e": "x"})
LABELED = pd.DataFrame({"id": ["a"], "label": ["x"], "round": np.array([0], dtype=np.int32)})
POOL = np.array(["b", "c", "d", "e"], dtype=object)


def test_moves_the_batch_with_gold_labels():
    labeled, pool = merge_labels(LABELED, POOL, np.array(["d", "b"], dtype=object), GOLD, next_round=1)
    assert labeled["id"].tolist() == ["a", "b", "d"]
    assert labeled["label"].tolist() == ["x", "y", "y"]
    assert labeled["round"].tolist() == [0, 1, 1]
    assert pool.tolist() == ["c", "e"]
    assert labeled["round"].dtype == np.int32 and list(labeled.columns) == ["id", "label", "round"]
    assert LABELED["id"].tolist() == ["a"] and POOL.tolist() == ["b", "c", "d", "e"]  # inputs untouched


def test_outputs_are_sorted_whatever_the_input_order():
    labeled = pd.DataFrame({"id": ["e", "a"], "label": ["x", "x"], "round": np.array([0, 0], dtype=np.int32)})
    merged, pool = merge_labels(labeled, np.array(["d", "b", "c"], dtype=object), np.array(["c"], dtype=object),
                                GOLD, next_round=3)
    assert merged["id"].tolist() == ["a", "c", "e"] and merged["round"].tolist() == [0, 3, 0]
    assert merged.set_index("id").loc["c", "label"] == "x"
    assert pool.tolist() == ["b", "d"]


def test_an_empty_batch_changes_nothing():
    labeled, pool = merge_labels(LABELED, POOL, np.array([], dtype=object), GOLD, next_round=1)
    assert labeled["id"].tolist() == ["a"] and pool.tolist() == POOL.tolist()


@pytest.mark.parametrize("selected, message", [
    (["b", "b"], "ids selected twice: b"),
    (["a", "z"], "ids not in the pool: a, z"),
])
def test_refuses_a_batch_that_is_not_from_the_pool(selected, message):
    with pytest.raises(ArtifactError, match=message):
        merge_labels(LABELED, POOL, np.array(selected, dtype=object), GOLD, next_round=1, source="sel.parquet")


def test_every_problem_is_listed_in_one_message():
    gold = pd.Series({"a": "x", "b": "y"})
    pool = np.array(["b", "q"], dtype=object)
    with pytest.raises(ArtifactError) as info:
        merge_labels(LABELED, pool, np.array(["b", "b", "z", "q"], dtype=object), gold, next_round=1,
                     source="round-0/selected.parquet")
    message = str(info.value)
    assert message.startswith("round-0/selected.parquet: ")
    assert "ids selected twice: b" in message and "ids not in the pool: z" in message
    assert "ids with no gold label: q, z" in message and "'select'" in message


def test_long_lists_of_ids_are_cut():
    pool = np.array([f"p{i:02d}" for i in range(30)], dtype=object)
    with pytest.raises(ArtifactError, match=r"ids not in the pool: x00, x01, .*x09 and 5 more"):
        merge_labels(LABELED, pool, np.array([f"x{i:02d}" for i in range(15)], dtype=object),
                     pd.Series({f"x{i:02d}": "x" for i in range(15)}), next_round=1)
