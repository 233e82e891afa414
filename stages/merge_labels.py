"""merge-labels@k: the oracle labels the selected batch -> L_{k+1}, U_{k+1} and the ids skipped on purpose.

With ``oracle: gold`` the labels are the dataset's; with ``oracle: human`` they
are what a person gave in annotations/round-k/ (the stage stops with a message
saying what to fill until they are there).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from cartal import layout
from cartal.io import artifacts as art
from cartal.oracle import merge_labels
from cartal.params import Params
from stages import common

log = logging.getLogger(__name__)


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    selected_path = layout.in_round(k, "selected.parquet")
    selection = art.read_table(selected_path, art.SELECTED).to_pandas()
    selected = selection["id"].to_numpy(dtype=object)
    skipped: tuple[str, ...] = ()
    pulled = None  # the Label Studio tasks the labels came from, kept once the round is merged
    if params.oracle == "human" and params.label_studio.url:
        given, skipped, pulled = _from_label_studio(params, k, selection, labels)
    elif params.oracle == "human":
        from cartal.annotation.batch import read_answers

        common.write_batch_to_label(params, k, selection, labels)
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
    if pulled is not None:
        from cartal.annotation.batch import EXPORT_FILE

        with art.atomic_path(layout.annotation_dir(k) / EXPORT_FILE) as tmp:
            tmp.write_text(json.dumps(pulled, indent=1, ensure_ascii=False))


def _from_label_studio(params: Params, k: int, selection: pd.DataFrame, labels: tuple[str, ...]):
    """Push the batch to the Label Studio project (once: tasks already there are not pushed again) and read its
    annotations: (labels, skipped ids, the batch's tasks). The batch files are written only after the server
    answered, so that a server that is down or a refused token leaves the round's files as they were. Once the
    round is merged, run() keeps the tasks as annotations/round-k/export.json: the round can be rerun from git
    without the server (url: null), and the labels are committed with annotations/."""
    from cartal.annotation import live
    from cartal.annotation.batch import answers_from_tasks

    settings = params.label_studio
    selected = selection["id"].to_numpy(dtype=object)
    batch = common.batch_to_label(k, selection, labels)
    project, pushed = live.push(settings, batch, common.model_version(params, k), labels)
    log.info("%s: %d tasks of round %d's batch pushed, %d were there already", project.source, pushed, k,
             len(selected) - pushed)
    common.write_batch_to_label(params, k, selection, labels, batch=batch)
    tasks = project.tasks_of(selected)
    answers = answers_from_tasks(tasks, selected, labels, project.source, pending=(
        f"{len(selected)} instances of round {k} wait for labels in {project.source}: label them there (Skip leaves "
        "one out); then run `cartal repro` again"))
    return answers.labels, answers.skipped, tasks
