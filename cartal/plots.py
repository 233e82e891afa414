"""Figures people would rather look at than read: data maps and learning curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cartal.dynamics import ambiguous_threshold
from cartal.io.artifacts import atomic_path
from cartal.params import MapParams


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_data_map(data_map: pd.DataFrame, path: str | Path, title: str, thresholds: MapParams = MapParams()) -> Path:
    """Variability (x) against confidence (y), coloured by correctness, with the region thresholds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    points = ax.scatter(data_map["variability"], data_map["confidence"], c=data_map["correctness"],
                        cmap="coolwarm_r", vmin=0, vmax=1, s=12, alpha=0.8, edgecolors="none")
    fig.colorbar(points, ax=ax, label="correctness")
    ax.axvline(ambiguous_threshold(data_map["variability"].to_numpy(), thresholds), color="grey", lw=0.8, ls="--")
    ax.axhline(thresholds.easy_confidence, color="grey", lw=0.8, ls=":")
    counts = data_map["region"].value_counts()
    legend = ", ".join(f"{region} {counts.get(region, 0)}" for region in ("easy-to-learn", "ambiguous", "hard-to-learn"))
    ax.set(xlabel="variability", ylabel="confidence", xlim=(0, max(0.5, data_map["variability"].max() * 1.05)),
           ylim=(0, 1), title=f"{title}\n{legend}")
    fig.tight_layout()
    return _save(fig, path)


def plot_learning_curve(curve: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Test accuracy and macro-F1 against the number of labeled instances."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot(curve["labeled"], curve["accuracy"], marker="o", ms=3, label="accuracy")
    ax.plot(curve["labeled"], curve["macro_f1"], marker="s", ms=3, ls="--", label="macro-F1")
    ax.set(xlabel="labeled instances", ylabel="test score", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path) -> Path:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
