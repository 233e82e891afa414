"""An id both labeled and marked to skip: refused, since it is unclear which was meant."""

from __future__ import annotations

import pytest

from refusals import answer, batch

pytestmark = pytest.mark.slow


def test_an_id_labeled_and_skipped(labeling):
    frame = batch(labeling)
    frame.loc[5, "skip"] = "yes"
    answer(labeling, frame, f"ids both labeled and skipped: {frame['id'][5]}")
