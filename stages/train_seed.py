"""train-seed@k: a fresh, seeded classifier on L_k -> model.safetensors and the per-epoch training log.

The log holds each instance's class probabilities in each epoch, from the
source that `cal.dynamics` names (the training forward passes, or an
evaluation pass after each epoch). first_epoch.parquet holds L's hidden layer
in the first epoch's training forward passes when CAL's probe learns from it
(`cal.probe_features: first-epoch`), and no rows otherwise.

With `model.warm_start`, round k > 0 starts from round k-1's weights (and,
with `model.warm_start_optimizer`, from its AdamW moments and step counts:
the reference code's behaviour, whose weight reset does nothing).
"""

from __future__ import annotations

import logging

import numpy as np

from cartal import layout
from cartal.errors import ArtifactError
from cartal.io import artifacts as art
from cartal.models.files import load_classifier, load_optimiser_state, save_classifier
from cartal.models.mlp import MLPClassifier, seeded
from cartal.models.optim import AdamW
from cartal.models.training import fit
from cartal.params import Params
from cartal.seeding import derive_seed
from stages import common

log = logging.getLogger(__name__)


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    x = common.Features("train").rows(labeled["id"])
    y = common.targets(labeled["label"], labels)
    m = params.model
    model, optimiser = _start(params, k, x.shape[1], len(labels))
    kept = labeled["id"].tolist() if params.cal.probe_features == "first-epoch" else []
    first_epoch = np.zeros((len(kept), model.config["hidden_dim"]), dtype=np.float32)
    on_hidden = None
    if kept:
        def on_hidden(epoch, index, hidden):
            if epoch == 0:
                first_epoch[index] = hidden.numpy()
    epoch_probs = fit(model, x, y, epochs=m.epochs, batch_size=m.batch_size, lr=m.lr,
                      weight_decay=m.weight_decay, seed=derive_seed(params.seed, k, "classifier"),
                      record=True, record_from=params.cal.dynamics, progress=True,
                      desc=f"round {k} of {params.rounds}: training on {len(y)}", shuffle=m.shuffle,
                      optimiser=optimiser, on_hidden=on_hidden)
    epochs, n, classes = epoch_probs.shape
    log_table = art.table_from_columns(art.TRAINING, {
        "epoch": np.repeat(np.arange(1, epochs + 1, dtype=np.int32), n),
        "id": np.tile(labeled["id"].to_numpy(dtype=object), epochs).tolist(),
        "probs": epoch_probs.reshape(epochs * n, classes),
    })
    first_table = art.table_from_columns(art.FIRST_EPOCH, {"id": kept, "hidden": first_epoch})
    save_classifier(model, labels, layout.in_round(k, "model.safetensors"),
                    optimiser=optimiser if m.warm_start_optimizer else None)
    art.write_table(log_table, layout.in_round(k, "training.parquet"), art.TRAINING)
    art.write_table(first_table, layout.in_round(k, "first_epoch.parquet"), art.FIRST_EPOCH)


def _start(params: Params, k: int, in_dim: int, n_classes: int):
    """Round k's model and optimiser: seeded and new, or round k-1's (weights, optionally AdamW's state)."""
    m = params.model
    if not (m.warm_start and k > 0):
        model = seeded(lambda: MLPClassifier(in_dim, n_classes, m.hidden_dim, m.dropout), params.seed, k, "classifier")
        # built here rather than in fit only so that its state can be saved for round k+1
        optimiser = AdamW(model.parameters(), lr=m.lr, weight_decay=m.weight_decay) if m.warm_start_optimizer else None
        return model, optimiser
    previous = layout.in_round(k - 1, "model.safetensors")
    model, _ = load_classifier(previous)
    if model.config["in_dim"] != in_dim or model.config["n_classes"] != n_classes:
        raise ArtifactError(f"{previous}: round {k - 1}'s model takes {model.config['in_dim']}-d features and "
                            f"{model.config['n_classes']} classes, but the features are {in_dim}-d with {n_classes} "
                            f"classes (the encoder changed?); rerun from round 0 with `dvc repro` "
                            "(model.warm_start reads the previous round's weights)")
    optimiser = None
    if m.warm_start_optimizer:
        optimiser = AdamW(model.parameters(), lr=m.lr, weight_decay=m.weight_decay)
        try:
            optimiser.load_state_tensors(load_optimiser_state(previous))
        except ValueError as exc:
            raise ArtifactError(f"{previous}: {exc}; rerun `dvc repro`") from exc
    log.info("round %d: warm start from round %d's weights%s", k, k - 1,
             " and optimiser state" if optimiser else "")
    return model, optimiser
