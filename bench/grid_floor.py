"""The compute floor of a whole grid: each experiment's in-process loop (bench/floor.py), two at a time.

    python bench/grid_floor.py [--seed 398048 ...] [--strategy random ...] [--jobs 2] [--grid-seconds S]

For each seed, a project on the paper's TREC setting with `prepare` and `embed` done (its L0 is the seed's);
then every (strategy, seed) experiment's floor loop, ``--jobs`` processes at a time, each on one torch thread
as the grid's queue workers are. Prints each experiment's floor, their sum, the sum over ``--jobs`` cores
(what the grid cannot beat on this machine), and, with ``--grid-seconds`` (the wall time of `cartal
reproduce` for the same grid), the ratio issue 21 measures. With fewer seeds than the grid ran, the sum is
scaled to the grid's seeds (``--grid-seeds``), and the output says so.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline as pipeline_bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "grid-floor"
PAPER_STRATEGIES = ("random", "entropy", "least-confidence", "mc-max-entropy", "dal", "cartography")
PAPER_SEEDS = (398048, 127003, 259479, 869323, 570852)


def seed_project(seed: int, trec: Path) -> Path:
    """A project whose prepare and embed ran with ``seed`` (the embedding comes from the feature cache)."""
    project = WORK / f"seed-{seed}"
    if (project / "data/features/train.parquet").is_file():
        return project
    pipeline_bench.skeleton(project, {"dataset": "trec", "seed_size": 500, "batch_size": 50, "strategy": "random",
                                      "seed": seed, "data": {"trec_dir": str(trec.resolve())}})
    subprocess.run(["dvc", "repro", "embed"], cwd=project, check=True, capture_output=True)
    return project


def floor_seconds(project: Path, strategy: str, rounds: int) -> dict:
    """One experiment's floor loop in its own process (as a queue worker's experiment is)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "bench/floor.py"), "--project", str(project),
                           "--strategy", strategy, "--rounds", str(rounds)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"floor {strategy} in {project} failed:\n{done.stderr[-3000:]}")
    loop = float(re.search(r"^total ([0-9.]+) s", done.stdout, re.M).group(1))
    final = float(done.stdout.strip().splitlines()[-2].split()[3])  # the last round's accuracy column
    return {"strategy": strategy, "seed": project.name.removeprefix("seed-"), "loop s": loop,
            "process s": time.perf_counter() - started, "final accuracy": final}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--seed", type=int, action="append", help="seeds to run (default: the paper's five)")
    parser.add_argument("--strategy", action="append", help="strategies (default: the paper's six)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2, help="experiments at a time (the grid's -j)")
    parser.add_argument("--grid-seconds", type=float, help="wall time of `cartal reproduce` for the same grid")
    parser.add_argument("--grid-seeds", type=int, default=len(PAPER_SEEDS), help="seeds the grid ran")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    seeds, chosen = args.seed or list(PAPER_SEEDS), args.strategy or list(PAPER_STRATEGIES)
    projects = {seed: seed_project(seed, args.trec) for seed in seeds}
    started = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: floor_seconds(projects[job[0]], job[1], args.rounds),
                             [(seed, strategy) for seed in seeds for strategy in chosen]))
    wall = time.perf_counter() - started
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, formatters={"final accuracy": "{:.3f}".format}, float_format="{:.1f}".format))
    total = frame["loop s"].sum()  # the floor is the loop (bench/floor.py); its process start-up is reported apart
    scale = args.grid_seeds / len(seeds)
    summary = {"experiments": len(frame), "sum of floors s": total, "sum of processes s": frame["process s"].sum(),
               "wall s": wall, "jobs": args.jobs,
               "grid floor s": total * scale / args.jobs, "scaled from seeds": len(seeds), "to seeds": args.grid_seeds}
    if args.grid_seconds:
        summary["grid s"] = args.grid_seconds
        summary["ratio"] = args.grid_seconds / summary["grid floor s"]
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
