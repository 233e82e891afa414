"""Frozen encoders: texts -> one feature vector each, the input of the classifier.

``transformer``: a sentence encoder's mean-pooled last hidden states (all-MiniLM-L6-v2
by default). ``static``: word vectors summed or averaged over a text's first
tokens, the paper's regime (cartal.encoders.static). Either way a text's vector
is looked up first in the feature cache (cartal.encoders.cache), and only the
texts it lacks are embedded.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass

import numpy as np

from cartal import provenance
from cartal.encoders import cache as feature_cache
from cartal.encoders.signature import signature
from cartal.encoders.transformer import MINILM, encode, longer_than, resolve
from cartal.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["MINILM", "encode", "longer_than", "resolve", "embed_splits", "embed", "Embedded"]


@dataclass(frozen=True)
class Embedded:
    """Each split's features, and the machines that computed each split's vectors (cartal.provenance:
    this one for the texts embedded now, the cache files' for the texts read from the cache)."""

    vectors: dict[str, np.ndarray]
    computed_on: dict[str, list[dict]]


def embed_splits(splits: dict[str, list[str]], encoder, progress: bool = True) -> dict[str, np.ndarray]:
    """Features of each split's texts with the encoder that ``encoder`` (params.yaml's block) describes."""
    return embed(splits, encoder, progress).vectors


def embed(splits: dict[str, list[str]], encoder, progress: bool = True) -> Embedded:
    """Features of each split's texts with the encoder that ``encoder`` (params.yaml's block) describes, and
    where they were computed.

    A static encoder loads its vectors once for all splits, and only if a text is
    not in the cache; a run in which no text of a split has a single token with a
    vector is refused. The vectors computed are stored in the cache once every
    split is embedded.
    """
    cache = _open_cache(encoder)
    known = cache.lookup({feature_cache.text_key(t) for texts in splits.values() for t in texts}) if cache else {}
    in_cache = set(known)
    compute = _transformer(encoder, progress) if encoder.kind == "transformer" else _static(encoder)
    here = functools.cache(lambda: json.dumps(provenance.machine(encoder.kind, encoder.device), sort_keys=True))
    computed: dict[str, feature_cache.Entry] = {}
    out, computed_on = {}, {}
    for split, texts in splits.items():
        keys = [feature_cache.text_key(t) for t in texts]
        missing = {key: text for key, text in zip(keys, texts) if key not in known}  # each text once
        if missing or not texts:
            vectors, truncated = compute(split, list(missing.values()))
            computed.update({key: feature_cache.Entry(v, bool(t), here())
                             for key, v, t in zip(missing, vectors, truncated)})
            known.update(computed)
        out[split] = np.stack([known[key].vector for key in keys]) if texts else vectors
        computed_on[split] = provenance.distinct(map(json.loads, {known[key].machine for key in keys}))
        cached = sum(key in in_cache for key in keys)  # a text that an earlier split embedded counts as embedded
        log.info("%s: %d texts, %d embedded, %d from the feature cache", split, len(texts), len(texts) - cached, cached)
        _check_and_log(split, out[split], np.array([known[key].truncated for key in keys], dtype=bool), encoder)
    if cache and computed:
        cache.store(computed, json.loads(here()))
    return Embedded(out, computed_on)


def _open_cache(encoder) -> feature_cache.FeatureCache | None:
    root = feature_cache.root()
    if root is None:
        log.info("feature cache off (%s=%s): every text is embedded", feature_cache.ENV, feature_cache.OFF)
        return None
    identity = signature(encoder)
    if identity is None:
        log.info("feature cache not used: the encoder's model or vectors are not on disk to be hashed")
        return None
    cache = feature_cache.FeatureCache.open(root, identity)
    if cache:
        log.info("feature cache: %s (%s=off turns it off; delete the folder to clear it)", cache.folder,
                 feature_cache.ENV)
    return cache


def _transformer(encoder, progress: bool):
    def embed(split: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        vectors = encode(texts, encoder.name, max_length=encoder.max_length, batch_size=encoder.batch_size,
                         desc=f"embedding {split} ({len(texts)} texts)", progress=progress, device=encoder.device)
        return vectors, longer_than(texts, encoder.name, encoder.max_length)

    return embed


def _static(encoder):
    from cartal.encoders import static

    vectors = functools.cache(lambda: static.load(encoder.vectors, transformer=encoder.name))  # once, if needed

    def embed(split: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        pooled = static.pool(texts, vectors(), encoder.max_tokens, encoder.pooling)
        return pooled.vectors, pooled.truncated

    return embed


def _check_and_log(split: str, vectors: np.ndarray, truncated: np.ndarray, encoder) -> None:
    if encoder.kind == "transformer":
        _log_truncated(split, truncated, "max_length", encoder.max_length, "word pieces")
        return
    # a zero row is a text none of whose first tokens has a vector (pool leaves it at zero)
    without_vector = int((~vectors.any(axis=1)).sum())
    if len(vectors) and without_vector == len(vectors):
        raise DataError(f"encoder.vectors {encoder.vectors}: not one of the {len(vectors)} {split} texts has a token "
                        "with a vector; the vectors do not cover this data's language or vocabulary: give "
                        "vectors for it (encoder.vectors) or use encoder.kind: transformer")
    log.info("%s: %d texts' features from %s (%d-d, %s of the first %d tokens); %d had no token with a vector "
             "and are zero vectors", split, len(vectors), encoder.vectors, vectors.shape[1], encoder.pooling,
             encoder.max_tokens, without_vector)
    _log_truncated(split, truncated, "max_tokens", encoder.max_tokens, "tokens")


def _log_truncated(split: str, truncated: np.ndarray, param: str, limit: int, unit: str) -> None:
    """A text cut to the encoder's length loses its end silently: say how many, so that the limit can be raised."""
    log.info("%s: %d of %d texts longer than encoder.%s (%d %s) were truncated", split, int(truncated.sum()),
             len(truncated), param, limit, unit)
