"""What a text's feature vector depends on besides the text: the encoder's signature, the feature cache's key.

A vector is a function of (encoder, text). The encoder part is everything that
changes its numbers: the kind, the model's or the vectors' content (hashed, so
a copy of the same model in another folder is the same encoder), the length
limit, the pooling, the device and the versions of the libraries that compute
it. Anything left out here would let the cache hand out another encoder's
vectors, so when in doubt a field goes in.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from cartal.errors import DataError

# Bump when encode's or pool's arithmetic changes, so that vectors cached by older code are not reused.
METHOD = 2  # 2: texts batched by length, unpadded (1: padded to the longest of a batch)
_DOCS = (".md", ".gitattributes")


def signature(encoder) -> dict | None:
    """The signature of params.yaml's ``encoder`` block; None when the model or vectors are not on disk
    (the encoder then loads them, or says what is missing, and nothing is cached)."""
    if encoder.kind == "transformer":
        model = _model_identity(encoder.name)
        return model and {"method": METHOD, "kind": "transformer", "model": model, "max_length": encoder.max_length,
                          "device": _device_identity(encoder.device),
                          "versions": _versions("torch", "transformers", "tokenizers")}
    vectors = _vectors_identity(encoder.vectors, encoder.name)
    return vectors and {"method": METHOD, "kind": "static", "vectors": vectors, "max_tokens": encoder.max_tokens,
                        "pooling": encoder.pooling, "versions": _versions("numpy", "spacy", "gensim", "transformers",
                                                                          "tokenizers")}


def digest(signature: dict) -> str:
    return hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:32]


def _model_identity(name: str) -> dict | None:
    """The files that transformers reads from the model's folder (top level: config, tokenizer, weights), hashed."""
    from cartal.encoders.transformer import resolve

    folder = Path(resolve(name))
    if not folder.is_dir():
        folder = _hub_snapshot(name)
    if folder is None:
        return None
    return {"files": {path.name: _file_digest(path) for path in sorted(folder.iterdir())
                      if path.is_file() and not path.name.endswith(_DOCS)}}


def _hub_snapshot(name: str) -> Path | None:
    """The hub model's folder in the local Hugging Face cache (its revision resolved there), if it was downloaded."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not downloaded, or not a valid id: the encoder says so when it loads
        return None


def _vectors_identity(source: str, transformer: str) -> dict | None:
    from cartal.encoders import static

    if source == static.SPACY:
        try:
            folder = static.spacy_model_folder()
        except DataError:  # the package is missing: static.load says how to install it
            return None
        return {"source": source, "files": _tree_digest(folder)}
    if source == static.INPUT_EMBEDDINGS:
        model = _model_identity(transformer) if transformer else None
        return model and {"source": source, "model": model}
    path = Path(source).expanduser()
    if path.is_dir():
        return {"source": "folder", "files": _tree_digest(path)}
    if path.is_file():  # the name matters too: it decides how the file is read
        return {"source": "file", "suffix": "".join(path.suffixes).lower(), "sha256": _file_digest(path)}
    return None


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): _file_digest(path) for path in sorted(folder.rglob("*")) if path.is_file()}


def _file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _device_identity(device: str) -> str:
    """The device, and for a GPU its model: another GPU may round differently."""
    if not device.startswith("cuda"):
        return device
    import torch

    return f"{device} ({torch.cuda.get_device_name(device)})" if torch.cuda.is_available() else device


def _versions(*packages: str) -> dict[str, str | None]:
    """major.minor of each installed package: the releases that may change kernels or tokenization."""
    out = {}
    for package in packages:
        try:
            out[package] = ".".join(metadata.version(package).split(".")[:2])
        except metadata.PackageNotFoundError:
            out[package] = None
    return out
