"""Run a grid of experiments through DVC's queue and aggregate what finished."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from cartal.errors import ProjectError
from cartal.experiments import backup, dvc_queue
from cartal.experiments.grid import Grid
from cartal.experiments.outputs import encoder_summary, write_reproduction

log = logging.getLogger(__name__)


def reproduce(root: Path, grid: Grid, jobs: int = 2, progress: bool = True, significance_samples: int = 1000,
              name: str | None = None, ray: str | None = None, git_remote: str | None = None,
              dvc_remote: str | None = None) -> Path:
    """Queue the grid's missing experiments, run them with ``jobs`` workers, aggregate all of them.

    Experiments that finished on top of the current commit are kept, not rerun;
    within a rerun, unchanged stages come from DVC's run cache. The aggregate goes
    to metrics/reproduce/<name>/ (name: the dataset unless given). With ``ray`` (a
    cluster's address, or "auto" for one started here with ``jobs`` CPUs) the
    experiments run as Ray tasks through the git and DVC remotes instead
    (``_run_on_ray``), and the workspace is not touched.
    """
    name = name or grid.dataset
    dvc_queue.check_project(root)
    backup.restore(root)  # what a reproduction killed while it queued left in the workspace, before anything else
    experiments = grid.experiments()
    # every experiment's params checked now; the first one's say what the grid shares (encoder, cal.tau)
    params = [dvc_queue.check_overrides(root, experiment) for experiment in experiments][0]
    started = time.monotonic()
    done = dvc_queue.finished(root)
    pending = [e for e in experiments if e.name not in done]
    if ray is not None:  # the workspace is not touched: tasks work in clones
        pending = _run_on_ray(root, grid, pending, len(experiments), params, ray, git_remote, dvc_remote, jobs,
                              progress)
    else:
        log.info("%d experiments: %d finished earlier, %d to run", len(experiments), len(experiments) - len(pending),
                 len(pending))
        _run_on_queue(root, grid, pending, jobs, progress, params)
    done = dvc_queue.finished(root)
    reading = _progress_bar(len(experiments), progress, "reading experiments")
    runs = []
    for experiment in experiments:
        runs.append(dvc_queue.read_run(root, experiment, done[experiment.name], grid.rounds, params.cal.tau))
        if reading:
            reading(len(runs), len(experiments))
    elapsed = time.monotonic() - started if pending else _earlier_elapsed(root, name)
    return write_reproduction(runs, grid, root, elapsed_s=elapsed, significance_samples=significance_samples,
                              name=name, encoder=encoder_summary(params.encoder),
                              jobs=min(jobs, len(os.sched_getaffinity(0))),
                              on_progress=_progress_bar(None, progress, "significance tests", "test"))


def _embed_once(params, progress: bool) -> None:
    """Every text of the grid's dataset into the feature cache before the first experiment starts, so that each
    experiment's embed stage only reads it: otherwise the first experiments the queue starts embed the same texts
    side by side, and the others wait for the cores they take."""
    from cartal.data import datasets
    from cartal.encoders import cache, embed_splits
    from cartal.encoders.signature import signature

    if cache.root() is None or signature(params.encoder) is None:
        return  # nothing would be kept for the experiments: each embeds its own texts (embed_splits says why)
    dataset = datasets.load(params.dataset, params.data)
    log.info("the grid's %d texts into the feature cache %s, once, before the experiments",
             len(dataset.train) + len(dataset.test), cache.root())
    embed_splits({"train": dataset.train["text"].tolist(), "test": dataset.test["text"].tolist()}, params.encoder,
                 progress=progress)


def _run_on_queue(root: Path, grid: Grid, pending: list, jobs: int, progress: bool, params) -> None:
    """Embed the dataset once, queue the experiments not queued yet, run the queue with ``jobs`` workers, raise
    the failures."""
    if not pending:
        return
    _embed_once(params, progress)
    status = dvc_queue.queue_status(root)
    with dvc_queue.rounds_for_queue(root, grid.rounds):
        for experiment in pending:
            if status.get(experiment.name) not in dvc_queue.ACTIVE:
                dvc_queue.enqueue(root, experiment)
    outcome = dvc_queue.run_queue(root, [e.name for e in pending], jobs, _progress_bar(len(pending), progress))
    failed = [name for name, state in outcome.items() if state != "Success"]
    if failed:
        details = "\n\n".join(f"{name}: {outcome[name]}\n{dvc_queue.failure_log(root, name)}" for name in failed)
        raise ProjectError(f"{len(failed)} of {len(pending)} experiments did not finish: {', '.join(failed)}\n\n"
                           f"{details}\n\nThe finished ones are kept; fix the cause and run the same "
                           "`cartal reproduce` again to run only these.")


def _run_on_ray(root: Path, grid: Grid, missing: list, total: int, params, address: str, git_remote: str | None,
                dvc_remote: str | None, jobs: int, progress: bool) -> list:
    """Run the experiments neither this repository nor the git remote holds as Ray tasks, then pull every one the
    remote holds into this repository; return those that ran (empty when none had to), for the elapsed time.
    Every task is waited for; then the failures are raised, each with its experiment's own error."""
    from cartal.experiments import ray_executor, remotes

    where = remotes.resolve(root, git_remote, dvc_remote)
    commit = remotes.head(root)
    remotes.check_commit_pushed(root, where.git_url, commit)
    on_remote = remotes.experiments_on(root, where.git_url, commit)
    to_run = [e for e in missing if e.name not in on_remote]
    log.info("%d experiments: %d finished earlier, %d on the git remote, %d to run on Ray", total,
             total - len(missing), len(missing) - len(to_run), len(to_run))
    failures: dict[str, str] = {}
    if to_run:
        jobs_ = [ray_executor.Job(e, grid.rounds, commit, where, remotes.author(root)) for e in to_run]
        with ray_executor.session(address, jobs):
            _, failures = ray_executor.run_grid(jobs_, ray_executor.resources(params),
                                                _progress_bar(len(jobs_), progress))
    on_remote = remotes.experiments_on(root, where.git_url, commit)
    remotes.pull(root, where, [e.name for e in missing if e.name in on_remote])
    if failures:
        details = "\n\n".join(f"{name}:\n{error}" for name, error in failures.items())
        raise ProjectError(f"{len(failures)} of {len(to_run)} experiments failed on Ray: {', '.join(failures)}\n\n"
                           f"{details}\n\nThe finished ones are on the remotes and pulled here; fix the cause and run "
                           "the same `cartal reproduce` again to run only these.")
    return to_run


def _earlier_elapsed(root: Path, name: str) -> float | None:
    """Aggregating again without running anything keeps the time the last run took."""
    import json

    from cartal.experiments.outputs import output_dir

    path = output_dir(root, name) / "summary.json"
    try:
        return json.loads(path.read_text()).get("elapsed_s")
    except (OSError, ValueError):
        return None


def _progress_bar(total: int | None, enabled: bool, desc: str = "experiments", unit: str = "exp"):
    """An ``on_progress(done, total)`` that draws a bar; ``total`` None: the first call tells it."""
    if not enabled:
        return None
    from cartal.progress import meter

    bar = None

    def update(done: int, of: int) -> None:
        nonlocal bar
        if bar is None:
            bar = meter(total=total or of, desc=desc, unit=unit)
        bar.update(done - bar.n)
        if done == bar.total:
            bar.close()

    return update
