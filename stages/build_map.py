"""build-map@k: dynamics -> the data map of L_k as Parquet and as a DVC plot (CSV).

No PNG per round: matplotlib would add about 1.5 s to every round (bench/results.md);
the report stage draws the first and the last map, and `dvc plots show` draws any.
"""

from __future__ import annotations

from cartal import layout
from cartal.dynamics import data_map
from cartal.io import artifacts as art
from cartal.io.artifacts import atomic_path
from cartal.params import Params


def run(params: Params, k: int) -> None:
    dynamics = art.read_table(layout.in_round(k, "dynamics.parquet"), art.DYNAMICS).to_pandas()
    frame = data_map(dynamics, params.map)
    art.write_table(art.table_from_columns(art.DATA_MAP, frame), layout.in_round(k, "map.parquet"), art.DATA_MAP)
    with atomic_path(layout.in_round(k, "map.csv")) as tmp:
        columns = ["id", "variability", "confidence", "correctness", "region"]
        frame[columns].to_csv(tmp, index=False, float_format="%.6g")
