"""Two experiments, copied for each failure test: a failure must leave every artifact as it was.

`finished` is a simulation run to the end; `waiting` is a human-oracle run on the user's own files whose
first batch waits for labels. Each test module gets its own copy (git repo, DVC cache and all), breaks one
thing, checks the message names the problem and the fix, and checks that no artifact under data/ or
metrics/ changed (the user's inputs in data/raw/ aside).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from projects import new_human_project, new_project, run
from refusals import BATCH


@pytest.fixture(scope="session")
def finished(tmp_path_factory, shared_data) -> Path:
    """TREC cut small, 1 query round, 2 epochs, gold oracle: `dvc repro` done."""
    repo = new_project(tmp_path_factory.mktemp("finished"), shared_data, rounds=1, epochs=2, batch_size=20,
                       seed_size=40)
    run(["dvc", "repro"], repo)
    return repo


@pytest.fixture(scope="session")
def waiting(tmp_path_factory, shared_data) -> Path:
    """The user's own files (a labeled seed file, an unlabeled pool), oracle human: round 0's batch of
    BATCH waits for labels in annotations/round-0/batch.csv."""
    repo = new_human_project(tmp_path_factory.mktemp("waiting"), shared_data, batch_size=BATCH, epochs=2)
    first = run(["dvc", "repro"], repo, check=False)
    assert first.returncode != 0 and "waiting for labels" in first.stderr, first.stderr
    return repo


@pytest.fixture(scope="module")
def project(finished, tmp_path_factory) -> Path:
    """A copy of the finished experiment for this test module."""
    return _copy(finished, tmp_path_factory)


@pytest.fixture(scope="module")
def labeling(waiting, tmp_path_factory) -> Path:
    """A copy of the experiment waiting for round 0's labels, for this test module."""
    return _copy(waiting, tmp_path_factory)


def _copy(repo: Path, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("failure") / "project"
    shutil.copytree(repo, copy, symlinks=True)
    return copy
