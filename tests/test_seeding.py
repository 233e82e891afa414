"""Derived seeds: one stream per (experiment seed, round, purpose), never global random state."""

import numpy as np

from cartal.seeding import derive_seed, rng


def test_derived_seeds_are_stable_and_distinct_per_key():
    assert derive_seed(398048, 3, "random") == derive_seed(398048, 3, "random")
    purposes = ("random", "cal-probe", "order")
    seeds = {derive_seed(s, k, p) for s in (398048, 127003) for k in (0, 1, 2) for p in purposes}
    assert len(seeds) == 18  # no two purposes or rounds share a stream
    assert derive_seed(1, 0, 1) != derive_seed(1, 1, 0)  # the order of the keys matters
    assert all(0 <= s < 2 ** 63 for s in seeds)
    assert derive_seed(2 ** 40 + 5) != derive_seed(5)  # the seed's high bits count


def test_generators_repeat_and_leave_numpys_global_state_alone():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    first = rng(7, 0, "x").random(5)
    assert np.array_equal(first, rng(7, 0, "x").random(5))
    assert not np.array_equal(first, rng(7, 1, "x").random(5))
    assert np.random.random() == expected
