"""train-seed@k: a fresh, seeded classifier on L_k -> model.safetensors and the per-epoch training log.

The log holds each instance's class probabilities in each epoch, from the
source that `cal.dynamics` names (the training forward passes, or an
evaluation pass after each epoch).
"""

from __future__ import annotations

import logging

import numpy as np

from cartal.io import artifacts as art
from cartal.models.files import load_classifier, save_classifier
from cartal.models.mlp import MLPClassifier, seeded
from cartal.models.training import fit
from cartal.params import Params
from cartal.seeding import derive_seed
from stages import common, layout

log = logging.getLogger(__name__)


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    x = common.Features("train").rows(labeled["id"])
    y = common.targets(labeled["label"], labels)
    m = params.model
    if m.warm_start and k > 0:
        model, _ = load_classifier(layout.in_round(k - 1, "model.safetensors"))
        log.info("round %d: warm start from round %d's weights", k, k - 1)
    else:
        model = seeded(lambda: MLPClassifier(x.shape[1], len(labels), m.hidden_dim, m.dropout),
                       params.seed, k, "classifier")
    epoch_probs = fit(model, x, y, epochs=m.epochs, batch_size=m.batch_size, lr=m.lr,
                      weight_decay=m.weight_decay, seed=derive_seed(params.seed, k, "classifier"),
                      record=True, record_from=params.cal.dynamics, progress=True,
                      desc=f"round {k}: training on {len(y)}")
    epochs, n, classes = epoch_probs.shape
    log_table = art.table_from_columns(art.TRAINING, {
        "epoch": np.repeat(np.arange(1, epochs + 1, dtype=np.int32), n),
        "id": np.tile(labeled["id"].to_numpy(dtype=object), epochs).tolist(),
        "probs": epoch_probs.reshape(epochs * n, classes),
    })
    save_classifier(model, labels, layout.in_round(k, "model.safetensors"))
    art.write_table(log_table, layout.in_round(k, "training.parquet"), art.TRAINING)
