"""Not a stage: what `cartal status` and `cartal repro` read of the stages' artifacts to say where a run stands.

Only results of the pipeline that params.yaml declares count: a file that an
earlier run left (before the oracle, a param or an input changed) is reported
as out of date, never as a result. ``current`` says which stages hold current
results (cartal.experiments.workspace asks DVC); without it, every file counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from cartal import layout, stopping
from cartal.annotation.batch import answered
from cartal.params import Params
from stages.pipeline import round_stage


def status(params: Params, current: Callable[[str], bool] = lambda stage: True) -> dict:
    """Rounds evaluated, |L| and |U| of the latest round, a batch waiting for labels, the latest scores, what the
    stopping criteria say, and the rounds whose files on disk are out of date."""
    rounds, out_of_date = [], []
    for k in params.trained_rounds:
        labeled, pool = layout.in_round(k, "labeled.parquet"), layout.in_round(k, "pool.parquet")
        if not labeled.is_file():
            break
        if not current("prepare" if k == 0 else round_stage(k - 1, "merge-labels")):
            out_of_date.append(k)
            continue
        entry = {"round": k, "labeled": _rows(labeled), "pool": _rows(pool) if pool.is_file() else None}
        skipped = layout.in_round(k, "skipped.parquet")
        entry["skipped"] = _rows(skipped) if skipped.is_file() else 0
        metrics = layout.round_metrics(k)
        if metrics.is_file() and current(round_stage(k, "evaluate")):
            scores = json.loads(metrics.read_text())
            entry.update(accuracy=scores.get("accuracy"), macro_f1=scores.get("macro_f1"),
                         stopping=scores.get("stopping"))
        elif metrics.is_file():
            out_of_date.append(k)
        rounds.append(entry)
    evaluated = [r for r in rounds if r.get("accuracy") is not None]
    return {
        "dataset": params.dataset, "strategy": params.strategy, "oracle": params.oracle, "rounds": params.rounds,
        "rounds_with_data": len(rounds), "rounds_evaluated": len(evaluated),
        "latest": rounds[-1] if rounds else None, "latest_evaluated": evaluated[-1] if evaluated else None,
        "skipped": sum(r["skipped"] for r in rounds), "waiting": _waiting(params, rounds, current),
        "out_of_date_rounds": sorted(set(out_of_date)),
        "finished": len(evaluated) == params.rounds + 1 and current("report"),
        "summary": _summary() if current("report") else None,
        "stopping": _stopping(evaluated[-1]) if evaluated else None,
    }


def _stopping(entry: dict) -> dict | None:
    """Whether the stopping criteria say that labeling more is unlikely to help, after the latest evaluated round."""
    if not entry.get("stopping"):
        return None  # evaluated before the criteria existed
    stop, words = stopping.verdict(entry["stopping"], entry["round"])
    return {"round": entry["round"], "stop": stop, "verdict": words}


def _summary() -> dict | None:
    """The final accuracy and area under the learning curve that report wrote."""
    try:
        summary = json.loads(layout.SUMMARY.read_text())
        return {key: summary[key] for key in ("final_accuracy", "final_labeled", "aulc_accuracy")}
    except (OSError, ValueError, KeyError):
        return None


def _waiting(params: Params, rounds: list[dict], current: Callable[[str], bool]) -> dict | None:
    """The batch of the latest round that the pipeline selected and that waits for a person's labels."""
    if not rounds or params.oracle != "human":
        return None
    k = rounds[-1]["round"]
    if k >= params.rounds or not current(round_stage(k, "select")):
        return None
    if current(round_stage(k, "merge-labels")) and layout.in_round(k + 1, "labeled.parquet").is_file():
        return None
    folder = layout.annotation_dir(k)
    selected = layout.in_round(k, "selected.parquet")
    waiting = {"round": k, "folder": str(folder), "size": _rows(selected), "answered": answered(folder)}
    if params.label_studio.url:
        waiting["label_studio"] = _label_studio(params, selected)
    return waiting


def _label_studio(params: Params, selected: Path) -> dict:
    """How much of the batch is labeled in the Label Studio project; a server that does not answer is reported,
    not raised: status says where the run stands even when the server is down."""
    from cartal.annotation import live
    from cartal.errors import CartalError

    ids = pq.read_table(selected, columns=["id"]).column("id").to_pylist()
    try:
        return live.progress(params.label_studio, ids)
    except CartalError as exc:
        return {"project": live.project_title(params.label_studio), "url": params.label_studio.url, "error": str(exc)}


def _rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows
