"""How far vectors from the feature cache are from fresh ones, and what the cache saves.

python bench/feature_cache.py [--texts N]   (TREC train from $CARTAL_SHARED_DATA/trec, else ../shared/data/trec)

Embeds the texts fresh (cache off); fills an empty cache with another run over a
random half of them; then embeds all of them again, half coming from that cache
and half computed in batches of another composition than the fresh run's. A
vector depends on its batch's composition in the last float digits (padding,
BLAS blocking), so the two results can differ there: this prints by how much.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cartal.data.datasets import load_trec_csv
from cartal.encoders import cache, embed_splits
from cartal.params import EncoderParams


def timed_embed(texts: list[str]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    vectors = embed_splits({"train": texts}, EncoderParams(), progress=False)["train"]
    return vectors, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=5452)
    shared = Path(os.environ.get("CARTAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
    parser.add_argument("--trec", type=Path, default=shared / "trec")
    args = parser.parse_args()
    texts = load_trec_csv(args.trec).train["text"].tolist()[: args.texts]
    half = np.sort(np.random.default_rng(0).permutation(len(texts))[: len(texts) // 2])

    os.environ[cache.ENV] = cache.OFF
    timed_embed(texts[:32])  # warm-up: imports, the first model load
    fresh, fresh_s = timed_embed(texts)
    os.environ[cache.ENV] = tempfile.mkdtemp(prefix="cartal-bench-cache-")
    timed_embed([texts[i] for i in half])
    mixed, mixed_s = timed_embed(texts)
    cached, cached_s = timed_embed(texts)

    diff = np.abs(mixed - fresh)
    print(f"{len(texts)} texts: fresh {fresh_s:.1f} s; half from the cache {mixed_s:.1f} s; "
          f"all from it {cached_s:.1f} s")
    print(f"half from the cache vs fresh: max |difference| {diff.max():.2e} "
          f"(largest |value| {np.abs(fresh).max():.2f}), "
          f"{int((diff.max(axis=1) > 0).sum())} of {len(texts)} rows differ; all from the cache equals the half run: "
          f"{np.array_equal(cached, mixed)}")


if __name__ == "__main__":
    main()
