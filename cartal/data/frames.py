"""The frames every stage reads, and the helpers that build them from a user's raw table.

A leaf of cartal.data: sources (a user's files and hub datasets) and datasets
(the built-in ones) both build on it, so neither has to import the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from cartal.data.places import Places, counted
from cartal.data.validate import validate_frame
from cartal.errors import DataError, listing


@dataclass(frozen=True)
class Dataset:
    name: str
    train: pd.DataFrame  # id, text, label
    test: pd.DataFrame
    labels: tuple[str, ...]  # the class order every model uses
    seed_ids: tuple[str, ...] | None = None  # L0 given by the user (a labeled seed file); None = drawn


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows in order of their id (stable, so equal ids keep their order), numbered from 0."""
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def frame_from_hf(part, source: str, text_columns: list[str], label_column: str | None = None,
                  id_column: str | None = None, id_prefix: str = "row",
                  label_names: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A loaded Hugging Face Dataset as (id, text, label), by the rules of :func:`cartal.data.sources.read_file`.

    Integer labels become names: a ClassLabel's own, else ``label_names`` (by position).
    """
    require_columns(source, part.column_names, text_columns, label_column, id_column)
    raw = part.select_columns(list(dict.fromkeys([*text_columns, *filter(None, [label_column, id_column])])))
    frame = raw.to_pandas()
    names = (getattr(part.features[label_column], "names", None) or label_names) if label_column else None
    if names:  # -1 (or anything out of range) means no label and is reported as missing
        frame[label_column] = [names[c] if c is not None and 0 <= c < len(names) else None
                               for c in part[label_column]]
    return to_frame(frame, source, text_columns, label_column, id_column, id_prefix, lambda: counted(len(frame)))


def require_columns(source: str, found: list, text_columns: list[str], label_column: str | None,
                    id_column: str | None) -> None:
    if not text_columns or isinstance(text_columns, str):
        raise DataError(f"{source}: text_columns must be a non-empty list of column names, got {text_columns!r}")
    needed = [*text_columns, *filter(None, [label_column, id_column])]
    missing = [c for c in dict.fromkeys(needed) if c not in found]
    if missing:
        raise DataError(f"{source}: column(s) {', '.join(map(repr, missing))} missing "
                        f"(found {', '.join(map(str, found))}); name columns the data has")


def to_frame(raw: pd.DataFrame, source: str, text_columns: list[str], label_column: str | None,
             id_column: str | None, id_prefix: str, places: Callable[[], Places]) -> pd.DataFrame:
    """Join, name and check the columns; an error names the rows as ``places()`` finds them, and their ids."""
    if len(raw) == 0:
        raise DataError(f"{source}: no rows (only a header, or nothing); a dataset needs at least one row")
    text = joined_text(raw, text_columns)
    rows = pd.RangeIndex(len(raw))
    if id_column:
        ids = _strings(raw[id_column])
        empty = [r for r, i in zip(rows, ids) if not i]
        if empty:
            raise DataError(f"{source}: empty id in '{id_column}' at {places().at(empty)}; "
                            "fill them in or leave out id_column to number the rows")
        duplicated = pd.Series(ids)[pd.Series(ids).duplicated(keep=False)]
        if len(duplicated):
            where = places()
            repeated = (f"{i} ({where.of(group.index)})" for i, group in duplicated.groupby(duplicated, sort=False))
            raise DataError(f"{source}: duplicate ids in '{id_column}' ({where.first}): {listing(repeated)}; "
                            "ids must be unique")
    else:
        ids = [f"{id_prefix}-{r}" for r in rows]
    no_text = [r for r, t in zip(rows, text) if not t]
    if no_text:
        raise DataError(f"{source}: no text in {', '.join(text_columns)} at {places().at(no_text, _of(ids, no_text))}; "
                        "fill in the text or drop those rows")
    if label_column is None:
        # an unlabeled pool: validate_frame insists on labels, so check it with a stand-in and put None back
        frame = pd.DataFrame({"id": ids, "text": text, "label": "unlabeled"})
        return validate_frame(frame, source).assign(label=None)
    labels = _strings(raw[label_column])
    unlabeled = [r for r, label in zip(rows, labels) if not label]
    if unlabeled:
        raise DataError(f"{source}: no label in '{label_column}' at {places().at(unlabeled, _of(ids, unlabeled))}; "
                        "label those rows, drop them, or read the file without label_column as an unlabeled pool")
    return validate_frame(pd.DataFrame({"id": ids, "text": text, "label": labels}), source)


def _of(ids: list[str], rows: list[int]) -> list[str]:
    return [ids[r] for r in rows]


def joined_text(raw: pd.DataFrame, text_columns) -> list[str]:
    """Each row's text: the ``text_columns`` in order, each stripped, empty ones dropped, joined by one space."""
    parts = [_strings(raw[column]) for column in text_columns]
    return [" ".join(p for p in row if p) for row in zip(*parts)]


def _strings(column: pd.Series) -> list[str]:
    """Each cell as a stripped string; a missing cell (None, NaN, NA) as ''."""
    return ["" if _missing(value) else str(value).strip() for value in column]


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)
