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

import csv
import io
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
SUPERSEDED = "superseded-"  # the prefix of answer files set aside when the selection changed
SKIP_WORDS = {"yes", "y", "true", "1", "x", "skip"}
#: The delimiters a spreadsheet saves a CSV with: Excel in many European locales writes ';'.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True)
class Answers:
    """What a person returned for a batch: a label per labeled id, and the ids skipped on purpose."""

    labels: pd.Series  # id -> label
    skipped: tuple[str, ...]
    source: str


def write_batch(folder: Path, batch: pd.DataFrame, model_version: str, labels: tuple[str, ...]) -> Path:
    """Make ``folder`` hold the batch ``batch`` (id, text, suggestion, confidence) to label: batch.csv,
    tasks.json and label_config.xml (the Label Studio project's labeling interface).

    A batch file of the same ids is kept as it is, with whatever labels it holds. A file of other ids
    (the selection changed, or DVC restored an earlier one from its cache) is kept aside as
    superseded-<time>.csv if it holds answers, and so is the earlier batch's Label Studio export; the new
    file starts with the answers already given for its ids in any of the folder's files, newest
    first, so that no label given for an id is lost when its batch comes back.
    """
    from cartal.annotation.label_studio import labeling_config, tasks_from_batch

    path, ids = folder / BATCH_FILE, batch["id"].astype(str)
    existing = _read_csv(path) if path.exists() else None
    same_batch = _written_for(folder, existing) == set(ids)
    if existing is None or not same_batch:
        remembered = _answers_given(folder)
        if existing is not None and _typed(existing).any():
            _set_aside(path)
        if not same_batch and (folder / EXPORT_FILE).exists():  # the earlier batch's: its labels are carried over
            _set_aside(folder / EXPORT_FILE)
        known = remembered.reindex(ids)
        frame = batch.assign(label=known["label"].fillna("").to_numpy(), skip=known["skip"].fillna("").to_numpy())
        carried = int(_answered(frame).sum())
        if carried:
            log.warning("%s: %d of the %d instances keep the answers given for them earlier", path, carried, len(frame))
        with atomic_path(path) as tmp:
            frame[COLUMNS].to_csv(tmp, index=False, float_format="%.4f")
    else:
        log.info("%s already holds this batch; its labels are kept", path)
    for name, text in ((TASKS_FILE, json.dumps(tasks_from_batch(batch, model_version), indent=1, ensure_ascii=False)),
                       (CONFIG_FILE, labeling_config(list(labels)))):
        if not (folder / name).is_file() or (folder / name).read_text() != text:
            with atomic_path(folder / name) as tmp:
                tmp.write_text(text)
    return path


def _written_for(folder: Path, batch_file: pd.DataFrame | None) -> set[str]:
    """The ids of the batch the folder's files were written for: tasks.json's, which people do not edit
    (rows deleted from batch.csv by mistake are the person's to put back, not a new batch), else batch.csv's."""
    try:
        return {str(task["data"]["id"]) for task in json.loads((folder / TASKS_FILE).read_text())}
    except (OSError, ValueError, TypeError, KeyError):
        return set() if batch_file is None else set(batch_file["id"])


def _typed(frame: pd.DataFrame) -> pd.Series:
    """Rows where a person wrote something: a file of them is never overwritten."""
    return (frame["label"].str.strip() != "") | (frame["skip"].str.strip() != "")


def _answered(frame: pd.DataFrame) -> pd.Series:
    """Rows that hold an answer to carry over: a label, or a skip word."""
    return (frame["label"].str.strip() != "") | frame["skip"].str.strip().str.lower().isin(SKIP_WORDS)


def _answers_given(folder: Path) -> pd.DataFrame:
    """id -> (label, skip) as first given in the folder's answer files, the newest file first."""
    files = [p for p in folder.glob("*") if p.name in (BATCH_FILE, EXPORT_FILE)
             or (p.name.startswith(SUPERSEDED) and p.suffix in (".csv", ".json"))]
    frames = []
    for path in sorted(files, key=lambda p: p.stat().st_mtime_ns, reverse=True):
        try:
            frame = _read_export(path) if path.suffix == ".json" else _read_csv(path)
        except DataError as exc:  # an old file that no longer reads holds nothing to carry over
            log.warning("%s: not read for earlier answers (%s)", path, exc)
            continue
        frames.append(frame.loc[_answered(frame), ["id", "label", "skip"]])
    if not frames:
        return pd.DataFrame({"label": [], "skip": []}, index=pd.Index([], name="id"), dtype=str)
    return pd.concat(frames).drop_duplicates("id").set_index("id")


def _set_aside(path: Path) -> Path:
    """Rename ``path`` to superseded-<time>[-export].<suffix>, never over an earlier one."""
    stem = f"{SUPERSEDED}{time.strftime('%Y%m%d-%H%M%S')}{'-export' if path.name == EXPORT_FILE else ''}"
    aside, n = path.with_name(stem + path.suffix), 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{stem}-{n}{path.suffix}")
    path.replace(aside)
    log.warning("the selection changed: the answers given in %s are kept in %s", path, aside)
    return aside


def answered(folder: Path) -> int | None:
    """How many instances of the folder's batch hold an answer so far (in export.json if there is one, as
    read_answers reads it), or None when no answer file reads: merge-labels says what is wrong with it."""
    export, path = folder / EXPORT_FILE, folder / BATCH_FILE
    try:
        frame = _read_export(export) if export.exists() else _read_csv(path) if path.exists() else None
    except DataError:
        return None
    return None if frame is None else int(_answered(frame).sum())


def read_answers(folder: Path, batch_ids, labels: tuple[str, ...]) -> Answers:
    """The labels given for the batch ``batch_ids``; LabelsPendingError while none are; DataError if wrong."""
    export, path = folder / EXPORT_FILE, folder / BATCH_FILE
    if export.exists():
        given = _read_export(export)
        given = given.assign(skip=given["skip"] != "")
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
        raise LabelsPendingError(_pending(folder, len(batch_ids)) + " (the batch file is missing: the next run "
                                 "writes it again)")
    given = given.assign(label=given["label"].str.strip())
    hint = _typed_into_suggestion(folder, given) if source == path else ""
    if not ((given["label"] != "") | given["skip"]).any():
        raise LabelsPendingError(_pending(folder, len(batch_ids)) + (f"; {hint}" if hint else ""))
    return _check(given[["id", "label", "skip"]], pd.Index(batch_ids).astype(str), labels, str(source),
                  holds_every_row=source == path, hint=hint)


def answers_from_tasks(tasks: list[dict], batch_ids, labels: tuple[str, ...], source: str, pending: str) -> Answers:
    """The labels given for the batch ``batch_ids`` in Label Studio tasks as its JSON export holds them (what the
    live server returns): read and checked exactly as export.json is, so that a label from the server and one
    from a saved export obey the same rules. LabelsPendingError(``pending``) while none is given."""
    given = _export_frame(tasks, source)
    given = given.assign(skip=given["skip"] != "", label=given["label"].str.strip())
    if not ((given["label"] != "") | given["skip"]).any():
        raise LabelsPendingError(pending)
    return _check(given[["id", "label", "skip"]], pd.Index(batch_ids).astype(str), labels, source,
                  holds_every_row=False, leave_out="label them there, or Skip them to leave them out")


def _check(given: pd.DataFrame, batch: pd.Index, labels: tuple[str, ...], source: str, holds_every_row: bool,
           hint: str = "", leave_out: str = "label them, or write yes under skip to leave them out") -> Answers:
    """Every problem of the answers at once. ``holds_every_row``: the source was written with a row per id of
    the batch (batch.csv is; a Label Studio export leaves out tasks never annotated), so an absent id was deleted."""
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
    present = set(given["id"])
    absent = [i for i in batch if i not in present] if holds_every_row else []
    if absent:
        problems.append(f"rows missing from the file (deleted?), ids {listing(absent)}: put them back, each with its "
                        f"id and a label or yes under skip (their texts are in {TASKS_FILE} beside it)")
    missing = [i for i in batch if i not in answered_or_skipped and (i in present or not holds_every_row)]
    unlabeled = f"ids with no label ({leave_out}): {listing(missing)}"
    if hint:
        problems.append(hint)
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems + ([unlabeled] if missing else [])))
    if missing:  # a batch labeled in part is a wait, not a mistake: `cartal status` counts the answers so far
        raise LabelsPendingError(f"{source}: {len(batch) - len(missing)} of {len(batch)} answered, {unlabeled}; "
                                 "then run `cartal repro` again")
    first = answered.drop_duplicates("id").set_index("id")["label"]
    return Answers(labels=first, skipped=tuple(sorted(skipped)), source=source)


def _read_export(path: Path) -> pd.DataFrame:
    """A Label Studio JSON export as (id, label, skip) strings, skip "yes" for a task skipped in Label Studio."""
    try:
        tasks = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a Label Studio JSON export ({exc}); export the project again as JSON") from exc
    return _export_frame(tasks, str(path))


def _export_frame(tasks: list[dict], source: str) -> pd.DataFrame:
    """Label Studio tasks (the JSON export format) as (id, label, skip) strings, skip "yes" for a skipped task."""
    from cartal.annotation.label_studio import labels_from_export

    given = labels_from_export(tasks, source=source).fillna({"label": ""})
    return pd.DataFrame({"id": given["id"].astype(str), "label": given["label"].astype(str),
                         "skip": given["skipped"].astype(bool).map({True: "yes", False: ""})})


def _read_csv(path: Path) -> pd.DataFrame:
    """The batch file as strings, as a spreadsheet saves it: comma, semicolon or tab, UTF-8 with or without a BOM."""
    def unreadable(exc: Exception) -> DataError:
        return DataError(f"{path}: unreadable ({exc}); fix the file (deleted, it is written again without its "
                         "labels) and run `cartal repro` again")

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(exc) from exc
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte order mark
    except UnicodeDecodeError as exc:  # cp1252 or latin-1 read as UTF-8 would be refused, or worse, mangled
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} on line {line}), as a spreadsheet's "
                        "plain 'CSV' is in some countries; save it as CSV UTF-8 (comma-separated) and run "
                        "`cartal repro` again") from exc
    delimiter = _delimiter(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise unreadable(exc) from exc
    missing = [c for c in ("id", "label", "skip") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: columns {', '.join(missing)} missing (found {', '.join(frame.columns)}, reading it "
                        f"as {DELIMITERS[delimiter]}-separated); keep the columns the pipeline wrote "
                        f"({', '.join(COLUMNS)}), fill in 'label' and save it as CSV UTF-8 (comma-separated)")
    # a row cleared rather than deleted holds nothing: it is as good as gone, not a row with an empty id
    return frame[frame.apply(lambda column: column.str.strip() != "").any(axis=1)].reset_index(drop=True)


def _delimiter(text: str) -> str:
    """The delimiter of the header line: the names the pipeline wrote hold no punctuation, where the texts
    below, with their commas and quotes, could mislead the sniffer."""
    try:
        return csv.Sniffer().sniff(text.partition("\n")[0], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:  # a single column: read it as commas, and the column check says what it found
        return ","


def _typed_into_suggestion(folder: Path, given: pd.DataFrame) -> str:
    """A hint where rows without a label or skip hold a suggestion other than the model's (in tasks.json):
    labels typed into the wrong column."""
    from cartal.annotation.label_studio import suggestions_from_tasks

    if "suggestion" not in given.columns:
        return ""
    try:
        model = suggestions_from_tasks(json.loads((folder / TASKS_FILE).read_text()))
    except Exception:  # only a hint: a tasks.json gone or not as the pipeline wrote it gives none
        return ""
    suggestion = given["suggestion"].str.strip()
    typed = given[(given["label"] == "") & ~given["skip"] & given["id"].isin(model.keys()) & (suggestion != "")
                  & (suggestion != given["id"].map(model))]
    if typed.empty:
        return ""
    return (f"the suggestion column differs from the model's suggestions where the label is empty, for ids "
            f"{listing(typed['id'])}: did you type the labels into 'suggestion'? Labels go in 'label'")


def _pending(folder: Path, size: int) -> str:
    return (f"{size} instances wait for labels in {folder}/: fill the 'label' column of {folder / BATCH_FILE} "
            f"(the 'suggestion' column holds the model's guess; write yes under 'skip' to leave one out), "
            f"or import {folder / TASKS_FILE} into Label Studio and save its JSON export as {folder / EXPORT_FILE}; "
            "then run `cartal repro` again")
