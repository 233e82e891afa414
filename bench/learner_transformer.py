"""Seconds per round of the fine-tuned learner (learner: transformer) on TREC, on this machine.

    python bench/learner_transformer.py [--data-dir ../shared/data/trec] [--sizes 500 1000] [--device cpu]

For each |L| in --sizes: L is the first |L| of a seeded shuffle of TREC's
train split and U the rest. One round's work as the stages do it, through the
library: fine-tune (the dynamics are recorded inside it), score L and U
(record-dynamics: hidden layer and probabilities), score the test set
(evaluate). The settings are params.yaml's transformer block (all-MiniLM-L6-v2,
10 epochs, batch 16, 64 word pieces). Prints a row per size; --json keeps them
(bench/run.py's section "learner" renders them into bench/results.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def measure(trec: Path, sizes: list[int], device: str, epochs: int | None = None) -> list[dict]:
    """One row per |L|: the seconds of fine-tuning, scoring L and U, scoring the test set, and the test accuracy."""
    import torch

    from cartal.learners.transformer import TransformerLearner
    from cartal.params import load_params

    params = load_params(ROOT / "params.yaml")
    settings = dataclasses.replace(params.transformer, device=device, **({"epochs": epochs} if epochs else {}))
    params = dataclasses.replace(params, learner="transformer", transformer=settings)
    train, test = pd.read_csv(trec / "train.csv"), pd.read_csv(trec / "test.csv")
    first = train["Class Index"].min()
    labels = tuple(str(c) for c in sorted(train["Class Index"].unique()))
    order = np.random.default_rng(0).permutation(len(train))
    texts = train["Description"].astype(str).to_numpy(dtype=object)[order].tolist()
    targets = (train["Class Index"].to_numpy()[order] - first).astype(np.int64)
    rows = []
    for size in sizes:
        learner = TransformerLearner.create(params, labels, None, 0)
        started = time.perf_counter()
        learner.fit(texts[:size], targets[:size], seed=1)
        fine_tune = time.perf_counter() - started
        started = time.perf_counter()
        learner.hidden_and_proba(texts)  # L and U, as record-dynamics scores them
        outputs = time.perf_counter() - started
        started = time.perf_counter()
        probs = learner.predict_proba(test["Description"].astype(str).tolist())
        evaluate = time.perf_counter() - started
        rows.append({
            "|L|": size, "device": str(learner.device), "threads": torch.get_num_threads(), "epochs": settings.epochs,
            "fine-tune s": fine_tune, "texts/s trained": size * settings.epochs / fine_tune,
            "L+U scored s": outputs, "L+U texts": len(texts), "test scored s": evaluate,
            "round s": fine_tune + outputs + evaluate,
            "test accuracy": float((probs.argmax(1) == test["Class Index"].to_numpy() - first).mean()),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "trec")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=None, help="default: params.yaml's transformer.epochs")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    rows = measure(args.data_dir, args.sizes, args.device, args.epochs)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
