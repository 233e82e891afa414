"""Frozen encoders: texts -> one feature vector each, the input of the classifier.

``transformer``: a sentence encoder's mean-pooled last hidden states (all-MiniLM-L6-v2
by default). ``static``: word vectors summed or averaged over a text's first
tokens, the paper's regime (cartal.encoders.static).
"""

from __future__ import annotations

import logging

import numpy as np

from cartal.encoders.transformer import MINILM, encode, longer_than, resolve
from cartal.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["MINILM", "encode", "resolve", "embed_splits"]


def embed_splits(splits: dict[str, list[str]], encoder, progress: bool = True) -> dict[str, np.ndarray]:
    """Features of each split's texts with the encoder that ``encoder`` (params.yaml's block) describes.

    A static encoder loads its vectors once for all splits, and refuses a run in
    which no text of a split has a single token with a vector.
    """
    if encoder.kind == "transformer":
        out = {}
        for split, texts in splits.items():
            out[split] = encode(texts, encoder.name, max_length=encoder.max_length, batch_size=encoder.batch_size,
                                desc=f"embedding {split} ({len(texts)} texts)", progress=progress,
                                device=encoder.device)
            _log_truncated(split, longer_than(texts, encoder.name, encoder.max_length), "max_length",
                           encoder.max_length, "word pieces")
        return out
    from cartal.encoders import static

    vectors = static.load(encoder.vectors, transformer=encoder.name)
    out = {}
    for split, texts in splits.items():
        pooled = static.pool(texts, vectors, encoder.max_tokens, encoder.pooling)
        if texts and pooled.without_vector == len(texts):
            raise DataError(f"encoder.vectors {vectors.source}: not one of the {len(texts)} {split} texts has a token "
                            "with a vector; the vectors do not cover this data's language or vocabulary: give "
                            "vectors for it (encoder.vectors) or use encoder.kind: transformer")
        log.info("%s: %d texts embedded with %s (%d-d, %s of the first %d tokens); %d had no token with a vector "
                 "and are zero vectors", split, len(texts), vectors.source, vectors.dim, encoder.pooling,
                 encoder.max_tokens, pooled.without_vector)
        _log_truncated(split, pooled.truncated, "max_tokens", encoder.max_tokens, "tokens")
        out[split] = pooled.vectors
    return out


def _log_truncated(split: str, truncated: np.ndarray, param: str, limit: int, unit: str) -> None:
    """A text cut to the encoder's length loses its end silently: say how many, so that the limit can be raised."""
    log.info("%s: %d of %d texts longer than encoder.%s (%d %s) were truncated", split, int(truncated.sum()),
             len(truncated), param, limit, unit)
