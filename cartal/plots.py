"""Figures people would rather look at than read: data maps and learning curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cartal.dynamics import ambiguous_threshold
from cartal.io.artifacts import atomic_path
from cartal.params import MapParams


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_data_maps(maps: dict[str, pd.DataFrame], path: str | Path, title: str,
                   thresholds: MapParams = MapParams()) -> Path:
    """Data maps side by side, one per titled frame: variability (x) against confidence (y), coloured by
    correctness, with the thresholds that name the regions and each region's count."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps) + 1, 4.8), dpi=100, squeeze=False,
                             sharey=True, layout="constrained")  # room for the titles above the colour bar
    points = None
    for ax, (name, data_map) in zip(axes[0], maps.items()):
        points = _map_points(ax, data_map, size=10, alpha=0.8)
        ax.axvline(ambiguous_threshold(data_map["variability"].to_numpy(), thresholds), color="grey", lw=0.8,
                   ls="--")
        ax.axhline(thresholds.easy_confidence, color="grey", lw=0.8, ls=":")
        counts = data_map["region"].value_counts()
        regions = ", ".join(f"{region} {counts.get(region, 0)}"
                            for region in ("easy-to-learn", "ambiguous", "hard-to-learn"))
        ax.set(xlabel="variability", xlim=(0, max(0.5, data_map["variability"].max() * 1.05)), ylim=(0, 1))
        ax.set_title(f"{name}: |L| = {len(data_map)}\n{regions}", fontsize=9)
    axes[0][0].set_ylabel("confidence")
    if points is not None:
        fig.colorbar(points, ax=axes, label="correctness", shrink=0.8)
    fig.suptitle(title)
    return _save(fig, path)


def _map_points(ax, data_map: pd.DataFrame, size: float, alpha: float):
    """A data map's instances: variability (x) against confidence (y), coloured by correctness."""
    return ax.scatter(data_map["variability"], data_map["confidence"], c=data_map["correctness"],
                      cmap="coolwarm_r", vmin=0, vmax=1, s=size, alpha=alpha, edgecolors="none")


def plot_learning_curve(curve: pd.DataFrame, path: str | Path, title: str, stops: dict[str, int] | None = None) -> Path:
    """Test accuracy and macro-F1 against the number of labeled instances; ``stops``: a dotted line at the |L|
    where each stopping criterion first said stop (cartal.report.first_stops)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot(curve["labeled"], curve["accuracy"], marker="o", ms=3, label="accuracy")
    ax.plot(curve["labeled"], curve["macro_f1"], marker="s", ms=3, ls="--", label="macro-F1")
    for (criterion, labeled), colour in zip(sorted((stops or {}).items(), key=lambda item: item[1]),
                                            ("tab:green", "tab:red", "tab:purple", "tab:brown", "tab:grey")):
        ax.axvline(labeled, color=colour, lw=1, ls=":",
                   label=f"{criterion.replace('_', ' ')} says stop ({labeled})")
    ax.set(xlabel="labeled instances", ylabel="test score", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path) -> Path:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def plot_mean_curves(means: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Mean test accuracy against |L| per strategy, with a band of one standard deviation over seeds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for strategy, curve in means.groupby("strategy", sort=True):
        line, = ax.plot(curve["labeled"], curve["accuracy_mean"], marker="o", ms=2.5, lw=1.4, label=strategy)
        ax.fill_between(curve["labeled"], curve["accuracy_low"], curve["accuracy_high"], color=line.get_color(),
                        alpha=0.15, lw=0)
    seeds = int(means["seeds"].max())
    ax.set(xlabel="labeled instances", ylabel="test accuracy", title=f"{title}\nmean and std over {seeds} seed(s)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def plot_map_grid(maps: dict[tuple[str, str], pd.DataFrame], path: str | Path, title: str) -> Path:
    """Data maps of L side by side: one row per strategy, one column per round label ("first", "last")."""
    plt = _pyplot()
    strategies = sorted({strategy for strategy, _ in maps})
    columns = sorted({which for _, which in maps}, key=lambda w: (w != "first", w))
    # constrained layout: with a colorbar beside a tall grid, the default one left wide bands empty
    size = (3.6 * len(columns) + 1, 2.6 * len(strategies) + 0.6)
    fig, axes = plt.subplots(len(strategies), len(columns), figsize=size, dpi=90, squeeze=False, sharex=True,
                             sharey=True, layout="constrained")
    points = None
    for row, strategy in enumerate(strategies):
        for col, which in enumerate(columns):
            ax = axes[row][col]
            frame = maps.get((strategy, which))
            if frame is not None:
                points = _map_points(ax, frame, size=5, alpha=0.7)
                ax.set_title(f"{strategy}: {which} round, |L| = {len(frame)}", fontsize=9)
            ax.set(ylim=(0, 1))
            if row == len(strategies) - 1:
                ax.set_xlabel("variability")
            if col == 0:
                ax.set_ylabel("confidence")
    if points is not None:
        fig.colorbar(points, ax=axes, label="correctness", shrink=0.5, aspect=30)
    fig.suptitle(title)
    return _save(fig, path)


def plot_overlap(matrix: pd.DataFrame, path: str | Path, title: str) -> Path:
    """A heatmap of the Jaccard overlap between the strategies' selections."""
    plt = _pyplot()
    size = 1.1 * len(matrix) + 2
    fig, ax = plt.subplots(figsize=(size, size * 0.85), dpi=110)
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(matrix.index)), matrix.index)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black", fontsize=8)
    fig.colorbar(image, ax=ax, label="Jaccard overlap")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_ablation(frame: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Each variant's AULC change against the baseline, one marker per strategy, with the variant's AULC std
    over seeds as a bar: what each reference behaviour does to each strategy."""
    plt = _pyplot()
    variants = list(dict.fromkeys(frame["variant"]))
    strategies = sorted(set(frame["strategy"]))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(variants) + 1.6), dpi=110)
    offsets = np.linspace(-0.2, 0.2, len(strategies)) if len(strategies) > 1 else [0.0]
    for offset, strategy in zip(offsets, strategies):
        rows = frame[frame["strategy"] == strategy]
        y = [variants.index(v) + offset for v in rows["variant"]]
        ax.errorbar(rows["aulc_change"], y, xerr=rows["aulc_std"], fmt="o", ms=4, capsize=2, lw=0.8, label=strategy)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(variants)), variants)
    ax.invert_yaxis()
    ax.set(xlabel="AULC change against the baseline (bar: the variant's std over seeds)", title=title)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
