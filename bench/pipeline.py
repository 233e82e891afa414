"""The DVC pipeline on the floor's work: `dvc repro` timed, and where its time goes.

    python bench/pipeline.py [--base DIR] --strategy cartography --rounds 30 [--batch-size 50] [--epochs 30]

DIR is a base project where `prepare` and `embed` have run (bench/run.py makes
one). Each measurement copies it (so the cache holds the features and nothing of
the rounds), sets the strategy and rounds, and runs `dvc repro` with
CARTAL_PROFILE set: every stage process reports its start-up (interpreter and
imports), its artifact reads and writes, its work and its peak RSS. DVC's own
bookkeeping is the rest of the wall time. Then `dvc status` and a no-op
`dvc repro` are timed, and dvc.lock is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_base(base: Path, trec_dir: Path) -> Path:
    """A committed git + DVC project on the paper's TREC setting with `prepare` and `embed` done (reused if so)."""
    if (base / "data/features/train.parquet").is_file() and (base / "dvc.lock").is_file():
        return base
    skeleton(base, {"dataset": "trec", "seed_size": 500, "batch_size": 50, "strategy": "random",
                    "data": {"trec_dir": str(trec_dir.resolve())}})
    for cmd in (["dvc", "repro", "embed"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench base"]):
        _run(cmd, base)
    return base


def skeleton(project: Path, changes: dict) -> Path:
    """A fresh git + DVC project with this checkout's pipeline and ``changes`` to its params.yaml."""
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "stages", project / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "raw", project / "data" / "raw")
    _set(project, changes)
    _run(["cartal", "rounds", str(yaml.safe_load((project / "params.yaml").read_text())["rounds"])], project)
    for cmd in (["git", "init", "-q"], ["git", "config", "user.email", "bench@example.com"],
                ["git", "config", "user.name", "bench"], ["dvc", "init", "-q"],
                ["dvc", "config", "core.analytics", "false"]):
        _run(cmd, project)
    shutil.copytree(ROOT / ".dvc" / "plots", project / ".dvc" / "plots")  # after `dvc init`, which wants no .dvc/
    return project


def run_pipeline(base: Path, work: Path, strategy: str, rounds: int, batch_size: int | None = None,
                 epochs: int | None = None) -> dict:
    """Copy ``base``, set the experiment, time `dvc repro`, `dvc status`, a no-op repro and dvc.lock."""
    project = work / (f"{strategy}-{rounds}r" + (f"-b{batch_size}" if batch_size else "")
                      + (f"-e{epochs}" if epochs else ""))
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(base, project, symlinks=True)
    changes: dict = {"strategy": strategy}
    if batch_size:
        changes["batch_size"] = batch_size
    if epochs:
        changes["model"] = {"epochs": epochs}
    _set(project, changes)
    _run(["cartal", "rounds", str(rounds)], project)
    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "experiment"], project)
    _run(["dvc", "repro", "prepare"], project)  # its params name the rounds; not part of the rounds' work
    profile = project / "profile.jsonl"
    start = time.perf_counter()
    output = _run(["dvc", "repro"], project, extra_env={"CARTAL_PROFILE": str(profile)})
    wall = time.perf_counter() - start
    stages = [json.loads(line) for line in profile.read_text().splitlines()]
    ran = output.count("Running stage")
    status_s = _timed(["dvc", "status"], project)
    noop_s, noop_out = _timed(["dvc", "repro"], project, keep=True)
    if "Running stage" in noop_out:
        raise SystemExit(f"{project}: the no-op `dvc repro` ran stages:\n{noop_out[-2000:]}")
    locks = [project / "dvc.lock", *sorted((project / "rounds").glob("*/dvc.lock"))]
    curve = [json.loads((project / f"metrics/rounds/{k}.json").read_text()) for k in range(rounds + 1)]
    return {
        "strategy": strategy, "rounds": rounds, "batch_size": batch_size or 50, "epochs": epochs or 30,
        "stages_run": ran, "wall_s": wall, "status_s": status_s, "noop_repro_s": noop_s,
        "lock_files": len(locks), "lock_bytes": sum(p.stat().st_size for p in locks),
        "lock_lines": sum(len(p.read_text().splitlines()) for p in locks),
        "largest_lock_bytes": max(p.stat().st_size for p in locks),
        "stages": stages, "breakdown": breakdown(stages, wall),
        "curve": [{"round": row["round"], "labeled": row["labeled"], "accuracy": row["accuracy"]} for row in curve],
    }


def breakdown(stages: list[dict], wall: float) -> dict:
    """Seconds per stage family in start-up, I/O and work; DVC's bookkeeping is the wall time left over."""
    families = {}
    for record in stages:
        family = record["stage"].split("@")[0]
        into = families.setdefault(family, {"count": 0, "warm": 0, "startup_s": 0.0, "io_s": 0.0, "work_s": 0.0,
                                            "peak_rss_mib": 0.0})
        into["count"] += 1
        into["warm"] += bool(record.get("warm"))  # run by a child of the warm worker (cartal.warm)
        for key in ("startup_s", "io_s", "work_s"):
            into[key] += record[key]
        into["peak_rss_mib"] = max(into["peak_rss_mib"], record["peak_rss_mib"])
    in_processes = sum(record["ended"] - record["created"] for record in stages)
    return {"families": families, "in_processes_s": in_processes, "dvc_bookkeeping_s": wall - in_processes}


def _set(project: Path, changes: dict) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            params[key].update(value)
        else:
            params[key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _env(extra: dict | None = None) -> dict:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", **(extra or {})}


def _run(cmd: list[str], cwd: Path, extra_env: dict | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=_env(extra_env), capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def _timed(cmd: list[str], cwd: Path, keep: bool = False):
    start = time.perf_counter()
    output = _run(cmd, cwd)
    seconds = time.perf_counter() - start
    return (seconds, output) if keep else seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, default=ROOT / "bench/.work/base", help="made if missing")
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--work", type=Path, default=ROOT / "bench/.work")
    parser.add_argument("--strategy", default="cartography")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args()
    make_base(args.base, args.trec)
    result = run_pipeline(args.base, args.work, args.strategy, args.rounds, args.batch_size, args.epochs)
    json.dump({k: v for k, v in result.items() if k != "stages"}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
