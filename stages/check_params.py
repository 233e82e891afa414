"""check-params: every param is checked before any other stage runs.

DVC deletes a stage's outputs before it runs the stage, so a stage that refused
a bad value would lose its last good outputs. This stage runs first (prepare
depends on the file it writes) and has nothing worth keeping: a refused value
stops `dvc repro` here, with every artifact as it was. The file's content never
changes, so passing the check never reruns anything downstream.

Checked here: every key's type and range, the strategy, its strategy_args and CAL's fallback, the
learner (its model and device), and
that rounds/<k>/dvc.yaml match `rounds` and `oracle` (the command does that for
every stage). What needs the data (the seed set and the budget against the
pool, the label set against the labels found) is checked by prepare, whose
outputs persist.
"""

from __future__ import annotations

from cartal import layout, learners, strategies
from cartal.io import artifacts as art
from cartal.params import Params


def run(params: Params) -> None:
    strategies.resolve(params.strategy)
    strategies.check_args(params)
    strategies.check_fallback(params.cal.fallback)
    learners.get(params.learner).check(params)
    art.write_json({"checked": "params.yaml", "by": "cartal check-params"}, layout.PARAMS_CHECKED)
