"""Aggregate finished experiments into what the paper reports: curves, tables, statistics, overlap.

Every function takes plain frames; ``Run`` is one finished experiment as read
back from DVC (see ``dvc_queue``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cartal.experiments.significance import compare
from cartal.metrics import area_under_curve
from cartal.report import STOP_PREFIX

REFERENCE = "random"
CAL = "cartography"


@dataclass
class Run:
    """One finished experiment."""

    name: str
    strategy: str
    seed: int
    curve: pd.DataFrame  # round, labeled, accuracy, macro_f1
    batches: pd.DataFrame  # round, size, confidence, variability, correctness
    selected: dict[int, list[str]] = field(default_factory=dict)  # round -> ids picked in that round
    maps: dict[str, pd.DataFrame] = field(default_factory=dict)  # "first"/"last" -> data map of L
    hard_to_learn: dict[int, int] = field(default_factory=dict)  # round -> instances of L that CAL's probe
    # learns as hard-to-learn (binned correctness <= cal.tau) in that round's data map
    features_computed_on: list[dict] = field(default_factory=list)  # the machines that computed its features
    rounds_run_on: list[dict] = field(default_factory=list)  # and that ran its rounds (cartal.provenance;
    # [{}] for an experiment run before they were recorded)


def long_curves(runs: list[Run]) -> pd.DataFrame:
    """strategy, seed, round, labeled, accuracy, macro_f1: every evaluated point of every run."""
    frames = [run.curve.assign(strategy=run.strategy, seed=run.seed) for run in runs]
    columns = ["strategy", "seed", "round", "labeled", "accuracy", "macro_f1"]
    return pd.concat(frames, ignore_index=True)[columns].sort_values(["strategy", "seed", "round"], ignore_index=True)


def mean_curves(long: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and labeled-set size: mean and standard deviation over seeds (and mean +- std)."""
    grouped = long.groupby(["strategy", "labeled"], sort=True)
    frame = grouped.agg(round=("round", "first"), seeds=("seed", "nunique"),
                        accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", _std),
                        macro_f1_mean=("macro_f1", "mean"), macro_f1_std=("macro_f1", _std)).reset_index()
    frame["accuracy_low"] = frame["accuracy_mean"] - frame["accuracy_std"]
    frame["accuracy_high"] = frame["accuracy_mean"] + frame["accuracy_std"]
    return frame


def per_seed_summary(long: pd.DataFrame) -> pd.DataFrame:
    """strategy, seed, aulc (area under the accuracy curve over |L|), final_accuracy."""
    rows = []
    for (strategy, seed), curve in long.groupby(["strategy", "seed"], sort=True):
        curve = curve.sort_values("labeled")
        rows.append({"strategy": strategy, "seed": seed,
                     "aulc": area_under_curve(curve["labeled"], curve["accuracy"]),
                     "final_accuracy": float(curve["accuracy"].iloc[-1])})
    return pd.DataFrame(rows)


def budgets(labeled_sizes: list[int]) -> list[int]:
    """A few budgets to tabulate: the seed set, a third, two thirds and all of the rounds."""
    last = len(labeled_sizes) - 1
    return sorted({labeled_sizes[i] for i in (0, round(last / 3), round(2 * last / 3), last)})


def strategy_table(long: pd.DataFrame, at: list[int], reference: str = REFERENCE) -> pd.DataFrame:
    """Per strategy: accuracy at the budgets, AULC and final accuracy (mean, std), and the labels needed
    to reach the reference strategy's final mean accuracy (NaN: never reached within the budget)."""
    means = mean_curves(long)
    per_seed = per_seed_summary(long)
    target = None
    if reference in set(long["strategy"]):
        ref = means[means["strategy"] == reference]
        target = float(ref.loc[ref["labeled"].idxmax(), "accuracy_mean"])
    rows = []
    for strategy, curve in means.groupby("strategy", sort=True):
        row = {"strategy": strategy, "seeds": int(curve["seeds"].max())}
        for size in at:
            point = curve[curve["labeled"] == size]
            row[f"acc@{size}"] = float(point["accuracy_mean"].iloc[0]) if len(point) else np.nan
            row[f"std@{size}"] = float(point["accuracy_std"].iloc[0]) if len(point) else np.nan
        scores = per_seed[per_seed["strategy"] == strategy]
        row.update(aulc=float(scores["aulc"].mean()), aulc_std=_std(scores["aulc"]),
                   final_accuracy=float(scores["final_accuracy"].mean()))
        if target is not None:
            reached = curve[curve["accuracy_mean"] >= target - 1e-12]
            row[f"labels_to_{reference}_final"] = float(reached["labeled"].min()) if len(reached) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if target is not None:
        table.attrs["target"] = target
    return table


def significance_table(long: pd.DataFrame, against: tuple[str, ...] = (REFERENCE, CAL), seed: int = 0,
                       samples: int = 1000, on_progress: Callable[[int, int], None] | None = None,
                       jobs: int = 1) -> pd.DataFrame:
    """Every strategy against each of ``against``, over seeds, on AULC and on final accuracy, each test's
    bootstrap shared among ``jobs`` processes. ``on_progress(done, total)`` is called before each test and
    once when all are done (ASO with 5 seeds takes seconds a test)."""
    per_seed = per_seed_summary(long)
    strategies = sorted(per_seed["strategy"].unique())
    pairs, compared = [], set()
    for baseline, strategy, metric in itertools.product(against, strategies, ("aulc", "final_accuracy")):
        if baseline not in strategies or strategy == baseline or (baseline, strategy, metric) in compared:
            continue  # B against A is A against B read the other way
        compared.add((strategy, baseline, metric))
        pairs.append((baseline, strategy, metric))
    rows = []
    for done, (baseline, strategy, metric) in enumerate(pairs):
        if on_progress:
            on_progress(done, len(pairs))
        paired = per_seed.pivot(index="seed", columns="strategy", values=metric)[[strategy, baseline]].dropna()
        if len(paired) < 2:
            continue
        result = compare(paired[strategy].to_numpy(), paired[baseline].to_numpy(), seed=seed, samples=samples,
                         jobs=jobs)
        rows.append({"strategy": strategy, "against": baseline, "metric": metric, "seeds": len(paired), **result})
    if on_progress:
        on_progress(len(pairs), len(pairs))
    return pd.DataFrame(rows, columns=["strategy", "against", "metric", "seeds", "test", "statistic", "reverse",
                                       "verdict", "mean_difference"])


def batch_summary(runs: list[Run]) -> pd.DataFrame:
    """Per strategy: mean confidence, variability and correctness of the selected batches in the next
    round's map, averaged over the rounds of a run, then mean and std over seeds."""
    per_run = pd.DataFrame([
        {"strategy": run.strategy, "seed": run.seed,
         **{stat: float(run.batches[stat].mean()) for stat in ("confidence", "variability", "correctness")}}
        for run in runs if len(run.batches)
    ])
    if per_run.empty:
        return pd.DataFrame(columns=["strategy", "seeds"])
    grouped = per_run.groupby("strategy", sort=True)
    frame = grouped.agg(seeds=("seed", "nunique"),
                        **{f"{stat}{suffix}": (stat, how) for stat in ("confidence", "variability", "correctness")
                           for suffix, how in (("", "mean"), ("_std", _std))})
    return frame.reset_index()


def hard_to_learn_table(runs: list[Run]) -> pd.DataFrame:
    """Per strategy and round: the size of CAL's hard-to-learn class in L's data map (mean, min and max over
    seeds), and its share of L; empty when no run counted it."""
    rows = [{"strategy": run.strategy, "seed": run.seed, "round": k, "labeled": len_l, "hard": hard}
            for run in runs for k, (hard, len_l) in _with_sizes(run).items()]
    if not rows:
        return pd.DataFrame(columns=["strategy", "round", "labeled", "seeds", "hard_mean", "hard_min", "hard_max",
                                     "share_mean"])
    frame = pd.DataFrame(rows).assign(share=lambda f: f["hard"] / f["labeled"])
    grouped = frame.groupby(["strategy", "round"], sort=True)
    return grouped.agg(labeled=("labeled", "first"), seeds=("seed", "nunique"), hard_mean=("hard", "mean"),
                       hard_min=("hard", "min"), hard_max=("hard", "max"), share_mean=("share", "mean")).reset_index()


def _with_sizes(run: Run) -> dict[int, tuple[int, int]]:
    labeled = dict(zip(run.curve["round"], run.curve["labeled"]))
    return {k: (hard, int(labeled[k])) for k, hard in sorted(run.hard_to_learn.items()) if k in labeled}


def stopping_table(runs: list[Run]) -> pd.DataFrame:
    """Per strategy and stopping criterion: in how many seeds' runs it said stop, at which round and |L| first
    (mean over those seeds), the labels that stopping there saves, and the test accuracy it loses against the
    run's last round (mean, and the worst seed); empty when no run recorded the criteria."""
    rows = []
    for run in runs:
        curve = run.curve.set_index("round").sort_index()
        last = curve.index.max()
        # the curve's stop_<criterion> columns (cartal.report.learning_curve); none in runs from before the criteria
        for column in sorted(c for c in curve.columns if c.startswith(STOP_PREFIX)):
            said = curve.index[curve[column] == 1]
            first = said[0] if len(said) else None
            at = curve.loc[first if first is not None else last]
            rows.append({"strategy": run.strategy, "seed": run.seed, "criterion": column[len(STOP_PREFIX):],
                         "stopped": first is not None, "round": first if first is not None else np.nan,
                         "labeled": float(at["labeled"]) if first is not None else np.nan,
                         "saved": float(curve.loc[last, "labeled"] - at["labeled"]),
                         "lost": float(curve.loc[last, "accuracy"] - at["accuracy"])})
    columns = ["strategy", "criterion", "seeds", "stopped", "round_mean", "labeled_mean", "saved_mean",
               "lost_mean", "lost_max"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    stopped = frame[frame["stopped"]]
    table = frame.groupby(["strategy", "criterion"], sort=True).agg(seeds=("seed", "nunique"),
                                                                    stopped=("stopped", "sum"))
    table = table.join(stopped.groupby(["strategy", "criterion"]).agg(
        round_mean=("round", "mean"), labeled_mean=("labeled", "mean"), saved_mean=("saved", "mean"),
        lost_mean=("lost", "mean"), lost_max=("lost", "max")))
    return table.reset_index()[columns]


def overlap(runs: list[Run]) -> pd.DataFrame:
    """Jaccard overlap of all the instances two strategies selected, per seed (same L0), averaged over seeds."""
    picked = {(run.strategy, run.seed): set(itertools.chain.from_iterable(run.selected.values())) for run in runs}
    strategies = sorted({run.strategy for run in runs})
    seeds = sorted({run.seed for run in runs})
    matrix = pd.DataFrame(np.nan, index=strategies, columns=strategies)
    for a, b in itertools.product(strategies, repeat=2):
        scores = [_jaccard(picked[a, s], picked[b, s]) for s in seeds if (a, s) in picked and (b, s) in picked]
        matrix.loc[a, b] = float(np.mean(scores)) if scores else np.nan
    matrix.index.name = "strategy"
    return matrix


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _std(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0
