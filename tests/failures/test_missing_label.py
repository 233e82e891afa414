"""An instance of the batch with no label: its row gone is refused as a deleted row, with the ids and how to
put it back; its label left empty is a batch labeled in part, which waits, naming the ids left and the two
ways out (label it, or skip it on purpose). Either way nothing is written."""

from __future__ import annotations

import pytest

from refusals import answer, batch

pytestmark = pytest.mark.slow
HINT = "ids with no label (label them, or write yes under skip to leave them out): "


def test_a_row_left_out(labeling):
    frame = batch(labeling)
    answer(labeling, frame.drop(index=4), f"rows missing from the file (deleted?), ids {frame['id'][4]}: put them back")


def test_an_empty_label(labeling):
    frame = batch(labeling)
    frame.loc[[0, 3], "label"] = ["", "   "]
    answer(labeling, frame, f"{len(frame) - 2} of {len(frame)} answered, " + HINT
           + f"{frame['id'][0]}, {frame['id'][3]}; then run `cartal repro` again")
