"""merge-labels@k: the oracle labels the selected batch -> L_{k+1} and U_{k+1}."""

from __future__ import annotations

from cartal.io import artifacts as art
from cartal.oracle import merge_labels
from cartal.params import Params
from stages import common, layout


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    selected_path = layout.in_round(k, "selected.parquet")
    selected = art.ids(art.read_table(selected_path, art.SELECTED, columns=["id"]))
    gold = art.read_table(layout.prepared("train"), art.PREPARED, columns=["id", "label"]).to_pandas()
    labeled_next, pool_next = merge_labels(labeled, common.pool_ids(k), selected, gold.set_index("id")["label"],
                                           next_round=k + 1, source=str(selected_path))
    tables = {
        layout.in_round(k + 1, "labeled.parquet"): (art.table_from_columns(art.LABELED, labeled_next), art.LABELED),
        layout.in_round(k + 1, "pool.parquet"): (art.table_from_columns(art.POOL, {"id": list(pool_next)}), art.POOL),
    }
    for path, (table, kind) in tables.items():
        art.write_table(table, path, kind)
