"""A readable Parquet file of the wrong kind where an artifact belongs: refused with the missing columns and
the stage that writes the real one, nothing changed; `dvc repro` puts the real one back from its cache."""

from __future__ import annotations

import shutil

import pytest

from projects import run
from refusals import refused, snapshot

pytestmark = pytest.mark.slow


def test_a_pool_where_the_selected_batch_belongs(project):
    intact = snapshot(project)
    shutil.copy(project / "data/rounds/0/pool.parquet", project / "data/rounds/0/selected.parquet")
    refused(project, ["cartal", "merge-labels", "0"], "data/rounds/0/selected.parquet: not a selected batch: "
                                                      "column(s) ", "the stage 'select' writes it")
    run(["dvc", "repro"], project)
    assert snapshot(project) == intact
