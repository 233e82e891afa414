"""Model weights as safetensors with their configuration as metadata: never pickle."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from cartal.errors import ArtifactError
from cartal.io.artifacts import atomic_path
from cartal.models.mlp import MLPClassifier


def save_classifier(model: MLPClassifier, labels: tuple[str, ...], path: str | Path) -> Path:
    metadata = {"config": json.dumps(model.config), "labels": json.dumps(list(labels)), "format": "cartal-mlp-1"}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return Path(path)


def load_classifier(path: str | Path) -> tuple[MLPClassifier, tuple[str, ...]]:
    path = Path(path)
    fix = "run `dvc repro` (the stage 'train-seed' writes it)"
    if not path.is_file():
        raise ArtifactError(f"{path}: the model file is missing; {fix}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        config, labels = json.loads(metadata["config"]), tuple(json.loads(metadata["labels"]))
        model = MLPClassifier(**config)
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, KeyError, TypeError, ValueError, RuntimeError, OSError) as exc:
        raise ArtifactError(f"{path}: not a cartal model file ({exc}); delete it and {fix}") from exc
    return model.eval(), labels
