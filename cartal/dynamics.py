"""Training dynamics and the data map (Swayamdipta et al., 2020), in plain numpy and pandas.

For each labeled instance i and epoch e, p(i,e) is the probability of the gold
label in that epoch's training forward pass and c(i,e) is 1 when the arg-max
is the gold label. Over the epochs:

- confidence  = mean of p(i,e)
- variability = population standard deviation of p(i,e)
- correctness = mean of c(i,e)

CAL bins correctness to the nearest 0.2 with Python's round (half to even), as
the reference implementation does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartal.params import MapParams

REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")


def tidy_dynamics(epoch_probs: np.ndarray, ids: np.ndarray, gold: np.ndarray) -> pd.DataFrame:
    """(epochs, n, classes) probabilities -> one row per instance and epoch (epochs count from 1)."""
    epochs, n, _ = epoch_probs.shape
    gold = np.asarray(gold, dtype=np.int64)
    gold_prob = np.take_along_axis(epoch_probs, np.broadcast_to(gold[None, :, None], (epochs, n, 1)), axis=2)[..., 0]
    correct = epoch_probs.argmax(axis=2) == gold[None, :]
    return pd.DataFrame({
        "id": np.tile(np.asarray(ids, dtype=object), epochs),
        "epoch": np.repeat(np.arange(1, epochs + 1, dtype=np.int32), n),
        "gold_prob": gold_prob.reshape(-1).astype(np.float32),
        "correct": correct.reshape(-1),
    })


def bin_correctness(correctness: np.ndarray) -> np.ndarray:
    """Correctness to the nearest 0.2: round(5 x correctness) / 5, ties to even."""
    return np.round(np.asarray(correctness, dtype=np.float64) * 5) / 5


def data_map(dynamics: pd.DataFrame, thresholds: MapParams = MapParams()) -> pd.DataFrame:
    """Confidence, variability, correctness, binned correctness and region of each instance."""
    grouped = dynamics.assign(gold_prob=dynamics["gold_prob"].astype(np.float64)).groupby("id", sort=True)
    summary = pd.DataFrame({
        "confidence": grouped["gold_prob"].mean(),
        "variability": grouped["gold_prob"].std(ddof=0),  # population std, as np.std
        "hits": grouped["correct"].sum(),
        "epochs": grouped["correct"].size(),
    })
    correctness = summary["hits"].to_numpy(np.float64) / summary["epochs"].to_numpy(np.float64)
    frame = pd.DataFrame({
        "id": summary.index.to_numpy(dtype=object),
        "confidence": summary["confidence"].to_numpy(np.float64),
        "variability": summary["variability"].to_numpy(np.float64),
        "correctness": correctness,
        "correctness_bin": bin_correctness(correctness),
    })
    frame["region"] = regions(frame["confidence"].to_numpy(), frame["variability"].to_numpy(), thresholds)
    return frame


def ambiguous_threshold(variability: np.ndarray, thresholds: MapParams) -> float:
    """The variability from which an instance counts as ambiguous: a quantile of the map's own variability.

    Relative, because absolute variability depends on the epochs and on how far
    from uniform the first epoch starts.
    """
    return float(np.quantile(variability, thresholds.ambiguous_quantile)) if len(variability) else 0.0


def regions(confidence: np.ndarray, variability: np.ndarray, thresholds: MapParams) -> np.ndarray:
    """Ambiguous if variability lies above the quantile; otherwise easy-to-learn if confident, else hard-to-learn.

    Strictly above, so that instances that never vary (one epoch, say) are not all ambiguous.
    """
    return np.where(
        variability > ambiguous_threshold(variability, thresholds), "ambiguous",
        np.where(confidence >= thresholds.easy_confidence, "easy-to-learn", "hard-to-learn"),
    ).astype(object)


def batch_statistics(data_map_next: pd.DataFrame, batch_ids) -> dict[str, float]:
    """Mean confidence, variability and correctness of a selected batch in the next round's map."""
    rows = data_map_next[data_map_next["id"].isin(set(batch_ids))]
    return {
        "size": int(len(rows)),
        "confidence": float(rows["confidence"].mean()),
        "variability": float(rows["variability"].mean()),
        "correctness": float(rows["correctness"].mean()),
    }
