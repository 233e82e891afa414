"""merge-labels@k: the oracle labels the selected batch -> L_{k+1}, U_{k+1} and the ids skipped on purpose.

With ``oracle: gold`` the labels are the dataset's; with ``oracle: human`` they
are what a person gave in annotations/round-k/ (the stage stops with a message
saying what to fill until they are there).
"""

from __future__ import annotations

import numpy as np

from cartal import layout
from cartal.io import artifacts as art
from cartal.oracle import merge_labels
from cartal.params import Params
from stages import common


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    selected_path = layout.in_round(k, "selected.parquet")
    selected = art.ids(art.read_table(selected_path, art.SELECTED, columns=["id"]))
    skipped: tuple[str, ...] = ()
    if params.oracle == "human":
        from cartal.annotation.batch import read_answers

        common.write_batch_to_label(params, k, selected, labels)
        answers = read_answers(layout.annotation_dir(k), selected, labels)
        given, skipped = answers.labels, answers.skipped
    else:
        gold = art.read_table(layout.prepared("train"), art.PREPARED, columns=["id", "label"]).to_pandas()
        given = gold.set_index("id")["label"]
    labeled_next, pool_next = merge_labels(labeled, common.pool_ids(k), selected, given, next_round=k + 1,
                                           source=str(selected_path), skipped=skipped)
    tables = {
        layout.in_round(k + 1, "labeled.parquet"): (art.table_from_columns(art.LABELED, labeled_next), art.LABELED),
        layout.in_round(k + 1, "pool.parquet"): (art.table_from_columns(art.POOL, {"id": list(pool_next)}), art.POOL),
        layout.in_round(k + 1, "skipped.parquet"): (art.table_from_columns(art.SKIPPED, {
            "id": list(skipped), "round": np.full(len(skipped), k, dtype=np.int32)}), art.SKIPPED),
    }
    for path, (table, kind) in tables.items():
        art.write_table(table, path, kind)
