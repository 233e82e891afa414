"""A no-op `dvc repro` with parts of DVC's per-stage work switched off: what a change in DVC would give.

    cd <a finished project, e.g. bench/.work/cartography-30r> && python <checkout>/bench/noop_patched.py [--repeat 3]

Times `dvc repro` (nothing to do) in this process, as is, without DVC's per-stage read/write lock
(.dvc/tmp/rwlock, rewritten many times a stage), without the schema check of each dvc.yaml and dvc.lock,
and without both. An experiment on DVC's internals, for bench/results.md; never for real runs.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys

VARIANTS = ("as is", "no rwlock", "no schema check", "neither")
_RUN = """
import contextlib, sys, time
import dvc.rwlock, dvc.utils.strictyaml
variant = sys.argv[1]
if variant in ("no rwlock", "neither"):
    dvc.rwlock.rwlock = lambda *args, **kwargs: contextlib.nullcontext()
if variant in ("no schema check", "neither"):
    dvc.utils.strictyaml.validate = lambda data, schema=None, text=None, path=None, rev=None: data
from dvc.cli import main
start = time.perf_counter()
code = main(["repro", "-q"])
print(time.perf_counter() - start, code)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for variant in VARIANTS:
        seconds = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", _RUN, variant], capture_output=True, text=True, check=True)
            value, code = out.stdout.split()
            if code not in ("0", "None"):
                raise SystemExit(f"{variant}: dvc repro exited {code}:\n{out.stderr}")
            seconds.append(float(value))
        print(f"{variant:>16}: best {min(seconds):.2f} s, median {sorted(seconds)[len(seconds) // 2]:.2f} s "
              f"(in-process, after importing DVC)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
