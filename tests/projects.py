"""A fresh cartal project in a temporary git repo: this checkout's pipeline on a small TREC subsample."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def snapshot(repo: Path) -> dict[str, str]:
    """md5 of every artifact under data/ and metrics/, the user's inputs in data/raw/ aside: what must not
    change when a stage refuses its input."""
    return {str(p.relative_to(repo)): hashlib.md5(p.read_bytes()).hexdigest()
            for folder in ("data", "metrics") for p in sorted((repo / folder).rglob("*"))
            if p.is_file() and "raw" not in p.relative_to(repo).parts}


def stages_run(output: str) -> set[str]:
    """The stages DVC ran, round stages as name@k (DVC says rounds/k/dvc.yaml:name)."""
    return _short_names(re.findall(r"Running stage '([^']+)'", output))


def stages_skipped(output: str) -> set[str]:
    """The stages DVC found unchanged, named as in :func:`stages_run`."""
    return _short_names(re.findall(r"Stage '([^']+)' didn't change, skipping", output))


def stages_restored(output: str) -> set[str]:
    """The stages DVC took from its run cache without running them, named as in :func:`stages_run`."""
    return _short_names(re.findall(r"Stage '([^']+)' is cached - skipping run", output))


def _short_names(names: list[str]) -> set[str]:
    return {re.sub(r"^rounds/(\d+)/dvc\.yaml:(.+)$", r"\2@\1", name) for name in names}


def new_project(repo: Path, shared_data: Path, rounds: int, epochs: int, data: dict | None = None,
                **top_level) -> Path:
    """Copy dvc.yaml, params.yaml, stages/ and the plot templates into ``repo``; make it a committed git + DVC repo.

    The dataset is TREC from ``shared_data`` cut to 300 train / 120 test texts, unless ``top_level`` and
    ``data`` (updates of params.yaml's data block) say otherwise.
    """
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "raw", repo / "data" / "raw", dirs_exist_ok=True)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params.update({"dataset": "trec", **top_level})
    params["data"].update({"trec_dir": str(shared_data / "trec"), "max_train": 300, "max_test": 120, **(data or {})})
    params["encoder"].update(max_length=48)
    params["model"].update(epochs=epochs)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "test@example.com"], repo)
    run(["git", "config", "user.name", "test"], repo)
    run(["dvc", "init", "-q"], repo)
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")  # analytics off, the offline plot page
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")
    run(["cartal", "rounds", str(rounds)], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "experiment"], repo)
    return repo


def new_human_project(repo: Path, shared_data: Path, batch_size: int, epochs: int, rounds: int = 1,
                      **top_level) -> Path:
    """A project on the user's own files, oracle human: AG News' first 40 test texts as the labeled seed file,
    the next 200 as an unlabeled pool (no label column; :func:`pool_gold_labels` has them), 160 more as the
    test file; ``rounds`` query rounds."""
    raw = repo / "data" / "raw"
    raw.mkdir(parents=True)
    news = pd.read_csv(shared_data / "agnews" / "test.csv", keep_default_na=False)
    news.iloc[:40].to_csv(raw / "seed.csv", index=False)  # labeled: L0
    news.iloc[40:240].drop(columns=["Class Index"]).to_json(raw / "pool.jsonl", orient="records", lines=True)
    news.iloc[240:400].to_parquet(raw / "test.parquet")
    return new_project(repo, shared_data, rounds=rounds, epochs=epochs, dataset="files", oracle="human",
                       batch_size=batch_size, **top_level,
                       data={"files": {"seed": "data/raw/seed.csv", "pool": "data/raw/pool.jsonl",
                                       "test": "data/raw/test.parquet", "train": None},
                             "text_columns": ["Title", "Description"], "label_column": "Class Index",
                             "labels": ["1", "2", "3", "4"], "max_train": None, "max_test": None})


def pool_gold_labels(shared_data: Path) -> dict[str, str]:
    """The labels of :func:`new_human_project`'s pool, by id: what a careful annotator would type."""
    news = pd.read_csv(shared_data / "agnews" / "test.csv", keep_default_na=False)
    return {f"pool-{i}": str(label) for i, label in enumerate(news["Class Index"].iloc[40:240])}


def embedded_project(repo: Path, shared_data: Path) -> Path:
    """A one-round project with few epochs whose features are embedded: what the warm worker's tests run stages in."""
    new_project(repo, shared_data, rounds=1, epochs=3, seed_size=40, batch_size=20)
    run(["dvc", "repro", "embed"], repo)
    return repo
