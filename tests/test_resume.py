"""Nothing lost, everything reproducible: a run killed in the middle of a round resumes with `dvc repro`
without redoing finished rounds, and ends with exactly the selections and metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cartal.io import artifacts as art
from projects import new_project, run, stages_run

pytestmark = pytest.mark.slow
ROUNDS = 2
SETTINGS = dict(rounds=ROUNDS, epochs=4, seed_size=30, batch_size=15, strategy="cartography")


def outcome(repo: Path) -> dict:
    """Everything a run decides: the selected ids and scores of each round, and each round's metrics."""
    selected = {k: art.read_table(repo / f"data/rounds/{k}/selected.parquet", art.SELECTED).to_pydict()
                for k in range(ROUNDS)}
    metrics = {k: json.loads((repo / f"metrics/rounds/{k}.json").read_text()) for k in range(ROUNDS + 1)}
    return {"selected": selected, "metrics": metrics, "curve": (repo / "metrics/curve.csv").read_text()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, shared_data) -> dict:
    repo = new_project(tmp_path_factory.mktemp("whole"), shared_data, **SETTINGS)
    run(["dvc", "repro"], repo)
    return outcome(repo)


def test_a_killed_run_resumes_without_redoing_finished_rounds_and_ends_the_same(tmp_path, shared_data, uninterrupted):
    repo = new_project(tmp_path, shared_data, **SETTINGS)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    process = subprocess.Popen(["dvc", "repro"], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    marker = repo / "data/rounds/1/model.safetensors"  # round 1 has started: round 0 and its query are done
    deadline = time.monotonic() + 600
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed:\n" + process.stdout.read()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (repo / "metrics/curve.csv").exists()

    resumed = run(["dvc", "repro"], repo)
    ran = stages_run(resumed.stdout)
    assert not ran & {"prepare", "embed", "train-seed@0", "record-dynamics@0", "build-map@0", "select@0",
                      "merge-labels@0"}, f"finished stages ran again: {sorted(ran)}"
    assert {"record-dynamics@1", "select@1", "train-seed@2", "report"} <= ran
    assert outcome(repo) == uninterrupted  # the same selections and metrics, to the last digit
    assert stages_run(run(["dvc", "repro"], repo).stdout) == set()
