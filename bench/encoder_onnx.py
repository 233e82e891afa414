"""ONNX Runtime against the project's encoder, on the same unpadded same-length batches (issue 21, target 5).

    pip install onnxruntime onnx   # not project dependencies: this measures whether they would be worth it
    python bench/encoder_onnx.py [--trec ../shared/data/trec] [--batch-size 32] [--repeat 2]

Exports all-MiniLM-L6-v2 (the offline copy) to ONNX with torch's exporter, then embeds TREC's train texts
with both runtimes, alternating, in one process: the texts per second of each, and the largest difference
of a component between their vectors. Nothing in cartal uses ONNX Runtime; this is the measurement that
would justify it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trec", type=Path, default=ROOT.parent / "shared/data/trec")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import onnxruntime
    import torch

    from cartal.data.datasets import load_trec_csv
    from cartal.encoders.transformer import MINILM, batch_rows, encode, load_pretrained, same_length_batches

    texts = load_trec_csv(args.trec).train["text"].tolist()
    tokenizer, model = load_pretrained(MINILM)
    onnx_file = Path(tempfile.mkdtemp()) / "minilm.onnx"
    example = torch.ones((2, 8), dtype=torch.long)
    class LastHidden(torch.nn.Module):  # positional inputs, one output: what the exporter traces
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, mask):
            return self.inner(input_ids=input_ids, attention_mask=mask).last_hidden_state

    torch.onnx.export(LastHidden(model), (example, torch.ones_like(example)), str(onnx_file),
                      input_names=["input_ids", "mask"], output_names=["hidden"],
                      dynamic_axes={"input_ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}},
                      opset_version=17, dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

    def with_onnx() -> np.ndarray:
        pieces = tokenizer(texts, truncation=True, max_length=256)["input_ids"]
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        for index in same_length_batches([len(ids) for ids in pieces], args.batch_size):
            ids = np.asarray(batch_rows(pieces, index), dtype=np.int64)
            hidden = session.run(["hidden"], {"input_ids": ids, "mask": np.ones_like(ids)})[0]
            out[index] = hidden[:len(index)].mean(1)
        return out

    def with_torch() -> np.ndarray:
        return encode(texts, MINILM, batch_size=args.batch_size, progress=False)

    timings: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
    vectors = {}
    for _ in range(args.repeat):
        for name, run in (("torch", with_torch), ("onnxruntime", with_onnx)):
            started = time.perf_counter()
            vectors[name] = run()
            timings[name].append(time.perf_counter() - started)
    best = {name: min(seconds) for name, seconds in timings.items()}
    print(f"{len(texts)} texts, {torch.get_num_threads()} threads, batch size {args.batch_size}, "
          f"best of {args.repeat}:")
    for name, seconds in best.items():
        print(f"  {name:12s} {seconds:6.1f} s  {len(texts) / seconds:6.1f} texts/s")
    print(f"  speed-up {best['torch'] / best['onnxruntime']:.2f}x; largest difference of a component "
          f"{np.abs(vectors['torch'] - vectors['onnxruntime']).max():.2e}")


if __name__ == "__main__":
    sys.exit(main())
