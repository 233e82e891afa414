"""The compute floor: one active-learning experiment as a single in-process loop through the library.

    python bench/floor.py --project DIR [--strategy cartography] [--rounds 30]

DIR is a cartal project where `prepare` and `embed` have run (bench/run.py
makes one). The loop does each round's work exactly as the stages do (the
same functions, seeds and hyperparameters from DIR's params.yaml), but keeps
everything in memory: no process start-up, no Parquet, no DVC. Its test
accuracies equal the pipeline's, round for round (bench/run.py checks that).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def run_floor(project: Path, strategy: str, rounds: int, batch_size: int | None = None) -> list[dict]:
    """Per round: labeled-set size, test accuracy and the seconds of each step."""
    from cartal import strategies
    from cartal.dynamics import data_map, tidy_dynamics
    from cartal.io import artifacts as art
    from cartal.metrics import classification_metrics
    from cartal.models.files import load_frozen, save_classifier
    from cartal.models.mlp import MLPClassifier, seeded
    from cartal.models.training import fit, mc_dropout_proba
    from cartal.oracle import merge_labels
    from cartal.params import load_params
    from cartal.seeding import derive_seed
    from cartal.strategies import PoolState

    params = load_params(project / "params.yaml")
    params = dataclasses.replace(params, strategy=strategy, **({"batch_size": batch_size} if batch_size else {}))
    m = params.model
    labels = tuple(art.read_json(project / "data/prepared/labels.json", "label set", "prepare")["labels"])
    to_index = {label: i for i, label in enumerate(labels)}
    features = _features(art, project / "data/features/train.parquet")
    test = art.read_table(project / "data/prepared/test.parquet", art.PREPARED, columns=["id", "label"]).to_pandas()
    x_test = _features(art, project / "data/features/test.parquet").loc[test["id"]].to_numpy()
    y_test = test["label"].map(to_index).to_numpy()
    gold = art.read_table(project / "data/prepared/train.parquet", art.PREPARED,
                          columns=["id", "label"]).to_pandas().set_index("id")["label"]
    labeled = art.read_table(project / "data/rounds/0/labeled.parquet", art.LABELED).to_pandas()
    pool = art.ids(art.read_table(project / "data/rounds/0/pool.parquet", art.POOL))
    chooser = strategies.create(strategy, params)
    model_file = Path(project) / f".floor-model-{strategy}-{os.getpid()}.safetensors"  # floors run side by side
    rows = []
    for k in range(rounds + 1):
        clock = _Clock()
        ids = labeled["id"].to_numpy(dtype=object)
        y = labeled["label"].map(to_index).to_numpy()
        x = features.loc[ids].to_numpy()
        model = seeded(lambda: MLPClassifier(x.shape[1], len(labels), m.hidden_dim, m.dropout),  # noqa: B023 - called at once
                       params.seed, k, "classifier")
        epoch_probs = fit(model, x, y, epochs=m.epochs, batch_size=m.batch_size, lr=m.lr,
                          weight_decay=m.weight_decay, seed=derive_seed(params.seed, k, "classifier"),
                          record=True, record_from=params.cal.dynamics)
        save_classifier(model, labels, model_file)  # the numpy model the stages infer with, from the same weights
        frozen, _ = load_frozen(model_file)
        clock.lap("train")
        accuracy = classification_metrics(y_test, frozen.predict_proba(x_test), len(labels))["accuracy"]
        clock.lap("evaluate")
        row = {"strategy": strategy, "round": k, "labeled": len(ids), "accuracy": accuracy}
        if k == rounds:
            rows.append({**row, **clock.laps, "seconds": clock.total})
            break
        frame = data_map(tidy_dynamics(epoch_probs, ids, y), params.map)
        hidden, probs = frozen.hidden_and_proba(features.loc[np.concatenate([ids, pool])].to_numpy())
        clock.lap("dynamics")
        inputs = {"pool_probs": probs[len(ids):], "pool_hidden": hidden[len(ids):],
                  "labeled_hidden": hidden[:len(ids)], "labeled_probs": probs[:len(ids)],
                  "data_map": frame.set_index("id").loc[ids].reset_index()}
        if "mc" in chooser.needs:
            inputs["pool_mc_probs"] = mc_dropout_proba(model, features.loc[pool].to_numpy(), params.mc.passes,
                                                       seed=derive_seed(params.seed, k))
        state = PoolState(round=k, seed=params.seed, pool_ids=pool, labeled_ids=ids, labeled_targets=y, **inputs)
        selection = chooser.select(state, params.batch_size)
        clock.lap("select")
        labeled, pool = merge_labels(labeled, pool, np.asarray(selection.ids, dtype=object), gold, next_round=k + 1)
        clock.lap("merge")
        rows.append({**row, **clock.laps, "seconds": clock.total})
        print(f"floor {strategy} round {k}: {len(ids)} labeled, accuracy {accuracy:.4f}, {clock.total:.2f} s",
              file=sys.stderr, flush=True)
    model_file.unlink(missing_ok=True)
    return rows


class _Clock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last
        self.last = now

    @property
    def total(self) -> float:
        return self.last - self.start


def _features(art, path: Path) -> pd.DataFrame:
    table = art.read_table(path, art.FEATURES)
    return pd.DataFrame(art.vectors(table, "vector"), index=pd.Index(art.ids(table)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--strategy", default="cartography")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rows = run_floor(args.project, args.strategy, args.rounds)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"total {frame['seconds'].sum():.1f} s, {frame['seconds'].mean():.2f} s per round")


if __name__ == "__main__":
    main()
