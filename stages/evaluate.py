"""evaluate@k: round k's model on the test set -> metrics/rounds/k.json (accuracy, macro-F1)."""

from __future__ import annotations

import logging

from cartal.io import artifacts as art
from cartal.metrics import classification_metrics
from cartal.models.files import load_frozen
from cartal.params import Params
from stages import common, layout

log = logging.getLogger(__name__)


def run(params: Params, k: int) -> None:
    labels = common.label_set()
    model, _ = load_frozen(layout.in_round(k, "model.safetensors"))
    test = art.read_table(layout.prepared("test"), art.PREPARED, columns=["id", "label"]).to_pandas()
    probs = model.predict_proba(common.Features("test").rows(test["id"]), common.eval_dropout(params, k, "test"))
    scores = classification_metrics(common.targets(test["label"], labels), probs, len(labels))
    labeled = len(common.labeled_set(k, labels))
    art.write_json({"round": k, "labeled": labeled, **scores}, layout.round_metrics(k))
    log.info("round %d of %d: %d labeled, test accuracy %.4f, macro-F1 %.4f", k, params.rounds, labeled,
             scores["accuracy"], scores["macro_f1"])
