"""The same id labeled twice with different labels: refused with the id and both labels (the same label
twice is fine)."""

from __future__ import annotations

import pandas as pd
import pytest

from refusals import answer, batch

pytestmark = pytest.mark.slow


def test_an_id_labeled_twice_differently(labeling):
    frame = batch(labeling)
    again = frame.iloc[[1]].assign(label="3")
    answer(labeling, pd.concat([frame, again]), f"ids labeled twice with different labels: {frame['id'][1]} (2, 3)")
