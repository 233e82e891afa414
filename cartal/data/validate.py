"""Checks that every dataset passes before anything is written: columns, ids, texts, labels."""

from __future__ import annotations

import pandas as pd

from cartal.errors import DataError, listing

REQUIRED = ("id", "text", "label")


def validate_frame(frame: pd.DataFrame, source: str, labels: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Return ``frame`` as (id, text, label) strings, or raise :class:`DataError` listing bad rows."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: column(s) {', '.join(missing)} missing (found {', '.join(map(str, frame.columns))}); "
            "a dataset needs an id, a text and a label column"
        )
    frame = frame.loc[:, list(REQUIRED)].reset_index(drop=True)
    for column in ("id", "label"):
        blank = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if blank.any():
            raise DataError(f"{source}: {blank.sum()} row(s) with an empty {column}: "
                            f"rows {listing(frame.index[blank])}")
    blank_text = frame["text"].isna() | (frame["text"].astype(str).str.strip() == "")
    if blank_text.any():
        raise DataError(
            f"{source}: {blank_text.sum()} empty text(s), ids {listing(frame.loc[blank_text, 'id'])}; "
            "remove those rows or fill in their text"
        )
    frame = frame.astype({"id": str, "text": str, "label": str})
    duplicated = frame["id"].duplicated(keep=False)
    if duplicated.any():
        raise DataError(f"{source}: duplicate ids {listing(frame.loc[duplicated, 'id'].unique())}; ids must be unique")
    if labels is not None:
        check_labels(frame, labels, source)
    return frame


def check_labels(frame: pd.DataFrame, labels: tuple[str, ...], source: str, error: type[Exception] = DataError,
                 fix: str = "") -> None:
    """Raise ``error`` listing the rows whose label is not in ``labels``."""
    unknown = ~frame["label"].isin(labels)
    if unknown.any():
        raise error(
            f"{source}: unknown label(s) {listing(frame.loc[unknown, 'label'].unique())} "
            f"(known: {', '.join(labels)}), ids {listing(frame.loc[unknown, 'id'])}{fix}"
        )
