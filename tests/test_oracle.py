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


@pytest.mark.parametrize("selected, message", [
    (["b", "b"], "ids selected twice: b"),
    (["a", "z"], "ids not in the pool: a, z"),
])
def test_refuses_a_batch_that_is_not_from_the_pool(selected, message):
    with pytest.raises(ArtifactError, match=message):
        merge_labels(LABELED, POOL, np.array(selected, dtype=object), GOLD, next_round=1, source="sel.parquet")
