"""evaluate@k: round k's model on the test set -> metrics/rounds/k.json (accuracy, macro-F1), with the stopping
criteria of round k (cartal.stopping) from the round's outputs on the train split and those of round k-1."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from cartal import layout, provenance, stopping
from cartal.io import artifacts as art
from cartal.metrics import classification_metrics
from cartal.params import Params
from stages import common
from stages.pipeline import round_stage

log = logging.getLogger(__name__)


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    model = common.learner(k)
    test = art.read_table(layout.prepared("test"), art.PREPARED, columns=["id", "label"]).to_pandas()
    probs = model.predict_proba(common.learner_inputs(model, "test").rows(test["id"]),
                                common.eval_dropout(params, k, "test"))
    scores = classification_metrics(common.targets(test["label"], labels), probs, len(labels))
    labeled = len(common.labeled_set(k, labels))
    criteria = stopping_criteria(params, k, len(labels))
    # where the round ran: another CPU's arithmetic can change which instances the next round selects
    machine = provenance.machine("transformer" if params.learner == "transformer" else "torch",
                                 str(getattr(model, "device", "cpu")))
    art.write_json({"round": k, "labeled": labeled, **scores, "stopping": criteria, "machine": machine},
                   layout.round_metrics(k))
    log.info("round %d of %d: %d labeled, test accuracy %.4f, macro-F1 %.4f; stopping: %s", k, params.rounds,
             labeled, scores["accuracy"], scores["macro_f1"], stopping.verdict(criteria, k)[1])


def stopping_criteria(params: Params, k: int, n_classes: int) -> dict:
    """The criteria from round k's predictions and round k-1's (its outputs, and the kappas in its metrics)."""
    now = _Outputs(k)
    train_ids = art.ids(art.read_table(layout.prepared("train"), art.PREPARED, columns=["id"]))
    stop_ids = stopping.stop_set(train_ids, params.stopping.stop_set_size, params.seed)
    before, kappas = None, []
    if k:
        before = _Outputs(k - 1)
        previous = art.read_json(layout.round_metrics(k - 1), f"metrics of round {k - 1}",
                                 round_stage(k - 1, "evaluate"))
        kappas = previous.get("stopping", {}).get("stabilising_predictions", {}).get("kappas", [])
        # ids skipped on purpose are in neither L nor U, so not in the outputs: compare what both rounds predict
        stop_ids = stop_ids[(now.index.get_indexer(stop_ids) >= 0) & (before.index.get_indexer(stop_ids) >= 0)]
    return stopping.criteria(
        params.stopping, n_classes, pool_probs=now.probs[~now.labeled], stop_now=now.predicted(stop_ids),
        stop_before=None if before is None else before.predicted(stop_ids), kappas_before=kappas,
        pool_now=now.predicted(now.pool), pool_before=None if before is None else before.predicted(now.pool))


class _Outputs:
    """Round k's outputs.parquet: the probabilities of L_k and U_k by id."""

    def __init__(self, k: int):
        table = art.read_table(layout.in_round(k, "outputs.parquet"), art.OUTPUTS, columns=["id", "labeled", "probs"])
        self.index = pd.Index(art.ids(table))
        self.labeled = table.column("labeled").to_numpy(zero_copy_only=False)
        self.probs = art.vectors(table, "probs")
        self.pool = self.index[~self.labeled].to_numpy()

    def predicted(self, ids) -> np.ndarray:
        return self.probs[self.index.get_indexer(ids)].argmax(axis=1)
