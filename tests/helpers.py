"""Small hand-made inputs shared by the tests: pool states for the strategies, a separable toy problem for the
models, a toy dataset for the dataset registry."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartal.data.frames import Dataset
from cartal.strategies import PoolState, QueryStrategy


def pool_state(n_labeled: int = 30, n_pool: int = 40, classes: int = 3, dim: int = 8, seed: int = 7,
               round: int = 0, correctness: np.ndarray | None = None) -> PoolState:
    """A PoolState with every optional field filled; L holds hard and easy instances unless told otherwise."""
    generator = np.random.default_rng(123)
    labeled_ids = np.array([f"l{i:03d}" for i in range(n_labeled)], dtype=object)
    pool_ids = np.array([f"p{i:03d}" for i in range(n_pool)], dtype=object)
    logits = generator.normal(size=(n_pool, classes))
    probs = softmax(logits)
    mc_probs = softmax(logits[None] + generator.normal(scale=0.5, size=(5, n_pool, classes)))
    if correctness is None:
        correctness = np.linspace(0, 1, n_labeled)
    data_map = pd.DataFrame({
        "id": labeled_ids, "confidence": generator.random(n_labeled), "variability": generator.random(n_labeled) / 3,
        "correctness": correctness, "correctness_bin": np.round(np.asarray(correctness) * 5) / 5,
        "region": ["easy-to-learn"] * n_labeled,
    })
    return PoolState(
        round=round, seed=seed, pool_ids=pool_ids, labeled_ids=labeled_ids,
        labeled_targets=generator.integers(0, classes, n_labeled),
        pool_probs=probs.astype(np.float32),
        pool_hidden=generator.normal(size=(n_pool, dim)).astype(np.float32),
        labeled_hidden=generator.normal(size=(n_labeled, dim)).astype(np.float32),
        labeled_first_epoch_hidden=generator.normal(size=(n_labeled, dim)).astype(np.float32),
        data_map=data_map,
        labeled_probs=softmax(generator.normal(size=(n_labeled, classes))).astype(np.float32),
        pool_mc_probs=mc_probs.astype(np.float32),
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class FirstIds(QueryStrategy):
    """A user-defined strategy for the registry test: every instance scores the same."""

    name = "first-ids"

    def score(self, state: PoolState) -> np.ndarray:
        return np.zeros(len(state.pool_ids))


def toy(n=120, d=6, seed=0):
    """Three well separated Gaussian classes."""
    generator = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = generator.normal(size=(n, d)).astype(np.float32) * 0.3
    x[np.arange(n), y] += 3
    return x, y


def toy_dataset(params) -> Dataset:
    """A loader of the registry's kind (the data block in, a Dataset out): 40 texts of two classes."""
    rows = pd.DataFrame({"id": [f"t{i:02d}" for i in range(40)], "text": [f"text number {i}" for i in range(40)],
                         "label": ["even" if i % 2 == 0 else "odd" for i in range(40)]})
    return Dataset("toy", rows.iloc[:30].reset_index(drop=True), rows.iloc[30:].reset_index(drop=True), ("even", "odd"))
