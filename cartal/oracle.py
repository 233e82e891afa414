"""The oracle's answer joins L: move a selected batch, with its labels, from the pool into L.

The labels come from the dataset (``gold``, a simulation) or from a person
(see cartal.annotation); ids a person skipped leave the pool without joining L.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartal.errors import ArtifactError, listing


def merge_labels(labeled: pd.DataFrame, pool_ids: np.ndarray, selected_ids: np.ndarray,
                 gold: pd.Series, next_round: int, source: str = "selected batch",
                 skipped=()) -> tuple[pd.DataFrame, np.ndarray]:
    """Return (L_{k+1}, U_{k+1}): L grows by the selected ids with ``gold[id]``, U loses them.

    ``gold`` maps id -> label. ``skipped`` ids (part of the selection) leave U
    without joining L. Both outputs are sorted by id.
    """
    all_selected = pd.Index(np.asarray(selected_ids, dtype=object))
    skipped = pd.Index(np.asarray(list(skipped), dtype=object))
    selected = all_selected.difference(skipped, sort=False) if len(skipped) else all_selected
    pool = pd.Index(np.asarray(pool_ids, dtype=object))
    problems = []
    if selected.has_duplicates:
        problems.append(f"ids selected twice: {listing(selected[selected.duplicated()])}")
    outside = selected.difference(pool)
    if len(outside):
        problems.append(f"ids not in the pool: {listing(outside)}")
    unknown = selected.difference(gold.index)
    if len(unknown):
        problems.append(f"ids with no gold label: {listing(unknown)}")
    if problems:
        raise ArtifactError(f"{source}: " + "; ".join(problems) + "; rerun the stage 'select' (`dvc repro`)")
    added = pd.DataFrame({"id": selected.to_numpy(), "label": gold.loc[selected].to_numpy(),
                          "round": np.full(len(selected), next_round, dtype=np.int32)})
    labeled_next = pd.concat([labeled, added], ignore_index=True).sort_values("id", kind="stable")
    pool_next = np.sort(pool.difference(all_selected).to_numpy())
    return labeled_next.reset_index(drop=True), pool_next
