"""prepare: dataset -> data/prepared/{train,test}.parquet, labels.json, and the seed set L0 with pool U0."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cartal import layout
from cartal.data import datasets
from cartal.data.split import check_budget, draw_seed_set
from cartal.errors import DataError
from cartal.io import artifacts as art
from cartal.params import Params

log = logging.getLogger(__name__)


def run(params: Params) -> None:
    if params.dataset == "files":
        outside = [path for path in vars(params.data.files).values()
                   if path and layout.RAW.resolve() not in Path(path).resolve().parents]
        if outside:
            log.warning("%s: outside %s/, so `dvc repro` will not notice when they change; "
                        "move them there", ", ".join(outside), layout.RAW)
    dataset = datasets.load(params.dataset, params.data)
    unlabeled = int(dataset.train["label"].isna().sum())
    if unlabeled and params.oracle == "gold" and params.dataset == "files" and params.data.files.pool:
        raise DataError(f"oracle: gold needs a label for every pool instance, but data.files.pool "
                        f"({params.data.files.pool}, {unlabeled} instances) is read as unlabeled, a label column "
                        "in it ignored. To simulate with labels you have, give the labeled file as data.files.train "
                        "(L0 is drawn from it; drop data.files.seed); to label the selected batches yourself, set "
                        "oracle: human (and run `cartal rounds N`)")
    if unlabeled and params.oracle == "gold":
        raise DataError(f"{unlabeled} instances of the pool have no label, so the gold oracle cannot answer; "
                        "set oracle: human (and run `cartal rounds N`) to label the selected batches yourself")
    train_ids = dataset.train["id"].to_numpy(dtype=object)
    if dataset.seed_ids is not None:  # the user's labeled seed file is L0
        seed_ids = np.asarray(dataset.seed_ids, dtype=object)
        log.info("L0 is the seed file's %d instances (seed_size %d is not used)", len(seed_ids), params.seed_size)
        check_budget(len(dataset.train), len(seed_ids), params.batch_size, params.rounds)
    else:
        check_budget(len(dataset.train), params.seed_size, params.batch_size, params.rounds)
        # the reference code splits with a fixed random state: one seed set whatever the experiment seed
        seed_ids = draw_seed_set(train_ids, params.seed_size,
                                 params.data.split_seed if params.data.shared_seed_set else params.seed)
    seed_rows = dataset.train.set_index("id").loc[seed_ids]
    untested = sorted(set(seed_rows["label"].dropna()) - set(dataset.test["label"].dropna()), key=str)
    if untested:  # accuracy cannot show what the model learns of them
        log.warning("classes in the seed set but not in the test set: %s; the test scores say nothing about them "
                    "(add test instances of them, or drop them from the data)", ", ".join(map(str, untested)))
    pool = np.setdiff1d(train_ids.astype(str), seed_ids.astype(str))

    tables = {
        layout.prepared("train"): (art.table_from_columns(art.PREPARED, dataset.train), art.PREPARED),
        layout.prepared("test"): (art.table_from_columns(art.PREPARED, dataset.test), art.PREPARED),
        layout.in_round(0, "labeled.parquet"): (art.table_from_columns(art.LABELED, {
            "id": list(seed_ids), "label": seed_rows["label"].tolist(), "round": [0] * len(seed_ids)}), art.LABELED),
        layout.in_round(0, "pool.parquet"): (art.table_from_columns(art.POOL, {"id": pool.tolist()}), art.POOL),
    }
    for path, (table, kind) in tables.items():
        art.write_table(table, path, kind)
    art.write_json({"dataset": dataset.name, "labels": list(dataset.labels)}, layout.LABELS)
    log.info("%s: %d train, %d test, %d classes; seed set %d, pool %d",
             dataset.name, len(dataset.train), len(dataset.test), len(dataset.labels), len(seed_ids), len(pool))
