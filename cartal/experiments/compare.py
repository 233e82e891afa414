"""Experiments side by side, at a glance: what each one changed and how it scored.

`dvc exp show` lists every param, every metric and the hash of every
dependency (over a hundred columns for one project); this keeps the
experiments' names, the params whose values differ between them, and the
scores of metrics/summary.json.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from cartal import layout
from cartal.errors import ProjectError
from cartal.params import DEFAULT_PARAMS_FILE

SCORES = ("final_accuracy", "final_macro_f1", "final_labeled", "aulc_accuracy")
SUMMARY_FILE, PARAMS_FILE = layout.SUMMARY.as_posix(), DEFAULT_PARAMS_FILE.as_posix()


def comparison(root: Path) -> pd.DataFrame:
    """A row per experiment of the workspace's commit (the workspace, its commit, then `dvc exp show`'s
    experiments): its name, each param that differs between them, and its scores (NaN where it has none)."""
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        rows = dvc.api.exp_show(repo=str(root))
    except DvcException as exc:
        raise ProjectError(f"{root}: DVC cannot list its experiments ({exc}); run it in a DVC project "
                           "(a git repository with dvc.yaml)") from exc
    params = _flat(yaml.safe_load((root / PARAMS_FILE).read_text()))
    table = pd.DataFrame([
        {"experiment": row.get("Experiment") or row["rev"],
         **{name: _column(row, PARAMS_FILE, name) for name in params},
         **{name: _column(row, SUMMARY_FILE, name) for name in SCORES}}
        for row in rows])
    changed = [name for name in params if table[name].astype(str).nunique() > 1]
    return table[["experiment", *changed, *SCORES]]


def _column(row: dict, file: str, name: str):
    """dvc.api.exp_show names a column by its key alone, or file:key where another file has the same key."""
    value = row.get(f"{file}:{name}", row.get(name))
    return None if value in ("None", "-", "!") else value


def _flat(params: dict, prefix: str = "") -> list[str]:
    names = []
    for key, value in params.items():
        names += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return names
