"""`cartal reproduce --ray` on a real two-node Ray cluster on loopback, against a bare git remote and a folder as
the DVC remote: the grid's experiments are pushed by the tasks, pulled into the user's repository, and match a
local queue run of the same grid; a node killed mid-grid costs nothing but time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import ray_nodes
from cartal.experiments.dvc_queue import finished
from cartal.experiments.remotes import experiments_on
from projects import new_project, run

pytestmark = pytest.mark.slow
SEED_SIZE, BATCH, ROUNDS, EPOCHS = 30, 15, 2, 3
GRID = ["-s", "random", "-s", "entropy", "--seed", "11", "--seed", "12", "--seed-size", str(SEED_SIZE),
        "--batch-size", str(BATCH), "--rounds", str(ROUNDS), "-j", "2", "--significance-samples", "50"]


def shared_project(folder: Path, shared_data: Path) -> Path:
    """A project whose commit is on a bare git remote, with a folder as its default DVC remote (in
    .dvc/config.local: the tasks' clones get it from the driver, not from the commit)."""
    folder.mkdir()
    (folder / "repo").mkdir()
    repo = new_project(folder / "repo", shared_data, rounds=1, epochs=EPOCHS)
    run(["git", "init", "-q", "--bare", str(folder / "remote.git")], folder)
    run(["git", "remote", "add", "origin", str(folder / "remote.git")], repo)
    run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], repo)
    run(["dvc", "remote", "add", "--local", "-d", "storage", str(folder / "storage")], repo)
    return repo


def workspace(repo: Path) -> dict:
    """params.yaml, rounds/ and git's view of them: what the queue path rewrites while it queues."""
    files = {p: p.read_text() for p in [repo / "params.yaml", *sorted((repo / "rounds").rglob("*"))] if p.is_file()}
    return {"files": files, "git": run(["git", "status", "--porcelain", "--", "params.yaml", "rounds"], repo).stdout}


def reproduce_args(shared_data: Path, *extra: str) -> list[str]:
    return ["cartal", "reproduce", "--data-dir", str(shared_data / "trec"), *GRID, *extra]


def driver_env(cluster: ray_nodes.Cluster) -> dict[str, str]:
    return {**os.environ, **cluster.env, "DVC_NO_ANALYTICS": "1"}


def exp_metrics(repo: Path) -> dict[str, dict]:
    """`dvc exp show`'s metrics of every experiment of the repository's HEAD, by name."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    found = {}
    for row in shown:
        for experiment in row.get("experiments") or []:
            for revision in experiment["revs"]:
                data = revision.get("data") or {}
                found[revision["name"]] = data.get("metrics")
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    nodes = ray_nodes.start(tmp_path_factory.mktemp("ray"), nodes=2, cpus=1)
    yield nodes
    nodes.stop()


@pytest.fixture(scope="module")
def on_ray(tmp_path_factory, shared_data, cluster) -> tuple[Path, str]:
    repo = shared_project(tmp_path_factory.mktemp("on-ray") / "p", shared_data)
    before = workspace(repo)
    result = subprocess.run(reproduce_args(shared_data, "--ray", cluster.address, "--check"), cwd=repo,
                            env=driver_env(cluster), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert workspace(repo) == before  # tasks work in clones: params.yaml and rounds/ were never touched
    return repo, result.stdout + result.stderr


def test_a_grid_on_two_nodes_lists_every_experiment_with_the_metrics_of_a_local_run(on_ray, shared_data,
                                                                                     tmp_path_factory):
    repo, output = on_ray
    assert "4 to run on Ray" in output and "check: every experiment finished" in output
    nodes = set(re.findall(r"pushed in \d+ s on \S+/(\w+)", output))
    assert len(nodes) == 2  # both nodes ran experiments
    names = finished(repo)
    head = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    assert len(names) == 4 and experiments_on(repo, str(repo.parent / "remote.git"), head) == names
    ours = exp_metrics(repo)
    assert set(names) <= set(ours)

    local = new_project(tmp_path_factory.mktemp("queue"), shared_data, rounds=1, epochs=EPOCHS)
    run(reproduce_args(shared_data), local)
    theirs = exp_metrics(local)
    assert set(finished(local)) == set(names)  # the same names: they come from the grid, not the commit
    for name in names:
        assert ours[name] == theirs[name], name
    curves = "metrics/reproduce/trec/curves_by_seed.csv"  # the aggregate, read from each repository's experiments
    assert (repo / curves).read_text() == (local / curves).read_text()


def test_a_second_run_finds_everything_on_the_remote_and_runs_nothing(on_ray, shared_data, cluster):
    repo, _ = on_ray
    before = finished(repo)
    for name in list(before)[:2]:  # lost here, kept on the remote: pulled again, not rerun
        run(["dvc", "exp", "remove", name], repo)
    result = subprocess.run(reproduce_args(shared_data, "--ray", cluster.address), cwd=repo, env=driver_env(cluster),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 finished earlier, 2 on the git remote, 0 to run on Ray" in result.stderr
    assert finished(repo) == before


def test_a_node_killed_mid_grid_leaves_every_experiment_once(tmp_path_factory, shared_data, cluster):
    repo = shared_project(tmp_path_factory.mktemp("killed") / "p", shared_data)
    worker = cluster.nodes[1]
    driver = subprocess.Popen(reproduce_args(shared_data, "--ray", cluster.address), cwd=repo, env=driver_env(cluster),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (worker.clones.is_dir() and any(worker.clones.iterdir())):  # a task runs on the node
            assert driver.poll() is None and time.monotonic() < deadline, "no task started on the second node"
            time.sleep(0.5)
        time.sleep(5)  # into the experiment
        worker.kill()
        output, _ = driver.communicate(timeout=900)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, output[-5000:]
    # the experiment the node was running when it died: its clone is left there, and it was pushed by the head
    killed = [folder.name.rsplit("-", 1)[0] for folder in worker.clones.iterdir()]
    assert len(killed) == 1 and re.search(rf"{killed[0]}: pushed in \d+ s", output), output[-3000:]
    head = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    on_remote = experiments_on(repo, str(repo.parent / "remote.git"), head)
    assert len(on_remote) == 4 and finished(repo) == on_remote  # all four, each once, the same commits here
    assert all(metrics for metrics in exp_metrics(repo).values())


FAILING_STRATEGY = '''
import numpy as np
from cartal.strategies import PoolState, QueryStrategy


class Failing(QueryStrategy):
    """Valid params, a failure at run time: what check-params cannot see before the grid runs."""

    name = "failing"

    def score(self, state: PoolState) -> np.ndarray:
        raise RuntimeError("the failing strategy fails, as the test wants")
'''


def test_a_failing_experiment_fails_the_grid_with_its_own_error_after_the_others_finish(tmp_path_factory,
                                                                                        shared_data, cluster):
    repo = shared_project(tmp_path_factory.mktemp("failing") / "p", shared_data)
    (repo / "my_strategies.py").write_text(FAILING_STRATEGY)
    run(["git", "add", "my_strategies.py"], repo)
    run(["git", "commit", "-qm", "a strategy that fails"], repo)
    run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], repo)
    args = ["cartal", "reproduce", "--data-dir", str(shared_data / "trec"), "-s", "random",
            "-s", "my_strategies:Failing", "--seed", "11", "--seed-size", str(SEED_SIZE), "--batch-size", str(BATCH),
            "--rounds", "1", "--significance-samples", "50", "--ray", cluster.address]
    env = driver_env(cluster)  # the driver checks the strategy's args: it imports the module from the project
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-3000:]
    assert re.search(r"1 of 2 experiments failed on Ray: trec-my_strategies-Failing-11-\w+", result.stderr)
    assert "the failing strategy fails, as the test wants" in result.stderr  # the experiment's own error
    names = set(finished(repo))  # the other one finished, was pushed and pulled
    head = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    assert len(names) == 1 and names.pop().startswith("trec-random-11-")
    assert set(experiments_on(repo, str(repo.parent / "remote.git"), head)) == set(finished(repo))
