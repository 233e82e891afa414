"""Reads that several stages share: the label set, the labeled set and the pool, features by id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cartal import layout
from cartal.data.validate import check_labels
from cartal.errors import ArtifactError, listing
from cartal.io import artifacts as art
from cartal.seeding import rng


def label_set() -> tuple[str, ...]:
    return tuple(art.read_json(layout.LABELS, "label set", "prepare")["labels"])


def labeled_set(k: int, labels: tuple[str, ...]) -> pd.DataFrame:
    path = layout.in_round(k, "labeled.parquet")
    frame = art.read_table(path, art.LABELED).to_pandas()
    check_labels(frame, labels, str(path), error=ArtifactError, fix="; rerun `dvc repro`")
    return frame


def pool_ids(k: int) -> np.ndarray:
    return art.ids(art.read_table(layout.in_round(k, "pool.parquet"), art.POOL))


def eval_dropout(params, k: int, purpose: str) -> np.random.Generator | None:
    """The dropout masks' generator when the model scores with dropout on (model.eval_dropout), else None."""
    return rng(params.seed, k, "eval-dropout", purpose) if params.model.eval_dropout else None


def targets(labels_of_rows: pd.Series, labels: tuple[str, ...]) -> np.ndarray:
    return labels_of_rows.map({label: i for i, label in enumerate(labels)}).to_numpy(np.int64)


def rows_by_id(index: pd.Index, ids, path, what: str, stage: str) -> np.ndarray:
    """The row of each of ``ids`` in an artifact whose rows have the ids ``index``; an id it lacks means the
    artifact is stale: ArtifactError naming the ids, the file and the stage that writes it."""
    ids = np.asarray(ids, dtype=object)
    position = index.get_indexer(pd.Index(ids))
    if (position < 0).any():
        missing = ids[position < 0]
        raise ArtifactError(f"{path}: no {what} for {len(missing)} ids ({listing(missing)}); the file is stale: "
                            f"rerun `dvc repro` (the stage '{stage}' writes it)")
    return position


class VectorsById:
    """A table of one vector per id (features, a hidden layer), indexed by id."""

    def __init__(self, path, kind: art.Kind, column: str, what: str, stage: str):
        self.path, self.what, self.stage = path, what, stage
        table = art.read_table(path, kind, columns=["id", column])
        self.index = pd.Index(art.ids(table))
        self.matrix = self._values(table, column)

    def rows(self, ids) -> np.ndarray:
        return self.matrix[rows_by_id(self.index, ids, self.path, self.what, self.stage)]

    @staticmethod
    def _values(table, column: str) -> np.ndarray:
        return art.vectors(table, column)


class Features(VectorsById):
    """A features artifact indexed by id."""

    def __init__(self, split: str):
        super().__init__(layout.features(split), art.FEATURES, "vector", "features", "embed")


class Texts(VectorsById):
    """The prepared texts of a split indexed by id: what a learner of texts reads (rows() gives a list)."""

    def __init__(self, split: str):
        super().__init__(layout.prepared(split), art.PREPARED, "text", "texts", "prepare")

    @staticmethod
    def _values(table, column: str) -> np.ndarray:
        return table.column(column).to_numpy(zero_copy_only=False)

    def rows(self, ids) -> list[str]:
        return super().rows(ids).tolist()


def learner_inputs(learner, split: str) -> VectorsById:
    """What ``learner`` (a Learner class or instance) reads for each id of ``split``: features or texts."""
    return Features(split) if learner.inputs == "features" else Texts(split)


def learner(k: int):
    """Round k's trained learner, whichever it is."""
    from cartal import learners

    return learners.load(layout.in_round(k, "model.safetensors"))


def write_batch_to_label(params, k: int, selection: pd.DataFrame, labels: tuple[str, ...],
                         batch: pd.DataFrame | None = None) -> Path:
    """annotations/round-k/: the batch ``selection`` (selected.parquet's rows) with their texts, the model's
    suggestions and why the strategy picked them, for a person to label. select writes it when it picks the
    batch; merge-labels writes it again before reading the answers, so that the file always holds the batch the
    pipeline selected, also after DVC restored select from its cache or the file was deleted (labels given for
    the same ids are kept: cartal.annotation.batch). ``batch``: that batch as batch_to_label made it already
    (for Label Studio), not read again."""
    from cartal.annotation.batch import write_batch

    batch = batch_to_label(k, selection, labels) if batch is None else batch
    return write_batch(layout.annotation_dir(k), batch, model_version=model_version(params, k), labels=labels)


def batch_to_label(k: int, selection: pd.DataFrame, labels: tuple[str, ...]) -> pd.DataFrame:
    """Round k's batch as a person sees it: id, text, the model's suggestion and its confidence, and the
    strategy's rank, score and name from ``selection`` (selected.parquet's columns)."""
    ids = selection["id"].to_numpy(dtype=object)
    texts = art.read_table(layout.prepared("train"), art.PREPARED, columns=["id", "text"]).to_pandas().set_index("id")
    probs = VectorsById(layout.in_round(k, "outputs.parquet"), art.OUTPUTS, "probs", "model outputs",
                        "record-dynamics").rows(ids)
    return pd.DataFrame({"id": ids, "text": texts.loc[ids, "text"].to_numpy(),
                         "suggestion": np.asarray(labels, dtype=object)[probs.argmax(axis=1)],
                         "confidence": probs.max(axis=1), "rank": selection["rank"].to_numpy(),
                         "score": selection["score"].to_numpy(), "picked_by": selection["picked_by"].to_numpy()})


def model_version(params, k: int) -> str:
    """The name the suggestions carry in Label Studio (tasks.json and the live project alike)."""
    return f"round {k} ({params.strategy})"
