"""A returned label that is not in the label set: refused with the id, the label and the known labels."""

from __future__ import annotations

import pytest

from refusals import answer, batch

pytestmark = pytest.mark.slow


def test_an_unknown_label(labeling):
    frame = batch(labeling)
    frame.loc[2, "label"] = "Sports"
    answer(labeling, frame, f"unknown labels: {frame['id'][2]}: 'Sports' (known labels: 1, 2, 3, 4)")
