"""An answer for an id that was never selected: refused with the id."""

from __future__ import annotations

import pandas as pd
import pytest

from refusals import answer, batch

pytestmark = pytest.mark.slow


def test_an_id_that_is_not_in_the_batch(labeling):
    frame = batch(labeling)
    stranger = frame.iloc[[0]].assign(id="pool-99999")
    answer(labeling, pd.concat([frame, stranger]), "ids that are not in the batch: pool-99999")
