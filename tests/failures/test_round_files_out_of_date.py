"""params.yaml and the round pipelines disagree (rounds or oracle edited by hand, not with `cartal rounds`):
refused with the command that fixes it, before anything runs."""

from __future__ import annotations

import pytest

from projects import run, stages_run
from refusals import refused, restore, set_params

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("changes", "message"), [
    ({"rounds": 2}, "'rounds' is 2, so rounds/0 to rounds/2 should hold the round pipelines, but 1 of them is "
                    "missing (rounds/2/dvc.yaml first); run `cartal rounds 2` to write them"),
    ({"oracle": "human"}, "rounds/0/dvc.yaml does not match params.yaml ('rounds' 1, 'oracle' human) or was "
                          "edited; run `cartal rounds 1` to write them"),
])
def test_params_ahead_of_the_round_files(project, changes, message):
    set_params(project, **changes)
    try:
        refused(project, ["dvc", "repro"], message)
    finally:
        restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) == set()
