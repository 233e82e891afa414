"""How long each strategy takes to pick 50 from a pool of 100,000 384-dimensional instances.

    python bench/strategies.py [--pool 100000] [--labeled 2000] [--batch 50] [--out bench/strategies.md]

Synthetic inputs of the real shapes (the strategies only see arrays): hidden
representations, class probabilities for 6 classes, 10 MC-dropout passes and a
data map of L with both binary CAL classes. Strategies run with the default
params.yaml settings (30 probe epochs, batch size 16). Prints a table and
writes it, with the machine and the command, to --out. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def why(name: str, pool: int, labeled: int, batch: int) -> str:
    steps = 30 * -(-(pool + labeled) // 16)
    return {
        "cartography": f"trains a probe on the {labeled:,} labeled instances (30 epochs, batch 16); "
                       "the pool is only scored",
        "dal": f"trains a probe on L and the whole pool (30 epochs, batch 16): {steps:,} optimiser steps",
        "coreset": f"one distance pass over the pool per pick (greedy k-center): {batch} x {pool:,} x 384",
        "badge": f"one distance pass over the pool per pick (k-means++ seeding), {batch} picks",
        "contrastive": f"distances from each of {pool:,} pool instances to {labeled:,} labeled ones",
    }.get(name, "")


def inputs(pool: int, labeled: int, dim: int = 384, classes: int = 6, passes: int = 10, seed: int = 0):
    from cartal.strategies import PoolState

    generator = np.random.default_rng(seed)

    def softmax(logits):
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    logits = generator.normal(size=(pool, classes)) * 2
    correctness = generator.choice([0.0, 0.1, 0.5, 0.9, 1.0], size=labeled)
    data_map = pd.DataFrame({"id": [f"l{i:06d}" for i in range(labeled)], "confidence": 0.5, "variability": 0.1,
                             "correctness": correctness, "correctness_bin": np.round(correctness * 5) / 5,
                             "region": "ambiguous"})
    return PoolState(
        round=0, seed=seed, pool_ids=np.array([f"p{i:06d}" for i in range(pool)], dtype=object),
        labeled_ids=data_map["id"].to_numpy(dtype=object), labeled_targets=generator.integers(0, classes, labeled),
        pool_probs=softmax(logits), pool_hidden=generator.normal(size=(pool, dim)).astype(np.float32),
        labeled_hidden=generator.normal(size=(labeled, dim)).astype(np.float32), data_map=data_map,
        labeled_probs=softmax(generator.normal(size=(labeled, classes))),
        pool_mc_probs=softmax(logits[None] + generator.normal(size=(passes, pool, classes))),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--labeled", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "strategies.md")
    args = parser.parse_args()

    from cartal import strategies
    from cartal.models.mlp import MLPClassifier
    from cartal.models.training import mc_dropout_proba
    from cartal.params import params_from_dict

    params = params_from_dict(yaml.safe_load((ROOT / "params.yaml").read_text()))
    state = inputs(args.pool, args.labeled)
    rows = []
    model = MLPClassifier(384, 6)
    features = np.random.default_rng(1).normal(size=(args.pool, 384)).astype(np.float32)
    start = time.perf_counter()
    mc_dropout_proba(model, features, params.mc.passes, seed=0)
    rows.append(("(select stage) MC-dropout passes for mc-max-entropy and bald", time.perf_counter() - start,
                 f"{params.mc.passes} forward passes of the MLP over the pool"))
    for info in strategies.available():
        strategy = strategies.create(info.name, params)
        start = time.perf_counter()
        selection = strategy.select(state, args.batch)
        seconds = time.perf_counter() - start
        assert len(selection.ids) == args.batch
        rows.append((info.name, seconds, why(info.name, args.pool, args.labeled, args.batch)))
        print(f"{info.name:>16}: {seconds:8.2f} s", flush=True)

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    command = "python bench/strategies.py " + " ".join(sys.argv[1:])
    lines = [
        "# Strategy benchmark",
        "",
        f"Select {args.batch} from a pool of {args.pool:,} 384-d instances with |L| = {args.labeled:,}, 6 classes.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {__import__('torch').__version__}. Command: `{command.strip()}`. Peak RSS {peak_mib:,.0f} MiB.",
        "",
        "| strategy | seconds | why it takes that long |",
        "|---|---:|---|",
        *[f"| {name} | {seconds:.2f} | {why} |" for name, seconds, why in rows],
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
