"""Write a reproduction's aggregate (tables, figures, a Markdown page) and check that it is whole."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cartal import layout, provenance
from cartal.experiments import results
from cartal.experiments.grid import Grid
from cartal.io.artifacts import atomic_path, write_json
from cartal.plots import plot_map_grid, plot_mean_curves, plot_overlap


def output_dir(root: Path, name: str) -> Path:
    """metrics/reproduce/<name>/ under ``root`` (cartal.layout.reproduction)."""
    return root / layout.reproduction(name)


def write_reproduction(runs: list[results.Run], grid: Grid, root: Path, elapsed_s: float | None = None,
                       significance_samples: int = 1000, name: str | None = None, encoder: dict | None = None,
                       on_progress: Callable[[int, int], None] | None = None, jobs: int = 1) -> Path:
    """Everything the paper reports, under metrics/reproduce/<name or dataset>/; returns that folder.
    ``on_progress`` follows the significance tests, the one slow part, which ``jobs`` processes share."""
    name = name or grid.dataset
    out = output_dir(root, name)
    long = results.long_curves(runs)
    means = results.mean_curves(long)
    at = results.budgets(grid.labeled_sizes)
    table = results.strategy_table(long, at)
    significance = results.significance_table(long, samples=significance_samples, on_progress=on_progress,
                                              jobs=jobs)
    batches = results.batch_summary(runs)
    hard = results.hard_to_learn_table(runs)
    stopping = results.stopping_table(runs)
    overlap = results.overlap(runs)

    _csv(long, out / "curves_by_seed.csv")
    _csv(means, out / "curves.csv")
    _csv(means, root / layout.REPRODUCTION_CURVES / f"{name}.csv")
    _csv(table, out / "strategies.csv")
    _csv(significance, out / "significance.csv")
    _csv(batches, out / "batch_stats.csv")
    _csv(hard, out / "hard_to_learn.csv")
    _csv(stopping, out / "stopping.csv")
    _csv(overlap.reset_index(), out / "overlap.csv")
    title = f"{grid.dataset}: |L0| = {grid.seed_size}, {grid.rounds} rounds of {grid.batch_size}"
    plot_mean_curves(means, out / "learning_curves.png", title)
    plot_overlap(overlap, out / "overlap.png", f"{grid.dataset}: overlap of the selected instances")
    first_seed = min(run.seed for run in runs)
    maps = {(run.strategy, which): frame for run in runs if run.seed == first_seed for which, frame in run.maps.items()}
    plot_map_grid(maps, out / "data_maps.png", f"{grid.dataset}, seed {first_seed}: data maps of L")
    computed_on = provenance.distinct(machine for run in runs for machine in run.features_computed_on)
    run_on = provenance.distinct(machine for run in runs for machine in run.rounds_run_on)
    summary = {
        "dataset": grid.dataset, "encoder": encoder, "strategies": list(grid.strategies), "seeds": list(grid.seeds),
        "seed_size": grid.seed_size, "batch_size": grid.batch_size, "rounds": grid.rounds,
        "settings": list(grid.settings), "experiments": sorted(run.name for run in runs),
        "elapsed_s": elapsed_s, "budgets": at,
        "random_final_accuracy": table.attrs.get("target"),
        "features_computed_on": computed_on, "rounds_run_on": run_on,
    }
    write_json(summary, out / "summary.json")
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(markdown(grid, table, significance, batches, hard, overlap, elapsed_s, encoder, stopping,
                                computed_on, run_on))
    return out


def encoder_summary(encoder) -> dict:
    """What summary.json says of the features: the encoder's kind and the params that kind reads."""
    if encoder.kind == "static":
        return {"kind": "static", "vectors": encoder.vectors, "max_tokens": encoder.max_tokens,
                "pooling": encoder.pooling}
    return {"kind": encoder.kind, "name": encoder.name, "max_length": encoder.max_length}


def _encoder_words(encoder: dict | None) -> str:
    if not encoder:
        return "unrecorded"
    if encoder["kind"] == "static":
        return (f"static word vectors ({encoder['vectors']}), {encoder['pooling']} of the first "
                f"{encoder['max_tokens']} tokens")
    return f"{encoder['name']}, mean pooled over at most {encoder['max_length']} word pieces"


def markdown(grid: Grid, table: pd.DataFrame, significance: pd.DataFrame, batches: pd.DataFrame,
             hard: pd.DataFrame, overlap: pd.DataFrame, elapsed_s: float | None, encoder: dict | None = None,
             stopping: pd.DataFrame | None = None, computed_on: list[dict] | None = None,
             run_on: list[dict] | None = None) -> str:
    took = f" in {elapsed_s / 60:.1f} min" if elapsed_s else ""
    parts = [
        f"# Reproduction on {grid.dataset}",
        f"{len(grid.strategies)} strategies x {len(grid.seeds)} seeds ({', '.join(map(str, grid.seeds))}), "
        f"|L0| = {grid.seed_size}, {grid.rounds} rounds of {grid.batch_size}{took}. "
        f"Features: {_encoder_words(encoder)}, computed on {provenance.words(computed_on or [])}; "
        f"rounds run on {provenance.words(run_on or [])}. "
        f"Settings: {', '.join(grid.settings) or 'params.yaml as committed'}.",
        "![learning curves](learning_curves.png)",
        "## Accuracy, area under the learning curve, labels needed",
        "Mean over seeds (std in brackets). The last column: the smallest |L| at which the strategy's mean "
        "accuracy reaches random sampling's final mean accuracy (blank: not within the budget).",
        _table_md(table),
        "## Significance over seeds",
        "ASO: eps_min of the strategy over the other (below 0.2: almost stochastically dominant); "
        "`reverse` is the other direction. A paired bootstrap reports one-sided p-values instead.",
        significance.to_markdown(index=False, floatfmt=".3f") if len(significance) else "(needs 2 seeds or more)",
        "## Batch-level data-map statistics",
        "Of each selected batch, in the next round's data map; averaged over rounds, then over seeds.",
        batches.to_markdown(index=False, floatfmt=".3f"),
        "## CAL's hard-to-learn class",
        "Instances of L with binned correctness <= cal.tau in each round's data map: the class CAL's probe "
        "learns to find. Mean (min to max) over seeds, every fifth round and the last.",
        _hard_md(hard, grid.rounds),
        "## When the stopping criteria would have stopped",
        "Each criterion decides after every round from the model's predictions on the pool, without labels "
        "(params.yaml's stopping block). Per strategy: in how many seeds it said stop within the budget; "
        "where it did, the first round and |L| (mean over those seeds), the labels stopping there saves and "
        "the test accuracy it loses against the last round (mean, and the worst seed).",
        _stopping_md(stopping),
        "## Overlap of the selected instances (Jaccard, mean over seeds)",
        overlap.to_markdown(floatfmt=".2f"),
        "![overlap](overlap.png)",
        "## Data maps of L at the first and the last round",
        "![data maps](data_maps.png)",
    ]
    return "\n\n".join(parts) + "\n"


def _table_md(table: pd.DataFrame) -> str:
    frame = pd.DataFrame({"strategy": table["strategy"]})
    for column in table.columns:
        if column.startswith("acc@"):
            size = column[4:]
            frame[f"acc @ {size}"] = [f"{m:.3f} ({s:.3f})" for m, s in zip(table[column], table[f"std@{size}"])]
    frame["AULC"] = [f"{m:.4f} ({s:.4f})" for m, s in zip(table["aulc"], table["aulc_std"])]
    for column in table.columns:
        if column.startswith("labels_to_"):
            frame["labels to random's final"] = ["" if np.isnan(v) else f"{int(v)}" for v in table[column]]
    return frame.to_markdown(index=False)


def _hard_md(hard: pd.DataFrame, rounds: int) -> str:
    if hard.empty:
        return "(not counted)"
    shown = hard[(hard["round"] % 5 == 0) | (hard["round"] == rounds)]
    cells = shown.assign(cell=[f"{m:.1f} ({lo}-{hi})" for m, lo, hi in
                               zip(shown["hard_mean"], shown["hard_min"], shown["hard_max"])])
    frame = cells.pivot(index="strategy", columns="labeled", values="cell")
    frame.columns = [f"|L| = {size}" for size in frame.columns]
    return frame.reset_index().to_markdown(index=False)


def _stopping_md(stopping: pd.DataFrame | None) -> str:
    if stopping is None or stopping.empty:
        return "(not recorded: these experiments ran before evaluate computed the stopping criteria)"
    frame = pd.DataFrame({"strategy": stopping["strategy"],
                          "criterion": stopping["criterion"].str.replace("_", " "),
                          "stopped": [f"{int(n)} of {int(s)}" for n, s in zip(stopping["stopped"], stopping["seeds"])]})
    never = stopping["stopped"] == 0
    for column, label, form in (("round_mean", "round", "{:.1f}"), ("labeled_mean", r"\|L\|", "{:.0f}"),
                                ("saved_mean", "labels saved", "{:.0f}"), ("lost_mean", "accuracy lost", "{:+.3f}"),
                                ("lost_max", "worst seed", "{:+.3f}")):
        frame[label] = [("never" if column == "round_mean" else "") if n else form.format(v)
                        for n, v in zip(never, stopping[column])]
    return frame.to_markdown(index=False, disable_numparse=True)  # as formatted: "+0.100", not 0.1


def check_reproduction(root: Path, grid: Grid, name: str | None = None) -> list[str]:
    """Problems with a written reproduction: missing experiments or points, statistics out of range."""
    out = output_dir(root, name or grid.dataset)
    problems: list[str] = []
    needed = ["summary.json", "curves_by_seed.csv", "curves.csv", "strategies.csv", "significance.csv",
              "batch_stats.csv", "hard_to_learn.csv", "stopping.csv", "overlap.csv", "learning_curves.png",
              "overlap.png", "data_maps.png", "results.md"]
    missing = [name for name in needed if not (out / name).is_file()]
    if missing:
        return [f"{out}: missing {', '.join(missing)}; run `cartal reproduce`"]
    summary = json.loads((out / "summary.json").read_text())
    expected = sorted(e.name for e in grid.experiments())
    if summary["experiments"] != expected:
        absent = sorted(set(expected) - set(summary["experiments"]))
        problems.append(f"experiments not in the aggregate: {', '.join(absent) or 'none'}; "
                        f"extra: {', '.join(sorted(set(summary['experiments']) - set(expected))) or 'none'}")
    long = pd.read_csv(out / "curves_by_seed.csv")
    for strategy in grid.strategies:
        for seed in grid.seeds:
            sizes = long[(long["strategy"] == strategy) & (long["seed"] == seed)]["labeled"].tolist()
            if sizes != grid.labeled_sizes:
                problems.append(f"{strategy}, seed {seed}: curve has |L| = {sizes[:3]}...{sizes[-2:]} "
                                f"({len(sizes)} points), expected {len(grid.labeled_sizes)} points "
                                f"{grid.labeled_sizes[0]}..{grid.labeled_sizes[-1]}")
    for name, columns in (("curves_by_seed.csv", ["accuracy", "macro_f1"]),
                          ("batch_stats.csv", ["confidence", "variability", "correctness"]),
                          ("significance.csv", ["statistic", "reverse"])):
        frame = pd.read_csv(out / name)
        for column in columns:
            values = frame[column].to_numpy(dtype=float) if column in frame else np.array([np.nan])
            if len(values) == 0 and name == "significance.csv" and len(grid.seeds) < 2:
                continue
            if len(values) == 0 or np.isnan(values).any() or (values < 0).any() or (values > 1).any():
                problems.append(f"{name}: '{column}' has values outside [0, 1] or missing")
    overlap = pd.read_csv(out / "overlap.csv").set_index("strategy")
    if sorted(overlap.index) != sorted(grid.strategies) or not np.allclose(np.diag(overlap.to_numpy(float)), 1.0):
        problems.append("overlap.csv: not a strategies x strategies matrix with ones on its diagonal")
    return problems


def _csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
