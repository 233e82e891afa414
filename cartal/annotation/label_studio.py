"""Label Studio as the oracle of a human labeling round, as pure functions on JSON-able data.

A human round hands the batch to label (columns ``id``, ``text``, ``suggestion``, ``confidence``) to
Label Studio and reads a label per id back from a Label Studio JSON export. Nothing here imports
Label Studio or its SDK: the server runs in a virtualenv of its own (see ``.ci/label-studio.sh``), and
these functions only build what its API takes (the labeling config, the tasks to import) and read
what it gives back (the export).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from xml.sax.saxutils import quoteattr

import pandas as pd

from cartal.errors import DataError, listing

#: The names tying the labeling config, the pre-annotations and the export together.
FROM_NAME = "label"
TO_NAME = "text"
BATCH_COLUMNS = ("id", "text", "suggestion", "confidence")
#: Why the strategy picked an instance (selected.parquet's columns): shown to the annotator when the batch has them.
PICK_COLUMNS = ("rank", "score", "picked_by")
#: The task field the labeling interface shows above the text: why the instance is there and what the model says.
WHY = "why"


def labeling_config(labels: list[str]) -> str:
    """The Label Studio labeling config (XML) for single-choice classification of ``$text`` over ``labels``.

    One ``<Choice>`` per label, in the order given; label names are escaped for XML attributes, so
    ``&``, ``<``, quotes and newlines survive. Raises DataError for no labels, an empty or non-string
    label, or a label listed twice.
    """
    labels = list(labels)
    problems = []
    if not labels:
        problems.append("no labels")
    bad = [repr(label) for label in labels if not isinstance(label, str) or not label.strip()]
    if bad:
        problems.append(f"labels that are not non-empty strings: {listing(bad)}")
    seen, twice = set(), []
    for label in (label for label in labels if isinstance(label, str)):
        if label in seen and label not in twice:
            twice.append(label)
        seen.add(label)
    if twice:
        problems.append(f"labels listed twice: {listing(twice)}")
    if problems:
        raise DataError("Label Studio labeling config: " + "; ".join(problems)
                        + "; pass the distinct label names of the dataset")
    choices = "\n".join(f"    <Choice value={quoteattr(label)}/>" for label in labels)
    return (f'<View>\n'
            f'  <Header value="${WHY}" size="6"/>\n'
            f'  <Text name="{TO_NAME}" value="$text"/>\n'
            f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true">\n'
            f'{choices}\n'
            f'  </Choices>\n'
            f'</View>\n')


def tasks_from_batch(batch: pd.DataFrame, model_version: str) -> list[dict]:
    """One Label Studio task per row of ``batch``, with the model's suggestion as a pre-annotation.

    Each task is ``{"data": {"id", "text", "why"}, "predictions": [{"model_version", "score", "result"}]}``,
    the result a single ``choices`` region (``from_name`` "label", ``to_name`` "text") holding the
    suggestion, and ``score`` the confidence. ``why`` is the line the labeling interface shows above the
    text: the strategy's pick when the batch has :data:`PICK_COLUMNS` ("picked 3rd of 50 by entropy, score
    1.52"), then the model's suggestion and its confidence; with them, ``rank``, ``score`` (the strategy's
    acquisition score) and ``picked_by`` are task fields too, so Label Studio's data manager can sort the
    batch by them. Every value is a plain ``str``, ``int`` or ``float`` (JSON-able). Raises DataError for a
    missing column, a missing value, a non-finite confidence or score, or a duplicate id.
    """
    missing = [c for c in BATCH_COLUMNS if c not in batch.columns]
    if missing:
        raise DataError(f"batch to label: missing columns {listing(missing)}; "
                        f"it needs {', '.join(BATCH_COLUMNS)}")
    picks = all(c in batch.columns for c in PICK_COLUMNS)
    problems = []
    for column in BATCH_COLUMNS + (PICK_COLUMNS if picks else ()):
        empty = batch.loc[batch[column].isna(), "id"]
        if len(empty):
            problems.append(f"no {column} for ids {listing(empty)}")
    ids = batch["id"].astype(str)
    if ids.duplicated().any():
        problems.append(f"ids listed twice: {listing(ids[ids.duplicated()].unique())}")
    numbers = {column: pd.to_numeric(batch[column], errors="coerce")
               for column in (("confidence", "score") if picks else ("confidence",))}
    for column, values in numbers.items():
        bad = ids[batch[column].notna() & ~values.map(lambda v: pd.notna(v) and math.isfinite(v))]
        if len(bad):
            problems.append(f"{column} not a finite number for ids {listing(bad)}")
    if problems:
        raise DataError("batch to label: " + "; ".join(problems))
    tasks = []
    pick_of = zip(batch["rank"], numbers["score"], batch["picked_by"]) if picks else itertools.repeat(None)
    for id_, text, suggestion, score, pick in zip(ids, batch["text"], batch["suggestion"], numbers["confidence"],
                                                  pick_of):
        data = {"id": id_, "text": str(text)}
        said = f"the model suggests {suggestion} ({score:.0%} confident)"
        if pick is not None:
            rank, acquisition, by = int(pick[0]), float(pick[1]), str(pick[2])
            data.update(rank=rank, score=acquisition, picked_by=by)
            said = f"picked {_ordinal(rank)} of {len(batch)} by {by}, score {acquisition:.4g}; {said}"
        data[WHY] = said[0].upper() + said[1:]
        tasks.append({
            "data": data,
            "predictions": [{
                "model_version": str(model_version),
                "score": float(score),
                "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                            "value": {"choices": [str(suggestion)]}}],
            }],
        })
    return tasks


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def labels_from_export(export: list[dict], source: str, labels: list[str] | None = None) -> pd.DataFrame:
    """The label per id of a Label Studio JSON export: columns ``id`` (str), ``label`` (str or None), ``skipped``.

    ``export`` is the "JSON" export format: a list of tasks, each with ``data`` (holding the ``id`` that
    :func:`tasks_from_batch` put there) and ``annotations``, each annotation with ``result``,
    ``was_cancelled`` and ``updated_at``/``created_at``. The rules, per task:

    - the label comes from the **latest non-cancelled annotation**: latest by ``updated_at`` (or
      ``created_at`` where it has none), ties broken by annotation id, then by order in the export.
      Earlier annotations, cancelled ones and ``predictions`` (the model's suggestions) are ignored,
      so a task labeled twice gets its newest label, even if it was skipped in between or after;
    - a task whose annotations were all cancelled (the annotator pressed Skip) gives
      ``label=None, skipped=True``;
    - a task with no annotation at all gives ``label=None, skipped=False``: it is simply missing
      (not labeled yet), as is any id of the batch that the export does not hold (the export API
      leaves such tasks out unless asked with ``download_all_tasks=true``; skipped ones are in);
    - the label is the one choice of the control named "label" (``type`` "choices") in the chosen
      annotation's ``result``; regions of other controls are ignored, and so are ``drafts``
      (annotations never submitted).

    Raises DataError naming ``source`` and the offending task ids (the ``data.id``, or Label Studio's
    task id where there is none) for: an export that is not a list of tasks, a task without
    ``data.id``, an id held by several tasks, a chosen annotation whose result holds several
    choices or no choice at all, and one not shaped as Label Studio writes it (a result that is not a
    list of regions, choices that are not a list of strings, annotations that are not a list). With ``labels`` given, a label outside them is an error too: Label
    Studio's API stores any choice value, whether the labeling config lists it or not. Rows are
    sorted by id.
    """
    if not isinstance(export, list):
        raise DataError(f"{source}: not a Label Studio JSON export (expected a list of tasks, "
                        f"got {type(export).__name__}); export the project in the 'JSON' format")
    no_id, several, no_choice, not_tasks, unknown, malformed = [], [], [], [], [], []
    known = None if labels is None else {str(label) for label in labels}
    rows: dict[str, tuple[str | None, bool]] = {}
    twice: list[str] = []
    for position, task in enumerate(export):
        if not isinstance(task, Mapping):
            not_tasks.append(f"#{position}")
            continue
        data = task.get("data")
        id_ = data.get("id") if isinstance(data, Mapping) else None
        if id_ is None or str(id_) == "":
            no_id.append(_task_name(task, position))
            continue
        id_ = str(id_)
        if id_ in rows and id_ not in twice:
            twice.append(id_)
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            malformed.append(id_)
            continue
        annotations = [a for a in annotations if isinstance(a, Mapping)]
        kept = [(a, i) for i, a in enumerate(annotations) if not a.get("was_cancelled", False)]
        if not kept:
            rows[id_] = (None, bool(annotations))
            continue
        latest = max(kept, key=lambda pair: _recency(*pair))[0]
        choices = _choices(latest)
        if choices is None:
            malformed.append(id_)
        elif len(choices) > 1:
            several.append(id_)
        elif not choices:
            no_choice.append(id_)
        elif known is not None and str(choices[0]) not in known:
            unknown.append(f"{id_} ({choices[0]!r})")
        else:
            rows[id_] = (str(choices[0]), False)
    found = ((not_tasks, "entries that are not tasks: "), (no_id, "tasks without data.id (not imported by cartal): "),
             (twice, "ids held by several tasks: "), (several, "annotations with several choices for tasks "),
             (no_choice, "annotations without a choice for tasks "),
             (malformed, "annotations not shaped as Label Studio writes them (a list of annotations, each "
                         "result a list of regions, each region's choices a list of strings) for tasks "),
             (unknown, "labels not in the labeling config for tasks "))
    problems = [f"{what}{listing(ids)}" for ids, what in found if ids]
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems) + "; fix these tasks in Label Studio "
                        "(one choice per submitted annotation) and export the project again")
    frame = pd.DataFrame({"id": pd.Series(list(rows), dtype=object),
                          "label": pd.Series([label for label, _ in rows.values()], dtype=object),
                          "skipped": pd.Series([skipped for _, skipped in rows.values()], dtype=bool)})
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def suggestions_from_tasks(tasks: list[dict]) -> dict[str, str]:
    """The model's suggestion per id in tasks written by :func:`tasks_from_batch`: its prediction's choice."""
    return {str(task["data"]["id"]): str(choice) for task in tasks
            for prediction in task["predictions"][:1] for choice in _choices(prediction)[:1]}


def _task_name(task: Mapping, position: int) -> str:
    """A task's name for an error: Label Studio's task id, or its position in the export."""
    return f"task {task['id']}" if task.get("id") is not None else f"#{position}"


def _recency(annotation: Mapping, position: int) -> tuple:
    """Sort key of an annotation: its last change (missing ones first), then its id, then its position."""
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    try:
        when = pd.Timestamp(stamp) if stamp else None
    except (ValueError, TypeError):
        when = None
    if when is not None and not pd.isna(when):
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
        moment = (1, when.value)
    else:
        moment = (0, 0)
    ann_id = annotation.get("id")
    return moment, ann_id if isinstance(ann_id, int) else -1, position


def _choices(annotation: Mapping) -> list | None:
    """Every choice of the control "label" in an annotation's result; None if the result is not shaped as
    Label Studio writes it (a string's characters must not pass for choices, nor a number for a result)."""
    result = annotation.get("result") or []
    if not isinstance(result, list):
        return None
    found = []
    for region in result:
        if (isinstance(region, Mapping) and region.get("from_name", FROM_NAME) == FROM_NAME
                and region.get("type", "choices") == "choices"):
            value = region.get("value")
            if isinstance(value, Mapping):
                choices = value.get("choices") or []
                if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                    return None
                found.extend(choices)
    return found
