"""Aggregate one experiment's rounds: the learning curve, its summary and batch statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartal.dynamics import batch_statistics
from cartal.metrics import area_under_curve

STOP_PREFIX = "stop_"


def learning_curve(round_metrics: list[dict]) -> pd.DataFrame:
    """One row per evaluated round: round, labeled, accuracy, macro_f1, and a column stop_<criterion> (0 or 1)
    per stopping criterion the rounds recorded: whether it said stop after that round."""
    curve = pd.DataFrame(round_metrics, columns=["round", "labeled", "accuracy", "macro_f1"])
    criteria = list(dict.fromkeys(name for m in round_metrics for name in m.get("stopping", {})))
    for name in criteria:
        curve[STOP_PREFIX + name] = [int(bool(m.get("stopping", {}).get(name, {}).get("stop"))) for m in round_metrics]
    return curve.sort_values("round").reset_index(drop=True)


def first_stops(curve: pd.DataFrame) -> dict[str, int]:
    """Each stopping criterion that said stop within the curve -> |L| at the first round it did."""
    return {column[len(STOP_PREFIX):]: int(curve.loc[curve[column] == 1, "labeled"].iloc[0])
            for column in curve.columns if column.startswith(STOP_PREFIX) and (curve[column] == 1).any()}


def batch_table(selections: dict[int, np.ndarray], maps: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Statistics of the batch selected in round k, measured in round k+1's data map."""
    rows = []
    for k in sorted(selections):
        stats = batch_statistics(maps[k + 1], selections[k])
        rows.append({"round": k, **stats})
    return pd.DataFrame(rows, columns=["round", "size", "confidence", "variability", "correctness"])


def summarise(curve: pd.DataFrame, batches: pd.DataFrame, **context) -> dict:
    last = curve.iloc[-1]
    summary = {
        **context,
        "rounds": int(len(curve) - 1),
        "final_labeled": int(last["labeled"]),
        "final_accuracy": float(last["accuracy"]),
        "final_macro_f1": float(last["macro_f1"]),
        "aulc_accuracy": area_under_curve(curve["labeled"], curve["accuracy"]),
        "aulc_macro_f1": area_under_curve(curve["labeled"], curve["macro_f1"]),
    }
    if len(batches):
        summary["batch_mean"] = {
            stat: float(batches[stat].mean()) for stat in ("confidence", "variability", "correctness")
        }
    return summary
