"""A truncated artifact: the stage that reads it names the file and the stage that writes it, and changes
nothing; `dvc repro` then puts the good one back from its cache."""

from __future__ import annotations

import pytest

from projects import run
from refusals import refused, snapshot

pytestmark = pytest.mark.slow


def test_a_truncated_training_log(project):
    path = project / "data/rounds/1/training.parquet"
    intact, good = snapshot(project), path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # what a killed writer without atomic renames would leave
    refused(project, ["cartal", "record-dynamics", "1"], "data/rounds/1/training.parquet: not a readable Parquet "
                                                         "training log", "the stage 'train-seed' writes it")
    run(["dvc", "repro"], project)  # DVC sees the file differ from its lock and puts back the cached one
    assert snapshot(project) == intact
