"""The performance benchmark in one command: prints the figures and writes bench/results.md.

    bash bench/setup_peer.sh      # once, for the small-text side by side (bench/.venv; never a project dependency)
    python bench/run.py [--rounds 30] [--growth 10,30,100] [--growth-epochs 1] [--skip peer,encoder,pool]

Sections (paper setting: TREC from ../shared/data/trec, |L0| = 500, 50 per round, seed 398048):
1. floor: CAL, random and least confidence as one in-process loop through the library (bench/floor.py).
2. pipeline: `dvc repro` of CAL and random on the same work, from a cache holding only the features,
   with each stage's start-up, artifact I/O, work and peak RSS, and DVC's bookkeeping (bench/pipeline.py).
3. growth: random with 10, 30 and 100 rounds (40 per round at 100, where 50 would run out of pool): wall,
   `dvc status`, no-op `dvc repro`, dvc.lock. A few epochs only: this measures the pipeline, not training.
3b. exp_run: the same 30-round random experiment as `dvc repro`, as `dvc exp run` as DVC ships it, and as
   `dvc exp run` with cartal's stage-file lookup, which `cartal reproduce`'s queue workers run (bench/exp_run.py).
4. peer: small-text's loop, random and least confidence on the same features (bench/peer_small_text.py).
5. encoder: texts/s and peak RSS embedding TREC and BBC News (bench/encoder.py).
6. pool: selection from a pool of 100,000 and its peak RSS (bench/strategies.py); pool_round: every stage's
   peak RSS on 100,000 texts, embedding included, one CAL round through `dvc repro` (bench/pool_round.py).
7. learner: one round of the fine-tuned learner (learner: transformer) at |L| = 500 and 1,000
   (bench/learner_transformer.py).
Each section's rows are also kept as JSON in bench/.work/results/. A benchmark, not a test.

Time on the 2-core machine of bench/results.md: floor 8 min, pipeline 10 min, growth 12 min (100 rounds
included), exp_run 15 min, peer 8 min, encoder 3 min, pool 2 min, pool_round 9 min, learner: see its section.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import exp_run as exp_run_bench  # noqa: E402
import floor as floor_bench  # noqa: E402
import pipeline as pipeline_bench  # noqa: E402
import pool_round as pool_round_bench  # noqa: E402
import report as bench_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench/.work"
PEER_PYTHON = ROOT / "bench/.venv/bin/python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--growth", default="10,30,100", help="round counts of the growth section")
    parser.add_argument("--growth-epochs", type=int, default=1)
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results.md")
    parser.add_argument("--render-only", action="store_true", help="rewrite --out from the kept JSON of the last run")
    args = parser.parse_args()
    if args.render_only:
        return publish(args.out)
    skip = set(filter(None, args.skip.split(",")))
    results_dir = WORK / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base = pipeline_bench.make_base(WORK / "base", args.trec)
    command = "python bench/run.py " + " ".join(sys.argv[1:])

    def section(name: str, compute):
        if name in skip:
            return None
        print(f"== {name}", file=sys.stderr, flush=True)
        begun = time.perf_counter()
        value = compute()
        (results_dir / f"{name}.json").write_text(json.dumps(value, indent=1))
        _record_run(name, command, time.perf_counter() - begun)
        return value

    section("floor", lambda: [row for strategy in ("cartography", "random", "least-confidence")
                              for row in floor_bench.run_floor(base, strategy, args.rounds)])
    section("pipeline", lambda: [pipeline_bench.run_pipeline(base, WORK, strategy, args.rounds)
                                 for strategy in ("cartography", "random")])
    section("growth", lambda: [pipeline_bench.run_pipeline(base, WORK, "random", rounds,
                                                           batch_size=50 if rounds * 50 < 4900 else 40,
                                                           epochs=args.growth_epochs)
                               for rounds in map(int, args.growth.split(","))])
    section("exp_run", lambda: exp_run_bench.run_exp_run(base, "random", args.rounds))
    section("peer", lambda: peer(base, args.rounds))
    section("encoder", lambda: _json_from([sys.executable, str(ROOT / "bench/encoder.py")], "encoder"))
    section("pool", lambda: pool_selection())
    section("pool_round", lambda: pool_round_bench.run_pool_round(WORK, 100_000, args.trec))
    section("learner", lambda: _json_from([sys.executable, str(ROOT / "bench/learner_transformer.py"),
                                           "--data-dir", str(args.trec)], "learner"))
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    publish(args.out)


SECTIONS = ("floor", "pipeline", "growth", "exp_run", "peer", "encoder", "pool", "pool_round", "learner")


def _record_run(name: str, command: str, seconds: float) -> None:
    """Which command produced each section, when, and how long it took (sections can be rerun alone)."""
    path = WORK / "results" / "runs.json"
    runs = json.loads(path.read_text()) if path.is_file() else {}
    runs[name] = {"command": command, "seconds": seconds, "machine": machine(),
                  "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    path.write_text(json.dumps(runs, indent=1))


def publish(out: Path) -> None:
    """Render every section kept in bench/.work/results/ into ``out`` and print it."""
    folder = WORK / "results"
    results = {name: json.loads((folder / f"{name}.json").read_text()) for name in SECTIONS
               if (folder / f"{name}.json").is_file()}
    results["runs"] = json.loads((folder / "runs.json").read_text()) if (folder / "runs.json").is_file() else {}
    # the same sections measured on earlier designs, moved there by hand: one dvc.yaml for all rounds
    # (commit e537bcb), one per round without the warm worker (CARTAL_WARM=0), and the first warm worker
    # (commit 9346496: no gc.freeze, no ruamel.yaml.clib; its figures copied from that commit's results.md)
    for key, name in (("single_lock", "single-lock"), ("per_round_cold", "per-round-cold"),
                      ("warm_unfrozen", "warm-unfrozen")):
        before = folder / name
        if before.is_dir():
            results[key] = {part: json.loads((before / f"{part}.json").read_text())
                            for part in ("pipeline", "growth", "runs") if (before / f"{part}.json").is_file()}
    text = bench_report.render(results)
    out.write_text(text)
    print(text)


def peer(base: Path, rounds: int) -> list[dict]:
    if not PEER_PYTHON.exists():
        raise SystemExit("bench/.venv is missing: run `bash bench/setup_peer.sh` (or --skip peer)")
    _round_zero(base)
    return _json_from([str(PEER_PYTHON), str(ROOT / "bench/peer_small_text.py"), "--project", str(base),
                       "--rounds", str(rounds)], "peer")


def pool_selection() -> dict:
    out = WORK / "strategies.md"
    done = subprocess.run([sys.executable, str(ROOT / "bench/strategies.py"), "--out", str(out)],
                          capture_output=True, text=True, check=True)
    return {"table": out.read_text(), "stdout": done.stdout[-2000:]}


def _round_zero(base: Path) -> None:
    """small-text reads L0 from data/rounds/0/labeled.parquet, which `prepare` wrote in the base project."""
    if not (base / "data/rounds/0/labeled.parquet").is_file():
        raise SystemExit(f"{base}: no L0; delete the folder and rerun")


def _json_from(command: list[str], name: str):
    """Run a bench script that writes its rows with --json, echo its table, and return the rows."""
    path = WORK / "results" / f"{name}.rows.json"
    done = subprocess.run(command + ["--json", str(path)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    print(done.stdout, file=sys.stderr)
    return json.loads(path.read_text())


def machine() -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) // 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    import dvc

    return (f"{platform.machine()}, {cpu}, {len(os.sched_getaffinity(0))} cores, {memory} GiB; "
            f"Python {platform.python_version()}, torch {torch.__version__}, dvc {dvc.__version__}")


if __name__ == "__main__":
    main()
