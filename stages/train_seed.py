"""train-seed@k: round k's learner (params.yaml's `learner`) trained on L_k -> model.safetensors and the training log.

The log holds each instance's class probabilities in each epoch, from the
source that `cal.dynamics` names (the training forward passes, or an
evaluation pass after each epoch). first_epoch.parquet holds L's hidden layer
in the first epoch's training forward passes when CAL's probe learns from it
(`cal.probe_features: first-epoch`), and no rows otherwise.

A learner may start round k > 0 from round k-1's weights (the MLP's
`model.warm_start`, and with `model.warm_start_optimizer` its AdamW moments and
step counts: the reference code's behaviour, whose weight reset does nothing).
"""

from __future__ import annotations

import numpy as np

from cartal import layout, learners
from cartal.io import artifacts as art
from cartal.params import Params
from cartal.seeding import derive_seed
from stages import common


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    kind = learners.get(params.learner)
    x = common.learner_inputs(kind, "train").rows(labeled["id"])
    y = common.targets(labeled["label"], labels)
    learner = kind.create(params, labels, in_dim=x.shape[1] if kind.inputs == "features" else None, k=k,
                          previous=layout.in_round(k - 1, "model.safetensors") if k else None)
    keep_first_epoch = params.cal.probe_features == "first-epoch"
    fitted = learner.fit(x, y, seed=derive_seed(params.seed, k, "classifier"), record_from=params.cal.dynamics,
                         first_epoch_hidden=keep_first_epoch,
                         desc=f"round {k} of {params.rounds}: training on {len(y)}")
    epochs, n, classes = fitted.epoch_probs.shape
    log_table = art.table_from_columns(art.TRAINING, {
        "epoch": np.repeat(np.arange(1, epochs + 1, dtype=np.int32), n),
        "id": np.tile(labeled["id"].to_numpy(dtype=object), epochs).tolist(),
        "probs": fitted.epoch_probs.reshape(epochs * n, classes),
    })
    first_table = art.table_from_columns(art.FIRST_EPOCH, {
        "id": labeled["id"].tolist() if keep_first_epoch else [], "hidden": fitted.first_epoch_hidden})
    learner.save(layout.in_round(k, "model.safetensors"))
    art.write_table(log_table, layout.in_round(k, "training.parquet"), art.TRAINING)
    art.write_table(first_table, layout.in_round(k, "first_epoch.parquet"), art.FIRST_EPOCH)
