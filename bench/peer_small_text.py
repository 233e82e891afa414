"""Side-by-side with the peer library small-text: its own active-learning loop on our features.

    bash bench/setup_peer.sh          # once: bench/.venv with small-text (never a project dependency)
    bench/.venv/bin/python bench/peer_small_text.py --project PROJECT [--rounds 30] [--batch-size 50]
        [--seed 398048] [--strategies random,least-confidence] [--threads N] [--json OUT]

PROJECT is a cartal project whose pipeline has run at least `embed` and round 0:
it reads data/prepared/{train,test}.parquet (gold labels), data/features/{train,test}.parquet
and the seed set L0 from data/rounds/0/labeled.parquet; the pool is every other train id.
small-text's PoolBasedActiveLearner then runs RandomSampling and LeastConfidence with a
SklearnClassifier around sklearn's MLPClassifier, configured as close to our MLP head as
sklearn allows (two hidden layers of 384, ReLU, Adam, lr 1e-4, L2 alpha 0.01, batch 16,
30 epochs, a fresh model each round). Differences from ours: no dropout, L2 penalty in the
loss instead of AdamW's decoupled weight decay, sklearn's weight initialisation, and
LeastConfidence scores the whole train set, as small-text does. Per round it prints the
labeled-set size, test accuracy and macro-F1, and the seconds of the query and of the
retraining (evaluation is not timed). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

SETUP = "bench/.venv is missing small-text: run `bash bench/setup_peer.sh`, then use bench/.venv/bin/python"
STRATEGIES = {"random": "RandomSampling", "least-confidence": "LeastConfidence"}


def available() -> bool:
    try:
        import small_text  # noqa: F401
    except ImportError:
        return False
    return True


def load_project(project: Path):
    """Train/test features and integer labels in train order, the label names, and L0's train indices."""
    from cartal.io.artifacts import FEATURES, LABELED, PREPARED, ids, read_table, vectors

    data = project / "data"
    splits = {}
    for split in ("train", "test"):
        prepared = read_table(data / "prepared" / f"{split}.parquet", PREPARED)
        features = read_table(data / "features" / f"{split}.parquet", FEATURES)
        position = {key: i for i, key in enumerate(ids(features))}
        order = np.array([position[key] for key in ids(prepared)])  # KeyError: features are stale
        labels = prepared.column("label").to_pylist()
        if any(label is None for label in labels):
            raise SystemExit(f"{split}: some gold labels are null; the peer run needs oracle: gold")
        splits[split] = (ids(prepared), vectors(features, "vector")[order], labels)
    names = sorted(set(splits["train"][2]) | set(splits["test"][2]))
    code = {name: i for i, name in enumerate(names)}
    train_ids, x_train, y_train = splits["train"]
    _, x_test, y_test = splits["test"]
    row = {key: i for i, key in enumerate(train_ids)}
    seed_ids = ids(read_table(data / "rounds" / "0" / "labeled.parquet", LABELED))
    l0 = np.array(sorted(row[key] for key in seed_ids), dtype=int)
    return (x_train, np.array([code[y] for y in y_train]), x_test, np.array([code[y] for y in y_test]),
            names, l0)


def classifier_factory(num_classes: int, seed: int, epochs: int = 30):
    from sklearn.neural_network import MLPClassifier
    from small_text import SklearnClassifierFactory

    mlp = MLPClassifier(hidden_layer_sizes=(384, 384), activation="relu", solver="adam",
                        learning_rate_init=1e-4, alpha=0.01, batch_size=16, max_iter=epochs,
                        n_iter_no_change=epochs,  # no early stop on a loss plateau: always all epochs
                        random_state=seed)
    return SklearnClassifierFactory(mlp, num_classes)


def run_peer(project: Path, rounds: int, batch_size: int, seed: int, strategies: list[str]) -> list[dict]:
    """One row per (strategy, round): labeled, accuracy, macro_f1, query_s, train_s, seconds."""
    if not available():
        raise SystemExit(SETUP)
    import small_text
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, f1_score
    from small_text import PoolBasedActiveLearner, SklearnDataset

    unknown = [name for name in strategies if name not in STRATEGIES]
    if unknown:
        raise SystemExit(f"unknown strategies {unknown}; small-text's peers here: {', '.join(STRATEGIES)}")
    x_train, y_train, x_test, y_test, names, l0 = load_project(Path(project))
    train = SklearnDataset(x_train, y_train, target_labels=np.arange(len(names)))
    rows = []
    for name in strategies:
        np.random.seed(seed)  # RandomSampling draws from numpy's global generator
        strategy = getattr(small_text, STRATEGIES[name])()
        learner = PoolBasedActiveLearner(classifier_factory(len(names), seed), strategy, train)
        for k in range(rounds + 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # 30 epochs is the budget, not convergence
                start = time.perf_counter()
                if k == 0:
                    queried = l0
                    learner.initialize_data(l0, y_train[l0])
                else:
                    queried = learner.query(num_samples=batch_size)
                queried_at = time.perf_counter()
                if k > 0:
                    learner.update(y_train[queried])  # the gold oracle
                end = time.perf_counter()
            predicted = learner.classifier.model.predict(x_test)
            rows.append({
                "library": f"small-text {small_text.__version__}", "strategy": name, "round": k,
                "labeled": int(len(learner.indices_labeled)), "queried": int(len(queried)),
                "accuracy": float(accuracy_score(y_test, predicted)),
                "macro_f1": float(f1_score(y_test, predicted, average="macro", labels=np.arange(len(names)))),
                "query_s": queried_at - start if k else 0.0, "train_s": end - queried_at if k else end - start,
                "seconds": end - start,
            })
            print(format_row(rows[-1]), flush=True)
    return rows


HEADER = (f"{'strategy':<18}{'round':>6}{'labeled':>9}{'accuracy':>10}{'macro-F1':>10}"
          f"{'query s':>9}{'train s':>9}{'round s':>9}")


def format_row(row: dict) -> str:
    return (f"{row['strategy']:<18}{row['round']:>6}{row['labeled']:>9}{row['accuracy']:>10.4f}"
            f"{row['macro_f1']:>10.4f}{row['query_s']:>9.3f}{row['train_s']:>9.2f}{row['seconds']:>9.2f}")


def totals(rows: list[dict]) -> list[str]:
    lines = []
    for name in dict.fromkeys(row["strategy"] for row in rows):
        mine = [row for row in rows if row["strategy"] == name]
        last = mine[-1]
        lines.append(f"{name}: {len(mine) - 1} rounds, {last['labeled']} labeled, final accuracy "
                     f"{last['accuracy']:.4f}, mean accuracy {np.mean([r['accuracy'] for r in mine]):.4f}, "
                     f"{sum(r['seconds'] for r in mine):.1f} s in all (query {sum(r['query_s'] for r in mine):.2f} s, "
                     f"training {sum(r['train_s'] for r in mine):.1f} s), "
                     f"{np.mean([r['seconds'] for r in mine[1:]] or [0]):.2f} s per query round")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, required=True, help="a cartal project after embed and round 0")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=398048, help="the MLP's random_state and RandomSampling's seed")
    parser.add_argument("--strategies", default="random,least-confidence")
    parser.add_argument("--threads", type=int, help="cap numpy's BLAS threads (default: the library's own)")
    parser.add_argument("--json", type=Path, help="write the per-round rows here")
    args = parser.parse_args()
    if not available():
        raise SystemExit(SETUP)
    from threadpoolctl import threadpool_limits

    print(HEADER)
    with threadpool_limits(limits=args.threads):
        rows = run_peer(args.project, args.rounds, args.batch_size, args.seed, args.strategies.split(","))
    print()
    print("\n".join(totals(rows)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
