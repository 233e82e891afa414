"""An unknown strategy, in params.yaml or as a DVC experiment's -S: refused with the known names, nothing
touched (the select stages that use it never start)."""

from __future__ import annotations

import pytest

from projects import run, stages_run
from refusals import refused, restore, set_params

pytestmark = pytest.mark.slow


def test_an_unknown_strategy_in_params_yaml(project):
    set_params(project, strategy="cartograpy")
    try:
        refused(project, ["dvc", "repro"], "unknown strategy 'cartograpy'", "cartography", "random")
    finally:
        restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) == set()


def test_an_unknown_strategy_as_an_experiment_setting(project):
    try:
        stderr = refused(project, ["dvc", "exp", "run", "-S", "strategy=nope"], "unknown strategy 'nope'")
        assert "check-params" in stderr
    finally:
        restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) == set()
