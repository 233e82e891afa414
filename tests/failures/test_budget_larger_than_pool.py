"""More labels asked for than the train split holds: prepare refuses with the largest budget that fits, and
the prepared data, L0 and U0 stay (prepare's outputs persist)."""

from __future__ import annotations

import pytest

from projects import run, stages_run
from refusals import refused, restore, set_params

pytestmark = pytest.mark.slow


def test_too_many_rounds(project):
    run(["cartal", "rounds", "20"], project)
    try:
        refused(project, ["dvc", "repro"], "seed_size 40 + rounds 20 x batch_size 20 = 440 labels, but the train "
                                           "split holds 300; set rounds to at most 13 (`cartal rounds 13`)")
    finally:
        restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) <= {"check-params"}


def test_a_seed_set_as_large_as_the_train_split(project):
    set_params(project, seed_size=300)
    try:
        refused(project, ["dvc", "repro"], "seed_size is 300 but the train split holds 300 instances, leaving no "
                                           "pool; set seed_size below 300")
    finally:
        restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) <= {"check-params"}
