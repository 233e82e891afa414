"""record-dynamics@k: training log -> tidy dynamics.parquet; model -> hidden layer and probabilities of L and U."""

from __future__ import annotations

import numpy as np

from cartal import layout
from cartal.dynamics import tidy_dynamics
from cartal.errors import ArtifactError
from cartal.io import artifacts as art
from cartal.params import Params
from stages import common


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    ids = labeled["id"].to_numpy(dtype=object)
    log_path = layout.in_round(k, "training.parquet")
    log_table = art.read_table(log_path, art.TRAINING)
    probs = art.vectors(log_table, "probs")
    if len(probs) % len(ids) or not np.array_equal(
            np.asarray(log_table.column("id").to_pylist(), dtype=object), np.tile(ids, len(probs) // len(ids))):
        raise ArtifactError(f"{log_path}: the training log does not match the labeled set of round {k}; "
                            "rerun `dvc repro` (the stage 'train-seed' writes it)")
    epoch_probs = probs.reshape(len(probs) // len(ids), len(ids), probs.shape[1])
    dynamics = tidy_dynamics(epoch_probs, ids, common.targets(labeled["label"], labels))

    model = common.learner(k)
    pool = common.pool_ids(k)
    everyone = np.concatenate([ids, pool])
    hidden, class_probs = model.hidden_and_proba(common.learner_inputs(model, "train").rows(everyone),
                                                 common.eval_dropout(params, k, "outputs"))
    outputs = art.table_from_columns(art.OUTPUTS, {
        "id": everyone.tolist(), "labeled": [True] * len(ids) + [False] * len(pool),
        "hidden": hidden, "probs": class_probs,
    })
    art.write_table(art.table_from_columns(art.DYNAMICS, dynamics), layout.in_round(k, "dynamics.parquet"),
                    art.DYNAMICS)
    art.write_table(outputs, layout.in_round(k, "outputs.parquet"), art.OUTPUTS)
