"""The paper's regime end to end: `dvc exp run` on static word vectors with every reference option on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartal.experiments.grid import PRESETS
from cartal.io import artifacts as art
from cartal.models.files import load_optimiser_state
from projects import new_project, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, shared_data) -> Path:
    repo = new_project(tmp_path_factory.mktemp("static"), shared_data, rounds=2, epochs=3,
                       seed_size=40, batch_size=20, strategy="cartography")
    overrides = [arg for setting in ("encoder.kind=static", *PRESETS["reference"]) for arg in ("-S", setting)]
    run(["dvc", "exp", "run", *overrides], repo)
    return repo


def test_features_are_summed_300_d_word_vectors(experiment):
    train = art.read_table(experiment / "data/features/train.parquet", art.FEATURES)
    vectors = art.vectors(train, "vector")
    assert vectors.shape == (300, 300) and (np.abs(vectors).sum(axis=1) > 0).mean() > 0.99


def test_every_round_warm_starts_with_the_optimiser_and_feeds_the_probe_its_first_epoch(experiment):
    for k in range(3):
        labeled = pd.read_parquet(experiment / f"data/rounds/{k}/labeled.parquet")
        first = pd.read_parquet(experiment / f"data/rounds/{k}/first_epoch.parquet")
        assert first["id"].tolist() == labeled["id"].tolist() and len(first["hidden"].iloc[0]) == 300
        steps = load_optimiser_state(experiment / f"data/rounds/{k}/model.safetensors")["0.step"]
        # a fresh AdamW every round would have taken 3 epochs of steps; a carried one counts every round's
        assert int(steps) == sum(3 * -(-(40 + 20 * j) // 16) for j in range(k + 1))


def test_the_seed_set_is_the_shared_one_whatever_the_seed(experiment):
    def seed_set() -> list[str]:
        return pd.read_parquet(experiment / "data/rounds/0/labeled.parquet")["id"].tolist()

    first = seed_set()
    run(["dvc", "exp", "run", "-S", "seed=5"], experiment)  # the workspace keeps the other settings
    assert seed_set() == first
    run(["dvc", "exp", "run", "-S", "seed=6", "-S", "data.shared_seed_set=false"], experiment)
    assert seed_set() != first
