"""A grid's experiments as Ray tasks: each clones the commit, runs one DVC experiment, pushes it, returns a summary.

DVC's experiment queue is local to one repository (a Celery app on a filesystem broker), so a grid that
outgrows one machine needs another engine; Ray places tasks on a cluster's machines by the resources they
declare, and retries a task whose worker or machine died. A task (``run_experiment``) works in a private clone
of the baseline commit from the shared git remote, never in the user's workspace: it writes the grid's round
pipelines there (what ``backup.hold`` does in the workspace for the queue), runs `dvc exp run -n NAME -S ...`,
pushes the outputs and the run cache to the DVC remote first and the experiment's git ref last, so that a ref
on the remote always has its outputs. A task that finds its experiment on the remote already (another copy of
it, retried after a machine was thought dead, pushed first) returns that one: git keeps one ref per name, and
`dvc exp push` refuses to replace a ref that differs, so an experiment is never recorded twice.

``run_grid`` is the driver: it submits the tasks, waits for all of them, and reports every failure with the
experiment's own error once the others have finished.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cartal import layout
from cartal.errors import ProjectError
from cartal.experiments.dvc_queue import THREAD_VARIABLES
from cartal.experiments.grid import Experiment
from cartal.experiments.remotes import Remotes

log = logging.getLogger(__name__)

#: where tasks make their clones (default: the system's temporary folder); one folder per task, removed after
WORKDIR_ENV = "CARTAL_RAY_WORKDIR"
#: Ray's switch for multi-node clusters: off, node addresses stay on loopback
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
#: tasks pass a few hundred bytes each way: Ray's default store (30 % of the memory, in /dev/shm) would only take
#: memory from the experiments
OBJECT_STORE_BYTES = 128 << 20
#: a task whose worker process or machine died is run again this many times (Ray's max_retries)
RETRIES = 3


@dataclass(frozen=True)
class Job:
    """Everything a task needs, and nothing from the driver's machine but what it names."""

    experiment: Experiment
    rounds: int
    commit: str
    remotes: Remotes
    author: tuple[str, str] | None  # git user.name and user.email for the experiment's commit
    cpus: int = 1


@dataclass(frozen=True)
class Summary:
    """What a task returns: the experiment, its commit, its final metrics, where and how long it ran."""

    name: str
    rev: str
    metrics: dict
    seconds: float
    node: str
    reused: bool = False  # True: the remote held it already (a retried copy's twin pushed first); not rerun
    phases: tuple[tuple[str, float], ...] = ()  # seconds of clone (and pull), run, push: the path's overhead


def run_experiment(job: Job) -> Summary:
    """Clone, run, push one experiment; raise ProjectError with its own output when it fails."""
    started = time.monotonic()
    name = job.experiment.name
    existing = _on_remote(job)
    if existing:
        return Summary(name, existing, {}, time.monotonic() - started, _node(), reused=True)
    phases = []
    with _clone(job) as clone:
        phases.append(("clone", time.monotonic() - started))
        env = _task_env(job.cpus)
        _sh(["cartal", "rounds", str(job.rounds)], clone, name, env)  # params.yaml and rounds/ of the grid's rounds
        _sh(["git", "add", "-A", "--", layout.ROUND_PIPELINES.as_posix(), "params.yaml"], clone, name, env)
        run = [sys.executable, "-m", "cartal.experiments.dvc_executor", "exp", "run", "--name", name]
        for override in job.experiment.overrides:
            run += ["-S", override]
        _sh(run, clone, name, env, what="the experiment")
        rev = _sh(["git", "rev-parse", f"refs/exps/{job.commit[:2]}/{job.commit[2:]}/{name}"], clone, name, env)
        metrics = _small(json.loads((clone / layout.SUMMARY).read_text()))
        phases.append(("run", time.monotonic() - started - sum(seconds for _, seconds in phases)))
        pushed = _on_remote(job)  # a copy of this task that Ray thought lost may have pushed meanwhile
        if pushed is None:
            # outputs and run cache first, the ref last: a ref on the remote always has its outputs there
            _sh(["dvc", "push", "--run-cache", "-r", job.remotes.dvc_name], clone, name, env, what="`dvc push`")
            try:
                _sh(["dvc", "exp", "push", "--no-cache", job.remotes.git_url, name], clone, name, env)
            except ProjectError:
                if _on_remote(job) is None:  # a push refused because the twin's ref is there is no failure
                    raise
            pushed = _on_remote(job)
        phases.append(("push", time.monotonic() - started - sum(seconds for _, seconds in phases)))
    if pushed is None:
        raise ProjectError(f"experiment {name}: `dvc exp push` left no ref on {job.remotes.git_url}")
    return Summary(name, pushed, metrics if pushed == rev else {}, time.monotonic() - started, _node(),
                   reused=pushed != rev, phases=tuple(phases))


def _node() -> str:
    """The machine and, within a Ray task, the Ray node (several can share a machine)."""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()[:8] if ray.is_initialized() else None
    except ImportError:
        node = None
    return f"{socket.gethostname()}/{node}" if node else socket.gethostname()


def _on_remote(job: Job) -> str | None:
    from cartal.experiments.remotes import experiments_on

    return experiments_on(Path.cwd(), job.remotes.git_url, job.commit).get(job.experiment.name)


@contextmanager
def _clone(job: Job) -> Iterator[Path]:
    """A private clone of the commit with the DVC remote configured and what the commit tracks pulled."""
    base = os.environ.get(WORKDIR_ENV) or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{job.experiment.name}-", dir=base))
    name = job.experiment.name
    try:
        clone = folder / "repo"
        _sh(["git", "clone", "-q", "--no-checkout", job.remotes.git_url, str(clone)], folder, name)
        _sh(["git", "checkout", "-q", "--detach", job.commit], clone, name)
        if job.author:
            _sh(["git", "config", "user.name", job.author[0]], clone, name)
            _sh(["git", "config", "user.email", job.author[1]], clone, name)
        _sh(["dvc", "remote", "add", "--local", "-f", job.remotes.dvc_name, job.remotes.dvc_url], clone, name)
        _sh(["dvc", "pull", "--allow-missing", "-q", "-r", job.remotes.dvc_name], clone, name, what="`dvc pull`")
        yield clone
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _task_env(cpus: int) -> dict[str, str]:
    """The math libraries' threads limited to the task's CPUs, as the queue's workers are (a limit set already
    is kept)."""
    return {name: os.environ.get(name, str(cpus)) for name in THREAD_VARIABLES}


def _sh(args: list[str], cwd: Path, name: str, env: dict | None = None, what: str | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})})
    if result.returncode != 0:
        # DVC names every output a fresh clone lacks before it runs: noise that would hide the error's lines
        output = "\n".join(line for line in (result.stdout + result.stderr).strip().splitlines()
                           if not line.startswith("WARNING: No file hash info found"))
        raise ProjectError(f"experiment {name} on {socket.gethostname()}: {what or '`' + ' '.join(args[:3]) + '`'} "
                           f"failed (exit {result.returncode}):\n{output[-3000:]}")
    return result.stdout.strip()


def _small(summary: dict) -> dict:
    """The scalar metrics of metrics/summary.json: what the driver prints, not the curves."""
    return {key: value for key, value in summary.items() if isinstance(value, (int, float, str, bool))}


def resources(params) -> dict:
    """What a task declares so that Ray places it: one CPU; a GPU too where the params train or embed on CUDA."""
    devices = [params.encoder.device, *([params.transformer.device] if params.learner == "transformer" else [])]
    return {"num_cpus": 1, "num_gpus": 1 if any(d.startswith("cuda") for d in devices) else 0}


def run_grid(jobs: list[Job], task_resources: dict, on_progress: Callable[[int, int], None] | None = None
             ) -> tuple[list[Summary], dict[str, str]]:
    """Run every job as a Ray task (Ray is initialised by the caller); return the summaries and, by experiment
    name, the error of every task that failed, once all of them have finished."""
    import ray
    from ray.exceptions import RayTaskError

    task = ray.remote(max_retries=RETRIES, retry_exceptions=False)(run_experiment)
    waiting = {task.options(name=job.experiment.name, **task_resources).remote(job): job for job in jobs}
    summaries: list[Summary] = []
    failures: dict[str, str] = {}
    while waiting:
        ready, _ = ray.wait(list(waiting), num_returns=1)
        for ref in ready:
            job = waiting.pop(ref)
            try:
                summary = ray.get(ref)
            except RayTaskError as error:
                cause = error.cause if isinstance(error.cause, Exception) else error
                failures[job.experiment.name] = str(cause)
            except ray.exceptions.RayError as error:  # the task's retries ran out (its machines kept dying)
                failures[job.experiment.name] = f"{type(error).__name__}: {error}"
            else:
                summaries.append(summary)
                log.info("%s: %s in %.0f s on %s%s", summary.name, "on the remote already" if summary.reused
                         else "pushed", summary.seconds, summary.node,
                         "".join(f"; {phase} {seconds:.1f} s" for phase, seconds in summary.phases))
        if on_progress:
            on_progress(len(jobs) - len(waiting), len(jobs))
    return summaries, failures


@contextmanager
def session(address: str, cpus: int) -> Iterator[None]:
    """Connect to the Ray cluster at ``address``, or with "auto" start one on this machine with ``cpus`` CPUs,
    listening on loopback only (nothing to set up, nothing reachable from elsewhere); disconnect after."""
    local = address == "auto"
    if (local or address.split(":")[0] in ("127.0.0.1", "localhost")) and "ray" not in sys.modules:
        # Ray replaces a loopback address with the machine's network address (so that other machines could join)
        # unless multi-node clusters are off, which is what this flag says on Linux too: a cluster on this
        # machine alone stays on loopback, reachable from nowhere else
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError as exc:
        raise ProjectError("--ray needs Ray: pip install 'cartal[ray]' (or pip install ray)") from exc
    temp = Path(tempfile.mkdtemp(prefix="cartal-ray-", dir="/tmp")) if local else None  # short: socket paths
    try:
        if local:
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                     object_store_memory=OBJECT_STORE_BYTES, _temp_dir=str(temp), log_to_driver=False,
                     configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ProjectError(f"cannot connect to the Ray cluster at {address!r}: {exc}; start one with `ray start "
                           "--head` (or `ray up CLUSTER.yaml`) and pass its address, or use --ray auto") from exc
    try:
        yield
    finally:
        ray.shutdown()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
