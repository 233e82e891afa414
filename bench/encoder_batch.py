"""The encoder against its baseline and against the machine's ceiling, in one run (issue 21, target 5).

    python bench/encoder_batch.py [--dataset trec|bbc] [--sizes 32,64,128,256] [--repeat 3]
    python bench/encoder_batch.py --dataset bbc --alone 128   # one batch size: seconds and peak memory

In one process, round after round (so that a slow moment of the machine falls on every variant alike):
the encoder as it was when issue 21 was filed (padded batches of 32, bench/encoder.py's padded_encode)
and cartal's encoder (`encode`: unpadded same-length batches) at each batch size. Prints each variant's
best texts per second, its ratio to the baseline, and whether every batch size gave the same bits.

Then the ceiling: the floating-point operations of the encoder's matrix products on these texts, and the
rate this machine multiplies float32 matrices at (torch, MiniLM's feed-forward shapes, large enough for
the fastest kernel). No encoder of the same arithmetic can run faster than their quotient.

``--alone SIZE`` embeds once at that batch size in this fresh process and prints its seconds and the process's
peak memory: run it once per size to compare what each size costs in memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def matrix_flops(pieces: list[list[int]], batch_size: int, layers: int, hidden: int, inner: int) -> float:
    """Floating-point operations of a BERT encoder's matrix products over ``encode``'s batches: per layer the
    query, key, value and output projections, the feed-forward in and out, and attention's two products."""
    from cartal.encoders.transformer import batch_rows, same_length_batches

    total = 0.0
    for index in same_length_batches([len(ids) for ids in pieces], batch_size):
        rows = batch_rows(pieces, index)
        texts, length = len(rows), len(rows[0])
        dense = 2 * texts * length * (4 * hidden * hidden + 2 * hidden * inner)
        attention = 2 * 2 * texts * length * length * hidden
        total += layers * (dense + attention)
    return total


def matmul_rate(hidden: int, inner: int, rows: int = 4096, repeat: int = 50) -> float:
    """float32 operations per second of torch's matrix product on this machine, at the feed-forward's shapes."""
    import torch

    tokens, into, back = torch.randn(rows, hidden), torch.randn(hidden, inner), torch.randn(inner, hidden)
    for _ in range(3):
        (tokens @ into) @ back
    started = time.perf_counter()
    for _ in range(repeat):
        (tokens @ into) @ back
    return repeat * 2 * 2 * rows * hidden * inner / (time.perf_counter() - started)


def alone(texts: list[str], dataset: str, batch_size: int, max_length: int) -> None:
    import resource

    from cartal.encoders.transformer import MINILM, encode

    encode(texts[:8], MINILM, progress=False)  # the model loaded, untimed
    started = time.perf_counter()
    encode(texts, MINILM, max_length=max_length, batch_size=batch_size, progress=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{dataset}: {len(texts)} texts, batch size {batch_size}: {seconds:.1f} s, {len(texts) / seconds:.1f} "
          f"texts/s, peak RSS {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("trec", "bbc"), default="trec")
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--sizes", default="32,64,128,256", help="batch sizes of cartal's encoder, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--alone", type=int, metavar="SIZE", help="one run at this batch size, with peak memory")
    args = parser.parse_args()

    import torch

    from cartal.encoders.transformer import MINILM, encode, load_pretrained
    from encoder import padded_encode, texts_of  # bench/encoder.py: its datasets and the encoder before 3a7fa08

    texts = texts_of(args.dataset, args.trec)
    if args.alone:
        return alone(texts, args.dataset, args.alone, args.max_length)
    sizes = [int(size) for size in args.sizes.split(",")]
    variants = {"padded, 32 (the baseline)": lambda: padded_encode(texts, MINILM, args.max_length, 32)}
    variants.update({f"unpadded, {size}": (lambda size=size: encode(texts, MINILM, max_length=args.max_length,
                                                                      batch_size=size, progress=False))
                     for size in sizes})
    encode(texts[:64], MINILM, progress=False)  # loads the model and warms torch up, untimed
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeat):
        for name, run in variants.items():
            started = time.perf_counter()
            vectors[name] = run()
            seconds[name].append(time.perf_counter() - started)

    baseline = next(iter(variants))
    first = f"unpadded, {sizes[0]}"
    print(f"{args.dataset}: {len(texts)} texts, {torch.get_num_threads()} torch threads, best of {args.repeat}")
    print(f"| encoder, batch size | best s | texts/s | x baseline | all runs, s | same bits as {first} |")
    print("|:--|--:|--:|--:|:--|:--|")
    for name in variants:
        best = min(seconds[name])
        runs = ", ".join(f"{value:.1f}" for value in seconds[name])
        same = "" if name == baseline else ("yes" if np.array_equal(vectors[name], vectors[first]) else "no")
        print(f"| {name} | {best:.1f} | {len(texts) / best:.1f} | {min(seconds[baseline]) / best:.2f} | {runs} "
              f"| {same} |")

    tokenizer, model = load_pretrained(MINILM)
    config = model.config
    pieces = tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]
    flops = matrix_flops(pieces, sizes[0], config.num_hidden_layers, config.hidden_size, config.intermediate_size)
    rate = matmul_rate(config.hidden_size, config.intermediate_size)
    fastest = min(min(seconds[name]) for name in variants if name != baseline)
    print(f"\nmatrix products of the unpadded encoder: {flops / 1e9:.1f} GFLOP; this machine's float32 matrix "
          f"product: {rate / 1e9:.1f} GFLOP/s")
    print(f"ceiling: {flops / rate:.1f} s, {len(texts) * rate / flops:.1f} texts/s "
          f"({min(seconds[baseline]) * rate / flops:.2f}x the baseline); the fastest batch size ran at "
          f"{flops / fastest / 1e9:.1f} GFLOP/s, {flops / fastest / rate:.0%} of the ceiling")


if __name__ == "__main__":
    sys.exit(main())
