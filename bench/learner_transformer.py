"""Seconds per round of the fine-tuned learner (learner: transformer) on TREC, on this machine.

    python bench/learner_transformer.py [--data-dir ../shared/data/trec] [--sizes 500 1000] [--device cpu]

For each |L| in --sizes: L is the first |L| of a seeded shuffle of TREC's
train split and U the rest. One round's work as the stages do it, through the
library: fine-tune (the dynamics are recorded inside it), score L and U
(record-dynamics: hidden layer and probabilities), score the test set
(evaluate). The settings are params.yaml's transformer block (all-MiniLM-L6-v2,
10 epochs, batch 16, 64 word pieces). Prints one line per size.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "trec")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=None, help="default: params.yaml's transformer.epochs")
    args = parser.parse_args()

    import torch

    from cartal.learners.transformer import TransformerLearner
    from cartal.params import load_params

    params = load_params(ROOT / "params.yaml")
    settings = dataclasses.replace(params.transformer, device=args.device,
                                   **({"epochs": args.epochs} if args.epochs else {}))
    params = dataclasses.replace(params, learner="transformer", transformer=settings)
    train = pd.read_csv(args.data_dir / "train.csv")
    test = pd.read_csv(args.data_dir / "test.csv")
    labels = tuple(str(c) for c in sorted(train["Class Index"].unique()))
    order = np.random.default_rng(0).permutation(len(train))
    texts = train["Description"].astype(str).to_numpy(dtype=object)[order]
    targets = (train["Class Index"].to_numpy()[order] - train["Class Index"].min()).astype(np.int64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"{settings.name}, {settings.epochs} epochs, batch {settings.batch_size}, max_length {settings.max_length}")
    for size in args.sizes:
        learner = TransformerLearner.create(params, labels, None, 0)
        started = time.perf_counter()
        learner.fit(texts[:size].tolist(), targets[:size], seed=1)
        fine_tune = time.perf_counter() - started
        started = time.perf_counter()
        learner.hidden_and_proba(texts.tolist())  # L and U, as record-dynamics scores them
        outputs = time.perf_counter() - started
        started = time.perf_counter()
        probs = learner.predict_proba(test["Description"].astype(str).tolist())
        evaluate = time.perf_counter() - started
        accuracy = float((probs.argmax(1) == test["Class Index"].to_numpy() - train["Class Index"].min()).mean())
        print(f"|L| = {size}: fine-tune {fine_tune:.1f} s ({size * settings.epochs / fine_tune:.1f} texts/s, dynamics "
              f"recorded inside), L+U scored {outputs:.1f} s ({len(texts)} texts), test scored {evaluate:.1f} s "
              f"({len(test)} texts), round total {fine_tune + outputs + evaluate:.1f} s; test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
