"""Learners behind one contract (cartal.learners.base.Learner), found by name in a registry.

``learner: mlp`` in params.yaml is the paper's MLP on frozen features;
``learner: transformer`` fine-tunes a pretrained transformer every round. A
third learner is one module with a Learner subclass and one ``register`` call.
Modules are imported only when their learner is used, so the MLP never
imports transformers.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from cartal.errors import ArtifactError, ParamsError
from cartal.learners.base import INPUTS, Fitted, Learner

__all__ = ["Fitted", "Learner", "INPUTS", "register", "names", "get", "load", "available"]


@dataclass(frozen=True)
class LearnerInfo:
    name: str
    target: str  # "module:Class"
    file_format: str  # what its model files' header names, so that load() needs no params
    summary: str

    def load(self) -> type[Learner]:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


_REGISTRY: dict[str, LearnerInfo] = {}


def register(name: str, target: str, file_format: str, summary: str) -> None:
    """Make ``target`` ("package.module:Class") selectable as ``learner: name``."""
    _REGISTRY[name] = LearnerInfo(name, target, file_format, summary)


def names() -> list[str]:
    return sorted(_REGISTRY)


def available() -> list[LearnerInfo]:
    return [_REGISTRY[name] for name in names()]


def get(name: str) -> type[Learner]:
    if name not in _REGISTRY:
        raise ParamsError(f"unknown learner {name!r}; known learners: {', '.join(names())}")
    return _REGISTRY[name].load()


def load(path: str | Path) -> Learner:
    """The learner saved at ``path``, whichever it is (its file names its format)."""
    from cartal.models.files import FIX, read_model_file

    header, tensors = read_model_file(path)
    for info in _REGISTRY.values():
        if info.file_format == header["format"]:
            return info.load().load(Path(path), header, tensors)
    raise ArtifactError(f"{path}: a model of format {header['format']!r}, which no registered learner reads "
                        f"(known: {', '.join(i.file_format for i in available())}); delete it and {FIX}")


register("mlp", "cartal.learners.mlp:MLPLearner", "cartal-mlp-1",
         "the paper's MLP (two hidden layers) on a frozen encoder's features")
register("transformer", "cartal.learners.transformer:TransformerLearner", "cartal-transformer-1",
         "a pretrained transformer fine-tuned every round (transformers' sequence classification)")
