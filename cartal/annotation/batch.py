"""A human round's batch on disk: written for a person to label, read back and checked.

The folder ``annotations/round-k/`` holds ``batch.csv`` (id, text, the model's
suggestion and its confidence, and empty ``label`` and ``skip`` columns),
``tasks.json`` (the same batch as Label Studio tasks) and ``label_config.xml``
(the labeling interface to paste into the Label Studio project). The person either fills
``label`` (or writes ``yes`` under ``skip`` to leave an instance out on
purpose) or exports the Label Studio project as JSON to ``export.json`` in
the same folder, which then takes precedence.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cartal.errors import DataError, LabelsPendingError, listing
from cartal.io.artifacts import atomic_path

log = logging.getLogger(__name__)

BATCH_FILE, TASKS_FILE, EXPORT_FILE, CONFIG_FILE = "batch.csv", "tasks.json", "export.json", "label_config.xml"
COLUMNS = ["id", "text", "suggestion", "confidence", "label", "skip"]
SKIP_WORDS = {"yes", "y", "true", "1", "x", "skip"}


@dataclass(frozen=True)
class Answers:
    """What a person returned for a batch: a label per labeled id, and the ids skipped on purpose."""

    labels: pd.Series  # id -> label
    skipped: tuple[str, ...]
    source: str


def write_batch(folder: Path, batch: pd.DataFrame, model_version: str, labels: tuple[str, ...]) -> Path:
    """Write batch.csv, tasks.json and label_config.xml (the Label Studio project's labeling
    interface) for ``batch`` (id, text, suggestion, confidence).

    Labels already given for the same ids are never overwritten; a file for
    other ids (the selection changed) is kept aside as superseded-<time>.csv.
    """
    from cartal.annotation.label_studio import labeling_config, tasks_from_batch

    path = folder / BATCH_FILE
    if path.exists():
        existing = _read_csv(path)
        if sorted(existing["id"]) == sorted(batch["id"].astype(str)):
            log.info("%s already holds this batch; its labels are kept", path)
            return path
        if (existing["label"] != "").any():
            aside = folder / f"superseded-{time.strftime('%Y%m%d-%H%M%S')}.csv"
            path.replace(aside)
            log.warning("the selection changed: the labels given in %s are kept in %s", path, aside)
    frame = batch.assign(label="", skip="")[COLUMNS]
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(folder / TASKS_FILE) as tmp:
        tmp.write_text(json.dumps(tasks_from_batch(batch, model_version), indent=1, ensure_ascii=False))
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(labeling_config(list(labels)))
    return path


def read_answers(folder: Path, batch_ids, labels: tuple[str, ...]) -> Answers:
    """The labels given for the batch ``batch_ids``; LabelsPendingError while none are; DataError if wrong."""
    export, path = folder / EXPORT_FILE, folder / BATCH_FILE
    if export.exists():
        from cartal.annotation.label_studio import labels_from_export

        try:
            tasks = json.loads(export.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{export}: not a Label Studio JSON export ({exc}); export the project again as JSON") from exc
        given = labels_from_export(tasks, source=str(export)).fillna({"label": ""})
        given = given.assign(label=given["label"].astype(str), skip=given["skipped"].astype(bool))
        source = export
    elif path.exists():
        given = _read_csv(path)
        words = given["skip"].str.strip().str.lower()
        unknown = given[(words != "") & ~words.isin(SKIP_WORDS)]
        if len(unknown):  # read as "not skipped", a typo would silently label or refuse the row
            raise DataError(f"{path}: the skip column holds values that are not a skip word: "
                            f"{listing(f'{i}: {v!r}' for i, v in zip(unknown['id'], unknown['skip']))}; write yes "
                            "(or x) under skip to leave an instance out, and leave the cell empty otherwise")
        given = given.assign(skip=words.isin(SKIP_WORDS))
        source = path
    else:
        raise LabelsPendingError(_pending(folder, len(batch_ids)) + " (the batch file is missing: rerun `dvc repro`)")
    given = given.assign(label=given["label"].str.strip())
    if not ((given["label"] != "") | given["skip"]).any():
        raise LabelsPendingError(_pending(folder, len(batch_ids)))
    return _check(given[["id", "label", "skip"]], pd.Index(batch_ids).astype(str), labels, str(source))


def _check(given: pd.DataFrame, batch: pd.Index, labels: tuple[str, ...], source: str) -> Answers:
    problems = []
    extra = given.loc[~given["id"].isin(batch), "id"]
    if len(extra):
        problems.append(f"ids that are not in the batch: {listing(extra)}")
    both = given[given["skip"] & (given["label"] != "")]
    if len(both):
        problems.append(f"ids both labeled and skipped: {listing(both['id'])}")
    answered = given[(given["label"] != "") & ~given["skip"]]
    conflicts = answered.groupby("id")["label"].nunique()
    if (conflicts > 1).any():
        rows = answered[answered["id"].isin(conflicts.index[conflicts > 1])]
        problems.append("ids labeled twice with different labels: "
                        + listing(f"{i} ({', '.join(sorted(set(g)))})" for i, g in rows.groupby("id")["label"]))
    unknown = answered[~answered["label"].isin(labels)]
    if len(unknown):
        problems.append(f"unknown labels: {listing(f'{i}: {l!r}' for i, l in zip(unknown['id'], unknown['label']))} "
                        f"(known labels: {', '.join(labels)})")
    skipped = set(given.loc[given["skip"], "id"])
    answered_or_skipped = set(answered["id"]) | skipped
    missing = [i for i in batch if i not in answered_or_skipped]
    if len(missing):
        problems.append(f"ids with no label (label them, or write yes under skip to leave them out): {listing(missing)}")
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems))
    first = answered.drop_duplicates("id").set_index("id")["label"]
    return Answers(labels=first, skipped=tuple(sorted(skipped)), source=source)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); fix the file or delete it and rerun `dvc repro`") from exc
    missing = [c for c in ("id", "label", "skip") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: columns {', '.join(missing)} missing (found {', '.join(frame.columns)}); "
                        "keep the columns the pipeline wrote and fill in 'label'")
    return frame


def _pending(folder: Path, size: int) -> str:
    return (f"{size} instances wait for labels in {folder}/: fill the 'label' column of {folder / BATCH_FILE} "
            f"(the 'suggestion' column holds the model's guess; write yes under 'skip' to leave one out), "
            f"or import {folder / TASKS_FILE} into Label Studio and save its JSON export as {folder / EXPORT_FILE}; "
            "then run `dvc repro` again")
