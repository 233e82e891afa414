"""select@k: the strategy scores the pool U_k -> selected.parquet (id, score, rank, picked_by)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from cartal import layout, strategies
from cartal.io import artifacts as art
from cartal.params import Params
from cartal.strategies import PoolState
from stages import common

log = logging.getLogger(__name__)


def run(params: Params, k: int) -> None:
    strategy = strategies.create(params.strategy, params)
    labels = common.label_set()
    labeled = common.labeled_set(k, labels)
    pool = common.pool_ids(k)
    inputs = {}
    if strategy.needs & {"hidden", "probs"}:
        inputs.update(_model_outputs(k, labeled["id"].to_numpy(dtype=object), pool, strategy.needs))
    if "map" in strategy.needs:
        inputs["data_map"] = _aligned_map(k, labeled["id"])
    if "mc" in strategy.needs:
        inputs["pool_mc_probs"] = _mc_dropout(params, k, pool)
    if "first_epoch" in strategy.needs:
        inputs["labeled_first_epoch_hidden"] = _first_epoch_hidden(k, labeled["id"])
    state = PoolState(round=k, seed=params.seed, pool_ids=pool, labeled_ids=labeled["id"].to_numpy(dtype=object),
                      labeled_targets=common.targets(labeled["label"], labels), **inputs)
    selection = strategy.select(state, params.batch_size)
    table = art.table_from_columns(art.SELECTED, {
        "id": list(selection.ids), "score": selection.scores,
        "rank": np.arange(1, len(selection.ids) + 1, dtype=np.int32),
        "picked_by": [selection.picked_by] * len(selection.ids),
    })
    if params.oracle == "human":
        path = common.write_batch_to_label(params, k, table.to_pandas(), labels)
        log.info("round %d: %d instances to label in %s", k, len(selection.ids), path)
    art.write_table(table, layout.in_round(k, "selected.parquet"), art.SELECTED)
    log.info("round %d: %s picked %d of %d pool instances", k, selection.picked_by, len(selection.ids), len(pool))


def _model_outputs(k: int, labeled_ids: np.ndarray, pool: np.ndarray, needs: frozenset[str]) -> dict:
    """The PoolState fields (pool_/labeled_ probs and hidden) that the strategy needs, in id order."""
    path = layout.in_round(k, "outputs.parquet")
    table = art.read_table(path, art.OUTPUTS)
    index = pd.Index(art.ids(table))
    rows = {name: common.rows_by_id(index, ids, path, "model outputs", "record-dynamics")
            for name, ids in (("labeled", labeled_ids), ("pool", pool))}
    wanted = [("pool", "probs"), ("pool", "hidden"), ("labeled", "hidden"), ("labeled", "probs")]
    matrices = {column: art.vectors(table, column) for column in needs & {"probs", "hidden"}}
    return {f"{name}_{column}": matrices[column][rows[name]] for name, column in wanted if column in matrices}


def _aligned_map(k: int, labeled_ids: pd.Series) -> pd.DataFrame:
    path = layout.in_round(k, "map.parquet")
    frame = art.read_table(path, art.DATA_MAP).to_pandas()
    rows = common.rows_by_id(pd.Index(frame["id"]), labeled_ids, path, "data map", "build-map")
    return frame.iloc[rows].reset_index(drop=True)


def _first_epoch_hidden(k: int, labeled_ids: pd.Series) -> np.ndarray:
    """L's hidden layer in round k's first epoch; written only with cal.probe_features: first-epoch."""
    return common.VectorsById(layout.in_round(k, "first_epoch.parquet"), art.FIRST_EPOCH, "hidden",
                              "first-epoch hidden layers", "train-seed").rows(labeled_ids)


def _mc_dropout(params: Params, k: int, pool: np.ndarray) -> np.ndarray:
    from cartal.seeding import derive_seed

    model = common.learner(k)
    return model.mc_dropout_proba(common.learner_inputs(model, "train").rows(pool), params.mc.passes,
                                  seed=derive_seed(params.seed, k))
