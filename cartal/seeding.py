"""Seeds derived from the experiment seed, so that no code reads global random state.

Every random choice in cartal (the seed set, weight initialisation, data order,
dropout, a strategy's sampling) draws from a generator whose seed is derived
from the experiment seed, the round and a purpose string. Two different
purposes in the same round therefore never share a stream, and rerunning a
stage reproduces it exactly.
"""

from __future__ import annotations

import zlib

import numpy as np


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed determined by ``seed`` and ``keys`` (round numbers, purpose strings)."""
    entropy = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    for key in keys:
        entropy.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key) & 0xFFFFFFFF)
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 ^ int(state[1])


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A numpy generator seeded by :func:`derive_seed`."""
    return np.random.default_rng(derive_seed(seed, *keys))
