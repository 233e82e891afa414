"""An instance of the batch with no label, its row gone or its label empty: refused with the ids and the
two ways out (label it, or skip it on purpose)."""

from __future__ import annotations

import pytest

from refusals import answer, batch

pytestmark = pytest.mark.slow
HINT = "ids with no label (label them, or write yes under skip to leave them out): "


def test_a_row_left_out(labeling):
    frame = batch(labeling)
    answer(labeling, frame.drop(index=4), HINT + frame["id"][4])


def test_an_empty_label(labeling):
    frame = batch(labeling)
    frame.loc[[0, 3], "label"] = ["", "   "]
    answer(labeling, frame, HINT + f"{frame['id'][0]}, {frame['id'][3]}")
