"""`cartal reproduce` killed while it queues experiments (params.yaml, rounds/ and git's index of rounds/ hold
the queue's round pipelines then): the next run puts the user's files back byte for byte, stages refuse to run
on the queue's files meanwhile, and a file the user changed since is never overwritten."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cartal.experiments import backup
from projects import new_project, run

pytestmark = pytest.mark.integration

HOLD = """
import sys, time
from pathlib import Path
from cartal.experiments.dvc_queue import rounds_for_queue
with rounds_for_queue(Path(sys.argv[1]), 3):
    Path(sys.argv[2]).write_text("queued")
    time.sleep(600)
"""


@pytest.fixture
def project(tmp_path, shared_data) -> Path:
    (tmp_path / "repo").mkdir()
    repo = new_project(tmp_path / "repo", shared_data, rounds=1, epochs=2)
    # the user's own uncommitted state, which must come back as it was: an edit to params.yaml, a staged file
    # and an untracked one in rounds/
    with (repo / "params.yaml").open("a") as params:
        params.write("# my note, not committed\n")
    (repo / "rounds" / "staged.txt").write_text("staged\n")
    run(["git", "add", "rounds/staged.txt"], repo)
    (repo / "rounds" / "untracked.txt").write_text("untracked\n")
    return repo


def workspace(repo: Path) -> dict:
    files = {p.relative_to(repo).as_posix(): p.read_bytes()
             for p in [repo / "params.yaml", *sorted((repo / "rounds").rglob("*"))] if p.is_file()}
    return {"files": files, "index": run(["git", "ls-files", "-s", "--", "rounds", "params.yaml"], repo).stdout,
            "status": run(["git", "status", "--porcelain", "--untracked-files=all"], repo).stdout}


def kill_while_queueing(repo: Path, tmp_path: Path) -> None:
    """Start the queue's workspace change in a process of its own and SIGKILL it once the workspace is changed."""
    sentinel = tmp_path / "queued"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(repo), str(sentinel)], cwd=repo,
                             env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not sentinel.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the workspace was never changed"
            time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def test_a_reproduction_killed_while_it_queues_is_undone_by_the_next_run(project, tmp_path, shared_data):
    before = workspace(project)
    kill_while_queueing(project, tmp_path)
    changed = workspace(project)
    assert "rounds/3/dvc.yaml" in changed["files"] and changed != before  # the kill left the queue's files
    assert backup.pending(project) is not None
    stage = run(["cartal", "check-params"], project, check=False)  # a `dvc repro` now would run on them
    assert stage.returncode == 1 and "interrupted `cartal reproduce`" in stage.stderr
    # the next reproduction puts everything back first (here it then stops at a bad param)
    again = run(["cartal", "reproduce", "--data-dir", str(shared_data / "trec"), "-s", "random", "--seed", "1",
                 "--rounds", "1", "-S", "model.epochs=0"], project, check=False)
    assert again.returncode == 1 and "model.epochs" in again.stderr
    assert "are back as they were before it" in again.stderr
    assert workspace(project) == before and not (project / backup.FOLDER).exists()


def test_cartal_repro_and_rounds_also_put_the_files_back_first(project, tmp_path):
    before = workspace(project)
    kill_while_queueing(project, tmp_path)
    backup.restore(project)  # what `cartal repro` and `cartal rounds` call before anything else
    assert workspace(project) == before
    kill_while_queueing(project, tmp_path)
    run(["cartal", "rounds", "1"], project)
    assert workspace(project) == before


def test_a_file_changed_after_the_kill_is_kept_and_named(project, tmp_path):
    kill_while_queueing(project, tmp_path)
    params = project / "params.yaml"
    params.write_text(params.read_text() + "# written after the kill\n")
    mine = params.read_bytes()
    result = run(["cartal", "rounds", "1"], project, check=False)
    assert result.returncode == 1
    assert "params.yaml changed after a `cartal reproduce` that was interrupted" in result.stderr
    assert f"{backup.FOLDER}/original/" in result.stderr and params.read_bytes() == mine
