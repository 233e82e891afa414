"""Peak memory of every stage on a pool of 100,000 texts: embedding included, one query round through `dvc repro`.

    python bench/pool_round.py [--pool 100000] [--json OUT]

The texts are TREC's train questions, repeated with a numbered suffix until the pool
is full (so every text is distinct), each with its TREC label; the test split is
TREC's. |L0| = 500, one round of 50, CAL, the paper's MLP. Each stage reports its
peak RSS through CARTAL_PROFILE; the embed stage's is the largest. About 10 minutes
on 2 cores, most of it embedding.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from pipeline import ROOT, _run, skeleton

TREC = ROOT.parent / "shared/data/trec"


def run_pool_round(work: Path, pool: int, trec: Path = TREC) -> dict:
    project = skeleton(work / f"pool-{pool}", {
        "dataset": "files", "strategy": "cartography", "seed_size": 500, "batch_size": 50,
        "data": {"files": {"train": "data/raw/train.parquet", "test": "data/raw/test.parquet", "pool": None,
                           "seed": None},
                 "text_columns": ["text"], "label_column": "label"}})
    questions = pd.read_csv(trec / "train.csv", keep_default_na=False)
    text, label = "Description", "Class Index"
    copies = -(-pool // len(questions))
    frame = pd.concat([questions.assign(**{text: questions[text] + f" #{i}"}) for i in range(copies)]).head(pool)
    frame[[text, label]].rename(columns={text: "text", label: "label"}).to_parquet(project / "data/raw/train.parquet")
    test = pd.read_csv(trec / "test.csv", keep_default_na=False)
    test[[text, label]].rename(columns={text: "text", label: "label"}).to_parquet(project / "data/raw/test.parquet")
    _run(["cartal", "rounds", "1"], project)
    profile = project / "profile.jsonl"
    start = time.perf_counter()
    _run(["dvc", "repro"], project, extra_env={"CARTAL_PROFILE": str(profile)})
    wall = time.perf_counter() - start
    stages = [json.loads(line) for line in profile.read_text().splitlines()]
    return {"pool": pool, "wall_s": wall, "texts": pool + len(test),
            "stages": [{"stage": s["stage"], "seconds": s["ended"] - s["created"], "peak_rss_mib": s["peak_rss_mib"]}
                       for s in stages]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench/.work")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run_pool_round(args.work, args.pool)
    print(pd.DataFrame(result["stages"]).to_string(index=False))
    print(f"dvc repro: {result['wall_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
