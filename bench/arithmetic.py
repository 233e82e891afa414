"""What moves a transformer's features on one CPU: runs, thread counts, and the instruction sets of torch's kernels.

python bench/arithmetic.py [--texts N]          the table: each setting against a plain run
python bench/arithmetic.py --fill-cache DIR     TREC's train and test into a feature cache at DIR, embedded with
                                                another instruction set ("all" below), for a grid to run on

Each setting runs in a process of its own, since torch, MKL and oneDNN fix their kernels when torch loads. The
instruction-set settings stand in for another CPU: the results of another machine cannot be had on this one,
but what its kernels change can. TREC's test texts from $CARTAL_SHARED_DATA/trec, else ../shared/data/trec.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SETTINGS = {  # name -> (environment, torch threads)
    "again": ({}, None),
    "1 thread": ({}, 1),
    "4 threads": ({}, 4),
    "16 threads": ({}, 16),
    "ATEN_CPU_CAPABILITY=default": ({"ATEN_CPU_CAPABILITY": "default"}, None),
    "ONEDNN_MAX_CPU_ISA=SSE41": ({"ONEDNN_MAX_CPU_ISA": "SSE41"}, None),
    "MKL_CBWR=COMPATIBLE": ({"MKL_CBWR": "COMPATIBLE"}, None),
    "MKL_CBWR=AVX2": ({"MKL_CBWR": "AVX2"}, None),
    "all": ({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"}, None),
    "all, 1 thread": ({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"}, 1),
}
PAIRS = [("all, 1 thread", "all")]  # also compared with each other: do the other kernels depend on the threads?


def trec() -> Path:
    shared = Path(os.environ.get("CARTAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
    return shared / "trec"


def embed_here(texts_file: Path, out: Path, threads: int | None) -> None:
    """The child: embed the texts (a JSON list) with the cache off, as the embed stage does, into ``out``."""
    import torch

    from cartal.encoders import cache, embed_splits
    from cartal.params import EncoderParams

    if threads:
        torch.set_num_threads(threads)
    os.environ[cache.ENV] = cache.OFF
    texts = json.loads(texts_file.read_text())
    np.save(out, embed_splits({"test": texts}, EncoderParams(), progress=False)["test"])
    print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())


def run_setting(name: str, texts_file: Path, folder: Path) -> tuple[np.ndarray, str]:
    env, threads = SETTINGS[name]
    out = folder / f"{len(list(folder.iterdir()))}.npy"
    args = [sys.executable, __file__, "--child", str(texts_file), str(out)] + (["--threads", str(threads)]
                                                                               if threads else [])
    done = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return np.load(out), done.stdout.strip()


def table(n: int) -> None:
    from cartal.data.datasets import load_trec_csv

    texts = load_trec_csv(trec()).test["text"].tolist()[:n]
    with tempfile.TemporaryDirectory(prefix="cartal-bench-arith-") as tmp:
        folder = Path(tmp)
        texts_file = folder / "texts.txt"
        texts_file.write_text(json.dumps(texts))
        base, said = run_setting("again", texts_file, folder)
        print(f"{len(texts)} TREC test texts, all-MiniLM-L6-v2; plain run: torch's kernels {said.split()[0]}, "
              f"{said.split()[1]} threads")
        print(f"{'setting':32} {'kernels':>8} {'threads':>7} {'vectors moved':>14} {'max |difference|':>17}")
        seen = {}
        for name in SETTINGS:
            vectors, said = run_setting(name, texts_file, folder)
            seen[name] = vectors
            diff = np.abs(vectors - base)
            kernels, threads = said.split()
            print(f"{name:32} {kernels:>8} {threads:>7} {int((diff.max(axis=1) > 0).sum()):>14} "
                  f"{diff.max():>17.2e}")
        for one, other in PAIRS:
            diff = np.abs(seen[one] - seen[other])
            print(f"{one} against {other}: {int((diff.max(axis=1) > 0).sum())} vectors moved, "
                  f"max |difference| {diff.max():.2e}")


def fill_cache(folder: Path, setting: str) -> None:
    """TREC's texts into the feature cache ``folder`` with ``setting``'s kernels, in a process of their own."""
    env = {**os.environ, **SETTINGS[setting][0], "CARTAL_FEATURE_CACHE": str(folder.resolve())}
    code = ("import sys, pathlib; from cartal.data.datasets import load_trec_csv; "
            "from cartal.encoders import embed_splits; from cartal.params import EncoderParams; "
            "d = load_trec_csv(pathlib.Path(sys.argv[1])); "
            "embed_splits({'train': d.train['text'].tolist(), 'test': d.test['text'].tolist()}, EncoderParams())")
    subprocess.run([sys.executable, "-c", code, str(trec())], env=env, check=True)
    print(f"TREC's train and test in {folder}, embedded with {setting}: run a grid with CARTAL_FEATURE_CACHE={folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--fill-cache", type=Path, metavar="DIR")
    parser.add_argument("--setting", default="all", choices=list(SETTINGS), help="for --fill-cache")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        embed_here(*args.child, args.threads)
    elif args.fill_cache:
        fill_cache(args.fill_cache, args.setting)
    else:
        table(args.texts)


if __name__ == "__main__":
    main()
