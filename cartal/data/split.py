"""The seed set L0 and the budget check that keeps the experiment inside the pool."""

from __future__ import annotations

import numpy as np

from cartal.errors import BudgetError
from cartal.seeding import rng


def check_budget(n_train: int, seed_size: int, batch_size: int, rounds: int) -> None:
    """Refuse an experiment that asks for more labels than the train split holds."""
    if seed_size >= n_train:
        raise BudgetError(
            f"seed_size is {seed_size} but the train split holds {n_train} instances, leaving no pool; "
            f"set seed_size below {n_train}"
        )
    needed = seed_size + rounds * batch_size
    if needed > n_train:
        max_rounds = (n_train - seed_size) // batch_size
        raise BudgetError(
            f"seed_size {seed_size} + rounds {rounds} x batch_size {batch_size} = {needed} labels, "
            f"but the train split holds {n_train}; set rounds to at most {max_rounds} "
            f"(`cartal rounds {max_rounds}`), or lower batch_size or seed_size"
        )


def draw_seed_set(ids: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A uniform random sample of ``size`` ids, fixed by the experiment seed, in sorted order."""
    if size > len(ids):
        raise BudgetError(f"a seed set of {size} cannot be drawn from {len(ids)} instances; lower seed_size")
    chosen = rng(seed, "seed-set").choice(len(ids), size=size, replace=False)
    return np.sort(np.asarray(ids, dtype=object)[chosen])
