"""Not a stage: what `cartal status` reads of the stages' artifacts to say where a run stands."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from cartal.params import Params, annotation_dir
from stages import layout


def status(params: Params) -> dict:
    """Rounds evaluated, |L| and |U| of the latest round, a batch waiting for labels, the latest scores."""
    rounds = []
    for k in params.trained_rounds:
        labeled, pool = layout.in_round(k, "labeled.parquet"), layout.in_round(k, "pool.parquet")
        if not labeled.is_file():
            break
        entry = {"round": k, "labeled": _rows(labeled), "pool": _rows(pool) if pool.is_file() else None}
        skipped = layout.in_round(k, "skipped.parquet")
        entry["skipped"] = _rows(skipped) if skipped.is_file() else 0
        metrics = layout.round_metrics(k)
        if metrics.is_file():
            scores = json.loads(metrics.read_text())
            entry.update(accuracy=scores.get("accuracy"), macro_f1=scores.get("macro_f1"))
        rounds.append(entry)
    waiting = None
    if rounds and params.oracle == "human":
        k = rounds[-1]["round"]
        folder = Path(annotation_dir(k))
        if k < params.rounds and (folder / "batch.csv").is_file():
            waiting = {"round": k, "folder": str(folder), "size": _csv_rows(folder / "batch.csv")}
    evaluated = [r for r in rounds if r.get("accuracy") is not None]
    return {
        "dataset": params.dataset, "strategy": params.strategy, "oracle": params.oracle, "rounds": params.rounds,
        "rounds_with_data": len(rounds), "rounds_evaluated": len(evaluated),
        "latest": rounds[-1] if rounds else None, "latest_evaluated": evaluated[-1] if evaluated else None,
        "skipped": sum(r["skipped"] for r in rounds), "waiting": waiting,
    }


def _rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def _csv_rows(path: Path) -> int:
    with path.open() as handle:
        return max(sum(1 for _ in handle) - 1, 0)
