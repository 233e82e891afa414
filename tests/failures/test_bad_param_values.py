"""A bad value in params.yaml: `dvc repro` stops at check-params, naming the key, before DVC deletes any
stage's outputs (it deletes a stage's outputs before running the stage)."""

from __future__ import annotations

import pytest

from projects import run, stages_run
from refusals import refused, restore, set_params

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("key", "value", "message"), [
    ("batch_size", 0, "params.yaml: 'batch_size' must be at least 1, got 0"),
    ("model.dropout", 1.5, "params.yaml: 'model.dropout' must be in [0, 1), got 1.5"),
    ("oracle", "robot", "params.yaml: 'oracle' is 'robot'; use gold"),
    ("cal.dynamics", "guess", "params.yaml: 'cal.dynamics' is 'guess'; use training"),
    ("map.ambiguous_quantile", 2, "params.yaml: 'map.ambiguous_quantile' must be in [0, 1], got 2"),
    ("model.lr", float("nan"), "params.yaml: 'model.lr' must be a finite number, got nan"),
    ("strategy_args", {"power": 3}, "params.yaml: 'strategy_args.power' is not a setting of the strategy: strategy "
                                    "'cartography' takes no strategy_args"),
])
def test_a_bad_value_stops_the_run_at_check_params(project, key, value, message):
    set_params(project, **{key: value})
    try:
        stderr = refused(project, ["dvc", "repro"], message)
        assert "failed to reproduce 'check-params'" in stderr
    finally:
        restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) == set()
