"""The pipeline as `cartal reproduce` runs it: `dvc exp run` against `dvc repro`, on the same experiment.

    python bench/exp_run.py [--base DIR] [--strategy random] [--rounds 30]

`cartal reproduce` runs every experiment of a grid through DVC's experiment
executor (`dvc exp run --queue`). After each stage the executor stages the
stage's files in git, and to tell which dependencies DVC tracks it asks
`dvc.stage.utils._get_stage_files`, which rebuilds the index of every
dvc.yaml and dvc.lock in the project once per stage. This measures, on copies
of the same project (features cached, as bench/pipeline.py): `dvc repro`;
`dvc exp run` in the workspace; and `dvc exp run` with that one lookup
answered from the pipeline's outputs, read once (cartal/experiments/dvc_executor.py,
which `cartal reproduce`'s queue workers run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import _run, _set, make_base  # noqa: E402  (bench/pipeline.py, beside this file)

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"


def measure(base: Path, strategy: str, rounds: int, how: str) -> dict:
    project = WORK / f"exp-{how}-{strategy}-{rounds}r"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(base, project, symlinks=True)
    _set(project, {"strategy": strategy})
    _run(["cartal", "rounds", str(rounds)], project)
    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", "experiment"], project)
    _run(["dvc", "repro", "prepare"], project)  # as bench/pipeline.py: not part of the rounds' work
    command = {"repro": ["dvc", "repro"], "exp-run": ["dvc", "exp", "run"],
               "exp-run-patched": [sys.executable, "-m", "cartal.experiments.dvc_executor", "exp", "run"]}[how]
    start = time.perf_counter()
    output = _run(command, project)
    wall = time.perf_counter() - start
    curve = [json.loads((project / f"metrics/rounds/{k}.json").read_text())["accuracy"] for k in range(rounds + 1)]
    return {"how": how, "strategy": strategy, "rounds": rounds, "stages_run": output.count("Running stage"),
            "wall_s": wall, "accuracies": curve}


def run_exp_run(base: Path, strategy: str = "random", rounds: int = 30) -> list[dict]:
    rows = [measure(base, strategy, rounds, how) for how in ("repro", "exp-run", "exp-run-patched")]
    if len({tuple(row["accuracies"]) for row in rows}) != 1:
        raise SystemExit("the three runs disagree on the accuracies: " + json.dumps(rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, default=WORK / "base")
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rows = run_exp_run(make_base(args.base, args.trec), args.strategy, args.rounds)
    for row in rows:
        print(f"{row['how']:>16}: {row['wall_s']:7.1f} s, {row['stages_run']} stages")


if __name__ == "__main__":
    main()
