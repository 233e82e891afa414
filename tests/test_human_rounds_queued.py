"""`oracle: human` where nobody can label: a queued or temporary DVC experiment runs in a copy of the project that
DVC deletes, so a human round there is refused at its first stage (`cartal reproduce` sets oracle=gold itself);
the wait for labels has an exit code of its own, which `cartal --help` documents."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cartal.errors import LABELS_PENDING_EXIT
from projects import new_human_project, run

pytestmark = pytest.mark.integration
REFUSED = "oracle: human cannot run in a queued or temporary DVC experiment"


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    repo = tmp_path_factory.mktemp("human-queued")
    new_human_project(repo, shared_data, batch_size=10, epochs=2)
    return repo


def test_a_temporary_experiment_with_a_human_oracle_stops_at_its_first_stage(project):
    result = run(["dvc", "exp", "run", "--temp"], project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and REFUSED in output
    assert "human rounds run in the workspace: `cartal repro`" in output
    assert "Running stage 'prepare'" not in output  # stopped at check-params, before any data was read
    assert not (project / "annotations").exists() and not (project / "data" / "rounds").exists()


def test_a_stage_told_it_runs_in_a_copy_refuses_and_one_in_the_workspace_runs(project, tmp_path):
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "CARTAL_WARM": "0"}
    copy = subprocess.run(["cartal", "check-params"], cwd=project, capture_output=True, text=True,
                          env={**env, "DVC_ROOT": str(tmp_path)})
    assert copy.returncode == 1 and f"error: {REFUSED} (this one runs in a copy of {tmp_path}" in copy.stderr
    assert len(copy.stderr.strip().splitlines()) == 1
    here = subprocess.run(["cartal", "check-params"], cwd=project, capture_output=True, text=True,
                          env={**env, "DVC_ROOT": str(project)})
    assert here.returncode == 0, here.stderr


def test_the_exit_codes_are_documented_and_the_wait_has_its_own():
    assert LABELS_PENDING_EXIT not in (0, 1, 2, 255)  # done, an error, a usage error (click), a failed DVC stage
    help_text = run(["cartal", "--help"], Path.cwd()).stdout
    assert f"{LABELS_PENDING_EXIT} a human round's batch waits for labels" in " ".join(help_text.split())
