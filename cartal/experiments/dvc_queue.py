"""The DVC side of a reproduction: queue experiments, run the queue, read finished experiments back.

The only module of the package that drives DVC. Experiments are named (see
``grid``), so a reproduction that is run again skips the experiments that
already exist for the current commit and queues only the missing or failed
ones: an interrupted reproduction resumes where it stopped.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cartal import layout, provenance
from cartal.data import registry
from cartal.errors import ProjectError
from cartal.experiments.grid import Experiment
from cartal.experiments.results import Run
from cartal.params import Params, load_params

log = logging.getLogger(__name__)

ACTIVE = {"Queued", "Running"}
_WORKERS = re.compile(r"^Worker status: (?P<active>\d+) active, (?P<idle>\d+) idle")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _run(args: list[str], repo: Path, check: bool = True, env: dict | None = None,
         to_file: bool = False) -> subprocess.CompletedProcess:
    """Run a command in ``repo`` and return its output; ``to_file`` collects it in a file, not a pipe, for a
    command that leaves processes behind which inherit its output (a pipe would wait for them to exit)."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})}
    if to_file:
        with tempfile.TemporaryFile(mode="w+") as output:
            returncode = subprocess.run(args, cwd=repo, env=env, stdout=output, stderr=subprocess.STDOUT).returncode
            output.seek(0)
            result = subprocess.CompletedProcess(args, returncode, output.read(), "")
    else:
        result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ProjectError(f"`{' '.join(args)}` failed in {repo} (exit {result.returncode}):\n"
                           f"{(result.stdout + result.stderr).strip()[-3000:]}")
    return result


def check_project(repo: Path) -> None:
    """A reproduction needs a cartal project in a git repository with at least one commit."""
    if not (repo / "dvc.yaml").is_file() or not (repo / ".dvc").is_dir():
        raise ProjectError(f"{repo} is not a DVC project with a dvc.yaml: run `cartal reproduce` in the project's root")
    if _run(["git", "rev-parse", "--verify", "HEAD"], repo, check=False).returncode != 0:
        raise ProjectError(f"{repo}: DVC experiments need a git commit; commit the project first "
                           "(git add -A && git commit -m 'experiment setup')")


def finished(repo: Path) -> dict[str, str]:
    """Experiment name -> commit of every experiment that finished on top of the current HEAD."""
    head = _run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    prefix = f"refs/exps/{head[:2]}/{head[2:]}/"
    listing = _run(["git", "for-each-ref", "--format=%(refname) %(objectname)", prefix], repo).stdout
    refs = (line.split() for line in listing.splitlines() if line.strip())
    return {ref[len(prefix):]: sha for ref, sha in refs}


def queue_status(repo: Path) -> dict[str, str]:
    """Experiment name -> status of its newest queue task (Queued, Running, Success, Failed, ...)."""
    return parse_queue_status(_run(["dvc", "queue", "status"], repo).stdout)[0]


def parse_queue_status(text: str) -> tuple[dict[str, str], int]:
    """`dvc queue status` output -> (experiment name -> newest task's status, workers running)."""
    status: dict[str, str] = {}
    workers = 0
    for line in text.splitlines()[1:]:
        found = _WORKERS.match(line.strip())
        if found:
            workers = int(found["active"]) + int(found["idle"])
            continue
        words = line.split()
        if len(words) >= 4:
            status.setdefault(words[1], words[-1])  # newest task first
    return status, workers


def rounds_for_queue(repo: Path, rounds: int):
    """While experiments are queued, give the workspace the round pipelines of ``rounds`` rounds; afterwards,
    or on the next cartal command after a kill, params.yaml, rounds/ and git's index of rounds/ are back
    (``backup.hold``: the originals are kept in .dvc/tmp/cartal-reproduce/ meanwhile)."""
    from cartal.experiments import backup

    return backup.hold(repo, rounds)


def enqueue(repo: Path, experiment: Experiment) -> None:
    args = ["dvc", "exp", "run", "--queue", "--name", experiment.name]
    for override in experiment.overrides:
        args += ["-S", override]
    _run(args, repo)


def run_queue(repo: Path, names: list[str], jobs: int, on_progress: Callable[[int, int], None] | None = None,
              poll_seconds: float = 20.0, restart_after_s: float = 30.0) -> dict[str, str]:
    """Start ``jobs`` workers and wait until every experiment in ``names`` has succeeded or failed.

    The workers `dvc queue start` leaves running inherit its output, so that goes to a file, not a pipe: a
    pipe would stay open, and this wait with it, until the last worker exits, and a worker can hang after
    its last task (dvc-task's empty-queue shutdown racing a running task). A worker can also die with
    experiments still queued (two workers reading the same message file of kombu's filesystem broker: a
    JSONDecodeError in its log), which would halve the speed of the rest: when fewer than ``jobs`` workers
    have run for ``restart_after_s`` while experiments wait, the missing ones are started again. Once every
    experiment has settled, the workers are asked to stop. Each poll (`dvc queue status`) costs about 1.6 s
    of CPU on a 2-core machine, taken from the experiments: hence a poll every ``poll_seconds`` only.
    """
    env = {**worker_threads(jobs), **executor_path(repo)}
    start_workers(repo, jobs, env)
    short_since = None
    try:
        while True:
            status, workers = parse_queue_status(_run(["dvc", "queue", "status"], repo).stdout)
            done = finished(repo)
            outcome = {name: "Success" if name in done else status.get(name, "missing") for name in names}
            settled = sum(state not in ACTIVE for state in outcome.values())
            if on_progress:
                on_progress(settled, len(names))
            if settled == len(names):
                return outcome
            waiting = sum(state == "Queued" for state in outcome.values())
            if workers >= jobs or not waiting:
                short_since = None
            elif short_since is None:
                short_since = time.monotonic()
            elif time.monotonic() - short_since >= restart_after_s:
                log.warning("%d of %d queue workers left with %d experiments waiting; starting the missing ones",
                            workers, jobs, waiting)
                start_workers(repo, jobs, env)  # starts only the missing ones
                short_since = None
            time.sleep(poll_seconds)
    finally:
        _run(["dvc", "queue", "stop"], repo, check=False)


def start_workers(repo: Path, jobs: int, env: dict[str, str] | None = None) -> None:
    """`dvc queue start -j jobs` (it starts only the workers that are not running), after `dvc exp clean`.

    A queue worker reads the control messages left in the mailbox of the worker of the same name before it.
    The `dvc queue stop` that ends every run reaches workers that have exited already, and leaves each a
    shutdown there: the next run's worker obeys it after its first experiment (treeverse/dvc#10427), and
    the run goes on with fewer workers until ``run_queue`` starts them again. DVC's clean removes the
    expired control messages and keeps the queued experiments.
    """
    cleaned = _run(["dvc", "exp", "clean"], repo, check=False)
    if cleaned.returncode != 0:
        log.warning("`dvc exp clean` failed (%s); a stale shutdown may stop a queue worker early",
                    (cleaned.stdout + cleaned.stderr).strip()[-300:])
    _run(["dvc", "queue", "start", "-j", str(jobs)], repo, env=env, to_file=True)


def executor_path(repo: Path) -> dict[str, str]:
    """A PATH for the queue workers on which `dvc` is DVC with ``dvc_executor``'s faster stage-file lookup.

    A worker runs each experiment as the command `dvc exp exec-run`, found on its PATH; so a `dvc` that
    installs the replacement first (in .dvc/tmp, which git ignores) is put in front of it.
    """
    folder = repo / ".dvc" / "tmp" / "cartal-executor"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "dvc"
    text = f'#!/bin/sh\nexec "{sys.executable}" -m cartal.experiments.dvc_executor "$@"\n'
    if not script.is_file() or script.read_text() != text:
        script.write_text(text)
        script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def worker_threads(jobs: int, cores: int | None = None) -> dict[str, str]:
    """Thread limits for the workers' math libraries: the cores shared out, so that ``jobs`` workers do not
    oversubscribe them (spinning OpenMP threads slowed training many times over: bench/results.md).
    A limit the user set already is kept."""
    cores = cores or len(os.sched_getaffinity(0))
    share = str(max(1, cores // max(1, jobs)))
    return {name: os.environ.get(name, share) for name in THREAD_VARIABLES}


def failure_log(repo: Path, name: str, lines: int = 25) -> str:
    result = _run(["dvc", "queue", "logs", name], repo, check=False)
    return "\n".join((result.stdout + result.stderr).strip().splitlines()[-lines:])


def read_run(repo: Path, experiment: Experiment, rev: str, rounds: int, tau: float = 0.2) -> Run:
    """An experiment's curve, batch statistics, selections, first and last data maps, the size of CAL's
    hard-to-learn class (binned correctness <= ``tau``) in every round's map, from its commit (the curve holds
    what the stopping criteria said after each round, in its stop_<criterion> columns)."""
    from cartal.strategies.cartography import Cartography
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(str(repo), rev=rev)

    def text(path: Path) -> str:
        try:
            return fs.read_text(path.as_posix())
        except FileNotFoundError as exc:
            raise ProjectError(f"experiment {experiment.name} ({rev[:7]}) has no {path}; "
                               "it did not finish: rerun `cartal reproduce`") from exc

    def parquet(path: Path) -> pd.DataFrame:
        try:
            return pd.read_parquet(io.BytesIO(fs.read_bytes(path.as_posix())))
        except FileNotFoundError as exc:
            raise ProjectError(f"experiment {experiment.name} ({rev[:7]}): {path} is not in the DVC cache; "
                               "run `cartal reproduce` again to rerun it") from exc

    curve = pd.read_csv(io.StringIO(text(layout.CURVE_CSV)))
    batches = pd.read_csv(io.StringIO(text(layout.BATCH_STATS)))
    summary = json.loads(text(layout.SUMMARY))
    if summary.get("strategy") != experiment.strategy:  # the commit is not the experiment it is named after
        raise ProjectError(f"experiment {experiment.name} ran strategy {summary.get('strategy')!r}, "
                           f"expected {experiment.strategy!r}")
    selected = {k: parquet(layout.in_round(k, "selected.parquet"))["id"].astype(str).tolist() for k in range(rounds)}
    every_map = {k: parquet(layout.in_round(k, "map.parquet")) for k in range(rounds + 1)}
    maps = {"first": every_map[0], "last": every_map[rounds]}
    hard = {k: int((Cartography(tau=tau).targets(frame["correctness"].to_numpy()) == 0).sum())
            for k, frame in every_map.items()}
    return Run(experiment.name, experiment.strategy, experiment.seed, curve, batches, selected, maps, hard,
               summary.get("features_computed_on") or [provenance.UNRECORDED],
               summary.get("rounds_run_on") or [provenance.UNRECORDED])


def experiment_params(repo: Path, experiment: Experiment) -> Params:
    """The params an experiment runs with: the project's params.yaml with its overrides applied the way `-S`
    applies them (DVC's own function), validated."""
    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "params.yaml"
        shutil.copy(repo / "params.yaml", copy)
        apply_overrides(str(copy), list(experiment.overrides))
        return load_params(copy)


def check_overrides(repo: Path, experiment: Experiment) -> Params:
    """Validate an experiment's params now rather than in a queued worker; return them."""
    from cartal import strategies

    params = experiment_params(repo, experiment)
    strategies.check_args(params, source=f"experiment {experiment.name}")
    for key in (source.folder_key for source in registry.with_folders()):
        folder = getattr(params.data, key)
        if folder and not Path(folder).is_absolute():
            raise ProjectError(f"data.{key} is the relative path {folder!r}: queued experiments run in a copy of the "
                               "project under .dvc/tmp/exps, where it breaks; pass --data-dir with any path "
                               "(it is made absolute) or set an absolute path")
    return params
