"""Model weights as safetensors with their configuration as metadata: never pickle.

Reading needs no torch: ``load_frozen`` gives a numpy model for the stages that
only run inference (importing torch costs a stage about 2.5 s).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open

from cartal.errors import ArtifactError
from cartal.io.artifacts import atomic_path
from cartal.models.inference import FrozenMLP
from cartal.profiling import counts_as_io

FIX = "run `dvc repro` (the stage 'train-seed' writes it)"


OPTIMISER = "optimiser."  # the prefix of the optimiser state's tensors, saved beside the weights for a warm start


@counts_as_io
def save_classifier(model, labels: tuple[str, ...], path: str | Path, optimiser=None) -> Path:
    """The weights, and with ``optimiser`` (a cartal AdamW) its moments and step counts under ``OPTIMISER``."""
    from safetensors.torch import save_file

    # one key: safetensors writes the metadata map in a random order, so several keys would make the same
    # weights a different file each time (and DVC rerun everything downstream of a forced train-seed)
    metadata = {"cartal": json.dumps({"format": "cartal-mlp-1", "config": model.config, "labels": list(labels)},
                                     sort_keys=True)}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if optimiser is not None:
        state.update({OPTIMISER + k: v.contiguous() for k, v in optimiser.state_tensors().items()})
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return Path(path)


def load_classifier(path: str | Path):
    """The trainable torch MLPClassifier (in eval mode) and its label set."""
    import torch

    from cartal.models.mlp import MLPClassifier

    config, labels, tensors = _read(path)
    try:
        model = MLPClassifier(**config)
        model.load_state_dict({name: torch.from_numpy(array) for name, array in tensors.items()
                               if not name.startswith(OPTIMISER)})
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"{path}: not a cartal model file ({exc}); delete it and {FIX}") from exc
    return model.eval(), labels


def load_optimiser_state(path: str | Path) -> dict:
    """The optimiser state saved with the weights, as torch tensors; an error that says how to get one if none is."""
    import torch

    _, _, tensors = _read(path)
    state = {name[len(OPTIMISER):]: torch.from_numpy(array) for name, array in tensors.items()
             if name.startswith(OPTIMISER)}
    if not state:
        raise ArtifactError(f"{path}: holds no optimiser state to warm start from (it was trained with "
                            "model.warm_start_optimizer off); rerun `dvc repro`, which retrains that round with it")
    return state


def load_frozen(path: str | Path) -> tuple[FrozenMLP, tuple[str, ...]]:
    """The same model for inference only, in numpy, and its label set."""
    config, labels, tensors = _read(path)
    return frozen_mlp(path, config, tensors), labels


def frozen_mlp(path: str | Path, config: dict, tensors: dict[str, np.ndarray]) -> FrozenMLP:
    """The numpy MLP of a file's config and tensors, or an ArtifactError naming the file."""
    try:
        return FrozenMLP(tensors, config)
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a cartal model file ({exc}); delete it and {FIX}") from exc


@counts_as_io
def read_model_file(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The header (format, config, labels) and the tensors of a model file written by any learner."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: the model file is missing; {FIX}")
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        if "cartal" in metadata:
            header = json.loads(metadata["cartal"])
        else:  # files written before the metadata became one key (all of them MLPs)
            header = {"format": "cartal-mlp-1", "config": json.loads(metadata["config"]),
                      "labels": json.loads(metadata["labels"])}
        header["labels"] = tuple(header["labels"])
        if not isinstance(header["config"], dict) or not isinstance(header["format"], str):
            raise TypeError("config is not a mapping")
    except (SafetensorError, KeyError, TypeError, ValueError, OSError) as exc:
        raise ArtifactError(f"{path}: not a cartal model file ({exc}); delete it and {FIX}") from exc
    return header, tensors


def _read(path: str | Path) -> tuple[dict, tuple[str, ...], dict[str, np.ndarray]]:
    header, tensors = read_model_file(path)
    return header["config"], header["labels"], tensors
