"""Encoder throughput on CPU and, where torch sees one, on CUDA; and how far GPU features are from CPU ones.

python bench/encoder_device.py [--texts N]   (TREC train from ../shared/data/trec)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from cartal.data.datasets import load_trec_csv
from cartal.encoders import encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=5452)
    parser.add_argument("--trec", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/trec")
    args = parser.parse_args()
    texts = load_trec_csv(args.trec).train["text"].tolist()[: args.texts]
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    vectors = {}
    for device in devices:
        encode(texts[:64], "all-MiniLM-L6-v2", device=device, progress=False)  # warm-up: loading, kernels
        start = time.perf_counter()
        vectors[device] = encode(texts, "all-MiniLM-L6-v2", device=device, progress=False, batch_size=128)
        seconds = time.perf_counter() - start
        name = torch.cuda.get_device_name() if device == "cuda" else f"{torch.get_num_threads()} CPU threads"
        print(f"{device} ({name}): {len(texts)} texts in {seconds:.2f} s = {len(texts) / seconds:,.0f} texts/s")
    if "cuda" in vectors:
        diff = np.abs(vectors["cuda"] - vectors["cpu"])
        cosine = (vectors["cuda"] * vectors["cpu"]).sum(1) / (
            np.linalg.norm(vectors["cuda"], axis=1) * np.linalg.norm(vectors["cpu"], axis=1))
        print(f"cuda vs cpu: max |difference| {diff.max():.2e}, min cosine {cosine.min():.8f}")


if __name__ == "__main__":
    main()
