"""The whole pipeline with the fine-tuned learner (learner: transformer) for two rounds, on a tiny BERT with
random weights: every stage runs, a rerun writes the same bytes on the CPU, and every strategy selects from
its outputs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from cartal import strategies
from cartal.io import artifacts as art
from cartal.params import load_params
from projects import ROOT, new_project, run
from tiny_transformer import tiny_transformer

pytestmark = pytest.mark.slow


def transformer_project(folder: Path, shared_data: Path, model: Path) -> Path:
    settings = yaml.safe_load((ROOT / "params.yaml").read_text())["transformer"]
    return new_project(folder, shared_data, rounds=2, epochs=2, seed_size=30, batch_size=10, learner="transformer",
                       transformer={**settings, "name": str(model), "epochs": 2, "batch_size": 8})


def digests(repo: Path) -> dict[str, str]:
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((repo / "data" / "rounds").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_transformer(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data, model) -> Path:
    repo = transformer_project(tmp_path_factory.mktemp("transformer-project"), shared_data, model)
    result = run(["dvc", "repro"], repo)
    assert "fine-tuning" in result.stderr + result.stdout
    return repo


def test_every_round_trains_records_maps_selects_and_is_evaluated(project):
    for k in (0, 1, 2):
        dynamics = art.read_table(project / f"data/rounds/{k}/dynamics.parquet", art.DYNAMICS)
        labeled = art.read_table(project / f"data/rounds/{k}/labeled.parquet", art.LABELED)
        assert dynamics.num_rows == 2 * labeled.num_rows  # two epochs of L, from the training passes
        outputs = art.read_table(project / f"data/rounds/{k}/outputs.parquet", art.OUTPUTS)
        assert art.vectors(outputs, "hidden").shape[1] == 32  # the tiny BERT's pooled [CLS]
        assert (project / f"metrics/rounds/{k}.json").is_file()
    assert art.read_table(project / "data/rounds/2/labeled.parquet", art.LABELED).num_rows == 50
    assert (project / "metrics/summary.json").is_file()


def test_a_rerun_on_the_cpu_writes_the_same_bytes(project, tmp_path, shared_data, model):
    (tmp_path / "again").mkdir()
    again = transformer_project(tmp_path / "again", shared_data, model)
    run(["dvc", "repro"], again)
    assert digests(again) == digests(project)


@pytest.mark.parametrize("name", [info.name for info in strategies.available()])
def test_every_strategy_selects_with_the_fine_tuned_learner(project, name, monkeypatch, tmp_path):
    from stages import select

    work = tmp_path / "work"
    shutil.copytree(project, work, ignore=shutil.ignore_patterns(".dvc", ".git"))
    monkeypatch.chdir(work)
    params = load_params("params.yaml")
    params = type(params)(**{**params.__dict__, "strategy": name})
    select.run(params, 0)
    selected = art.read_table(Path("data/rounds/0/selected.parquet"), art.SELECTED)
    pool = set(art.ids(art.read_table(Path("data/rounds/0/pool.parquet"), art.POOL)))
    ids = art.ids(selected)
    assert len(ids) == 10 and len(set(ids)) == 10 and set(ids) <= pool
    assert np.isfinite(selected.column("score").to_numpy()).all()
