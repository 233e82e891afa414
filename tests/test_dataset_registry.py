"""The registry of dataset sources: one `register` call makes a dataset loadable, valid in params.yaml and
known to `cartal reproduce`; every built-in source names a loader that exists."""

from pathlib import Path

import pytest

from cartal import cli
from cartal.data import registry
from cartal.data.datasets import load
from cartal.errors import DataError, ParamsError, ProjectError
from cartal.params import DataParams, params_from_dict


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the registration ends with the test
    registry.register("toy", "helpers:toy_dataset", "forty numbered texts")


def test_every_built_in_source_names_a_loader():
    assert registry.names() == ("bbc", "trec", "agnews", "files", "hub")
    assert all(callable(registry.resolve(name).load()) for name in registry.names())
    assert [s.folder_key for s in registry.with_folders()] == ["trec_dir", "agnews_dir"]


def test_a_registered_dataset_loads_and_is_valid_in_params(toy):
    assert params_from_dict({"dataset": "toy"}).dataset == "toy"
    small = load("toy", DataParams(max_train=10, max_test=4))
    assert (small.name, len(small.train), len(small.test), small.labels) == ("toy", 10, 4, ("even", "odd"))
    assert small.train["label"].value_counts().to_dict() == {"even": 5, "odd": 5}  # stratified


def test_an_unknown_dataset_is_refused_with_the_known_ones(toy):
    with pytest.raises(DataError, match="unknown dataset 'imdb'; known datasets: bbc, trec, agnews, files, hub, toy"):
        load("imdb", DataParams())
    with pytest.raises(ParamsError, match="'dataset' is 'imdb'; known datasets: bbc, .*, toy"):
        params_from_dict({"dataset": "imdb"})


def test_the_grid_takes_the_papers_budget_and_a_folder_from_the_registry(tmp_path):
    grid = cli._grid("trec", tmp_path, ["random"], [1], None, None, None, [])
    assert (grid.seed_size, grid.batch_size, grid.rounds) == (500, 50, 30)
    assert f"data.trec_dir={tmp_path}" in grid.settings
    assert (cli._grid("bbc", None, ["random"], [1], None, None, None, []).seed_size) == 100
    with pytest.raises(ProjectError, match="--data-dir is for trec and agnews; 'bbc' has no such folder"):
        cli._grid("bbc", Path("data"), ["random"], [1], None, None, None, [])
