"""The same small grid through DVC's queue and through Ray: per-experiment overhead, and one node against two.

    python bench/ray_grid.py [--trec DIR] [--work DIR]

The grid is tests/test_ray_grid.py's (2 strategies x 2 seeds x 2 rounds, |L0| 30, batches of 15, 3 epochs),
on TREC cut to 300/120 texts, features cached beforehand (one untimed `dvc repro embed`), so that what
differs is the path, not the encoder. Four runs, each in a fresh project with fresh remotes:

- queue: `cartal reproduce -j 2` (DVC's queue, two workers);
- ray-auto: `cartal reproduce --ray auto -j 2` (Ray started here with 2 CPUs);
- ray-1-node: a cluster of one node with 1 CPU (`ray start --head`), experiments one at a time;
- ray-2-nodes: a head and a second node (`ray start --address`), 1 CPU each.

Every Ray node of this machine shares its cores: two nodes of 1 CPU are the queue's two workers, placed by Ray.
Each task logs its phases (clone and pull, run, push); their means are printed, with each run's wall time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]
import ray_nodes  # noqa: E402  (tests/ray_nodes.py: a Ray cluster on loopback)
from projects import new_project, run  # noqa: E402

GRID = ["-s", "random", "-s", "entropy", "--seed", "11", "--seed", "12", "--seed-size", "30", "--batch-size", "15",
        "--rounds", "2", "--significance-samples", "50"]
PHASE = re.compile(r"pushed in (\d+) s on \S+?; clone ([\d.]+) s; run ([\d.]+) s; push ([\d.]+) s")


def project(folder: Path, trec: Path, remotes: bool) -> Path:
    folder.mkdir(parents=True)
    (folder / "repo").mkdir()
    repo = new_project(folder / "repo", trec.parent, rounds=1, epochs=3)
    if remotes:
        run(["git", "init", "-q", "--bare", str(folder / "remote.git")], folder)
        run(["git", "remote", "add", "origin", str(folder / "remote.git")], repo)
        run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], repo)
        run(["dvc", "remote", "add", "--local", "-d", "storage", str(folder / "storage")], repo)
    return repo


def timed(args: list[str], repo: Path, env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=repo, env={**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})},
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return wall, result.stdout + result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder, removed after")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ray-grid-bench-"))
    os.environ.setdefault("CARTAL_FEATURE_CACHE", str(work / "features"))
    grid = ["cartal", "reproduce", "--data-dir", str(args.trec.resolve()), *GRID]
    try:
        warm = project(work / "warm-up", args.trec, remotes=False)
        run(["dvc", "repro", "embed"], warm)  # the features of the grid's texts, cached for every run below
        rows = []
        wall, _ = timed([*grid, "-j", "2"], project(work / "queue", args.trec, remotes=False))
        rows.append(("queue, 2 workers", wall, []))
        wall, output = timed([*grid, "-j", "2", "--ray", "auto"], project(work / "ray-auto", args.trec, True))
        rows.append(("ray auto, 2 CPUs", wall, PHASE.findall(output)))
        for nodes in (1, 2):
            cluster = ray_nodes.start(work / f"nodes-{nodes}", nodes=nodes, cpus=1)
            try:
                repo = project(work / f"ray-{nodes}", args.trec, True)
                wall, output = timed([*grid, "--ray", cluster.address], repo, cluster.env)
            finally:
                cluster.stop()
            rows.append((f"ray, {nodes} node{'s' * (nodes > 1)} of 1 CPU", wall, PHASE.findall(output)))
        for label, wall, phases in rows:
            line = f"{label:>24}: {wall:6.1f} s for 4 experiments"
            if phases:
                task, clone, ran, push = (statistics.mean(float(p[i]) for p in phases) for i in range(4))
                line += (f"; per task (mean of {len(phases)}): {task:.0f} s = clone+pull {clone:.1f} s, "
                         f"run {ran:.1f} s, push {push:.1f} s")
            print(line)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
