"""build-map@k: dynamics -> the data map of L_k as Parquet and as a DVC plot (CSV) to explore.

No PNG per round: matplotlib would add about 1.5 s to every round (bench/results.md);
the report stage draws the first and the last map, and `dvc plots show` draws any,
each point's tooltip giving its text, gold label, region and the round it was labeled in.
"""

from __future__ import annotations

import pandas as pd

from cartal import layout
from cartal.dynamics import data_map
from cartal.io import artifacts as art
from cartal.io.artifacts import atomic_path
from cartal.params import Params
from stages.common import Texts, rows_by_id

TOOLTIP_CHARACTERS = 200  # of a text, in the plot's CSV: enough to recognise it, short enough for a tooltip


def run(params: Params, k: int) -> None:
    dynamics = art.read_table(layout.in_round(k, "dynamics.parquet"), art.DYNAMICS).to_pandas()
    frame = data_map(dynamics, params.map)
    art.write_table(art.table_from_columns(art.DATA_MAP, frame), layout.in_round(k, "map.parquet"), art.DATA_MAP)
    with atomic_path(layout.in_round(k, "map.csv")) as tmp:
        explorable(frame, k).to_csv(tmp, index=False, float_format="%.6g")


def explorable(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """The map with what a reader hovering over a point wants: the text (its start), the gold label, the round
    it joined L in (0: the seed set; j: picked by round j-1's query) and whether it is the newest batch, the
    one that round k-1's query selected."""
    labeled_path = layout.in_round(k, "labeled.parquet")
    labeled = art.read_table(labeled_path, art.LABELED).to_pandas()
    at = rows_by_id(pd.Index(labeled["id"]), frame["id"], labeled_path, "label", "prepare or merge-labels")
    texts = Texts("train").rows(frame["id"])
    labeled_in = labeled["round"].to_numpy()[at]
    return frame[["id", "variability", "confidence", "correctness", "region"]].assign(
        label=labeled["label"].to_numpy()[at],
        text=[text if len(text) <= TOOLTIP_CHARACTERS else text[:TOOLTIP_CHARACTERS - 1] + "…" for text in texts],
        labeled_in_round=labeled_in, newest_batch=((labeled_in == k) & (k > 0)).astype(int))
