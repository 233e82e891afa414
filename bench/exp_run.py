"""The pipeline as `cartal reproduce` runs it: `dvc exp run` against `dvc repro`, on the same experiment.

    python bench/exp_run.py [--base DIR] [--strategy random] [--rounds 30]

`cartal reproduce` runs every experiment of a grid through DVC's experiment
executor (`dvc exp run --queue`). After each stage the executor stages the
stage's files in git, and to tell which dependencies DVC tracks it asks
`dvc.stage.utils._get_stage_files`, which rebuilds the index of every
dvc.yaml and dvc.lock in the project once per stage. This measures, on copies
of the same project (features cached, as bench/pipeline.py): `dvc repro`;
`dvc exp run` in the workspace; and `dvc exp run` with that one lookup
replaced by a list that needs no index: the stage's dvc.yaml and dvc.lock, its
outputs, and of its dependencies the Python files (in this project the only
dependencies that are not DVC outputs are the stage modules in stages/). An
experiment on DVC's internals: what a change in DVC would give.
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
# dvc exp run, with the executor's per-stage index lookup (`isdvc` of each dependency) replaced by the
# stage's .py dependencies: the files the executor would stage anyway, found without rebuilding the index
PATCHED = """
import sys
import dvc.stage.utils as utils
from dvc.dvcfile import ProjectFile
from dvc.utils import relpath

def stage_files(stage):
    files = [stage.dvcfile.relpath]
    if isinstance(stage.dvcfile, ProjectFile):
        files.append(stage.dvcfile._lockfile.relpath)
    files += [relpath(dep.fs_path) for dep in stage.deps
              if not dep.use_scm_ignore and dep.is_in_repo and dep.fs_path.endswith(".py")]
    files += [relpath(out.fs_path) for out in stage.outs if not out.use_scm_ignore and out.is_in_repo]
    return files

utils._get_stage_files = stage_files
from dvc.cli import main
sys.exit(main(["exp", "run"]))
"""


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
               "exp-run-patched": [sys.executable, "-c", PATCHED]}[how]
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
