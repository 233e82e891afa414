"""Findings a reproduction must keep showing: claims read from a YAML file, judged against its aggregate.

A findings file states, in numbers, what docs/results.md says a grid shows, so
that `cartal reproduce --check --findings FILE` fails when a change to the code
makes a stated finding stop holding. Three kinds of claim::

    claims:
      - says: least confidence's AULC is above random's     # the sentence the docs state
        higher: aulc                    # aulc | final_accuracy (strategies.csv), mean over seeds
        strategy: least-confidence
        than: random
        by: 0.005                       # optional margin (default 0)
      - says: CAL's probe sees at least 50 hard-to-learn instances in L0
        hard_to_learn: cartography      # hard_to_learn.csv, mean over seeds
        round: 0
        at_least: 50                    # and/or at_most
      - says: CAL's batches are less confident than random's
        batch: confidence               # confidence | variability | correctness (batch_stats.csv)
        strategy: cartography
        below: random                   # or above: STRATEGY
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from cartal.errors import ParamsError

CURVE_METRICS = ("aulc", "final_accuracy")
BATCH_STATS = ("confidence", "variability", "correctness")


def read_findings(path: Path) -> list[dict]:
    """The claims of a findings file, each checked for the keys its kind needs."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ParamsError(f"findings file {path} does not exist; give the YAML file of claims the grid must show "
                          "(see cartal/experiments/findings.py for its form)") from exc
    except yaml.YAMLError as exc:
        raise ParamsError(f"findings file {path} is not valid YAML ({exc})") from exc
    claims = raw.get("claims") if isinstance(raw, dict) else None
    if not isinstance(claims, list) or not claims:
        raise ParamsError(f"findings file {path} needs a non-empty list under 'claims:'")
    for i, claim in enumerate(claims, 1):
        _validate(claim, f"{path}, claim {i}")
    return claims


def _validate(claim, where: str) -> None:
    if not isinstance(claim, dict) or not isinstance(claim.get("says"), str):
        raise ParamsError(f"{where}: each claim is a mapping with a 'says:' sentence")
    if "higher" in claim:
        if claim["higher"] not in CURVE_METRICS or not {"strategy", "than"} <= claim.keys():
            raise ParamsError(f"{where}: 'higher:' takes one of {', '.join(CURVE_METRICS)}, with 'strategy:' and "
                              "'than:'")
    elif "hard_to_learn" in claim:
        if "round" not in claim or not {"at_least", "at_most"} & claim.keys():
            raise ParamsError(f"{where}: 'hard_to_learn:' needs 'round:' and 'at_least:' or 'at_most:'")
    elif "batch" in claim:
        if claim["batch"] not in BATCH_STATS or "strategy" not in claim or len({"below", "above"} & claim.keys()) != 1:
            raise ParamsError(f"{where}: 'batch:' takes one of {', '.join(BATCH_STATS)}, with 'strategy:' and one "
                              "of 'below:' / 'above:'")
    else:
        raise ParamsError(f"{where}: a claim is one of 'higher:', 'hard_to_learn:' or 'batch:'")


def judge(claims: list[dict], out: Path) -> list[str]:
    """The claims that the aggregate in ``out`` does not show, each as a sentence with the measured numbers."""
    strategies = pd.read_csv(out / "strategies.csv").set_index("strategy")
    batches = pd.read_csv(out / "batch_stats.csv").set_index("strategy")
    hard = pd.read_csv(out / "hard_to_learn.csv")
    failures = []
    for claim in claims:
        try:
            held, measured = _judge(claim, strategies, batches, hard)
        except KeyError as exc:
            failures.append(f'"{claim["says"]}": the aggregate has no {exc} to judge it by')
            continue
        if not held:
            failures.append(f'"{claim["says"]}" no longer holds: {measured}')
    return failures


def _judge(claim: dict, strategies: pd.DataFrame, batches: pd.DataFrame, hard: pd.DataFrame) -> tuple[bool, str]:
    if "higher" in claim:
        metric, a, b, margin = claim["higher"], claim["strategy"], claim["than"], float(claim.get("by", 0))
        mine, theirs = float(strategies.loc[a, metric]), float(strategies.loc[b, metric])
        return mine - theirs > margin, f"{metric} {a} {mine:.4f}, {b} {theirs:.4f} (needs a margin over {margin})"
    if "hard_to_learn" in claim:
        rows = hard[(hard["strategy"] == claim["hard_to_learn"]) & (hard["round"] == claim["round"])]
        if rows.empty:
            raise KeyError(f"hard-to-learn count of {claim['hard_to_learn']} in round {claim['round']}")
        value = float(rows["hard_mean"].iloc[0])
        held = float(claim.get("at_least", float("-inf"))) <= value <= float(claim.get("at_most", float("inf")))
        return held, (f"{claim['hard_to_learn']} had {value:.1f} hard-to-learn instances in round {claim['round']} "
                      f"(bounds {claim.get('at_least', '-')} to {claim.get('at_most', '-')})")
    stat, a = claim["batch"], claim["strategy"]
    b = claim.get("below", claim.get("above"))
    mine, theirs = float(batches.loc[a, stat]), float(batches.loc[b, stat])
    held = mine < theirs if "below" in claim else mine > theirs
    return held, f"batch {stat} {a} {mine:.3f}, {b} {theirs:.3f}"
