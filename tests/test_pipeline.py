"""End to end: `dvc repro` of a 2-round experiment in a temporary git repo, then a variant.

Small real data (a stratified TREC subsample read from ../shared/data/trec),
the real encoder and the real stages; only the sizes are small.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartal import provenance
from cartal.io import artifacts as art
from projects import new_project, run, snapshot, stages_run, stages_skipped

pytestmark = pytest.mark.integration

SEED_SIZE, BATCH, ROUNDS, EPOCHS = 40, 20, 2, 5
STRATEGY_STAGES = {  # what `-S strategy=random` must rerun: the selections and everything downstream of them
    "check-params",  # every param change is checked first; it writes the same bytes, so prepare stays
    "select@0", "merge-labels@0", "select@1", "merge-labels@1",
    "train-seed@1", "record-dynamics@1", "build-map@1", "evaluate@1",
    "train-seed@2", "record-dynamics@2", "build-map@2", "evaluate@2", "report",
}
UNCHANGED_STAGES = {"prepare", "embed", "train-seed@0", "record-dynamics@0", "build-map@0", "evaluate@0"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    """A fresh cartal project (a copy of this repo's pipeline) after its first `dvc repro`."""
    repo = new_project(tmp_path_factory.mktemp("project"), shared_data, ROUNDS, EPOCHS,
                       seed_size=SEED_SIZE, batch_size=BATCH, strategy="cartography")
    with pytest.MonkeyPatch.context() as env:  # a cache of its own, so that the texts are embedded here
        env.setenv("CARTAL_FEATURE_CACHE", str(tmp_path_factory.mktemp("feature-cache")))
        first = run(["dvc", "repro"], repo)
    assert stages_run(first.stdout) >= STRATEGY_STAGES | UNCHANGED_STAGES
    # progress into a pipe, through the warm workers: whole lines (cartal.progress), no bar redrawn with "\r"
    assert "\r" not in first.stdout + first.stderr
    assert re.search(r"^embedding train \(300 texts\): 100% \d+/\d+ ", first.stderr, re.MULTILINE)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "first run"], repo)
    return repo


def test_every_artifact_exists_with_its_schema(project):
    rounds = project / "data" / "rounds"
    train = art.read_table(project / "data/prepared/train.parquet", art.PREPARED).to_pandas()
    test = art.read_table(project / "data/prepared/test.parquet", art.PREPARED).to_pandas()
    assert (len(train), len(test)) == (300, 120)
    labels = json.loads((project / "data/prepared/labels.json").read_text())["labels"]
    assert labels == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    for split, frame in (("train", train), ("test", test)):
        features = art.read_table(project / f"data/features/{split}.parquet", art.FEATURES)
        assert art.ids(features).tolist() == frame["id"].tolist()
        assert art.vectors(features, "vector").shape == (len(frame), 384)

    gold = train.set_index("id")["label"]
    for k in range(ROUNDS + 1):
        labeled = art.read_table(rounds / f"{k}/labeled.parquet", art.LABELED).to_pandas()
        pool = art.ids(art.read_table(rounds / f"{k}/pool.parquet", art.POOL))
        n = SEED_SIZE + k * BATCH
        assert len(labeled) == n and len(pool) == 300 - n
        assert not set(labeled["id"]) & set(pool)
        assert (labeled["label"].to_numpy() == gold.loc[labeled["id"]].to_numpy()).all()  # oracle labels are gold
        assert sorted(labeled["round"].unique()) == list(range(k + 1))

        assert (rounds / f"{k}/model.safetensors").read_bytes()[8:9] == b"{"  # safetensors header, no pickle
        dynamics = art.read_table(rounds / f"{k}/dynamics.parquet", art.DYNAMICS).to_pandas()
        assert len(dynamics) == n * EPOCHS
        assert sorted(dynamics["epoch"].unique()) == list(range(1, EPOCHS + 1))
        assert dynamics["gold_prob"].between(0, 1).all()
        outputs = art.read_table(rounds / f"{k}/outputs.parquet", art.OUTPUTS)
        assert outputs.num_rows == 300 and sum(outputs.column("labeled").to_pylist()) == n
        probs = art.vectors(outputs, "probs")
        assert probs.shape == (300, len(labels)) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)

        data_map = art.read_table(rounds / f"{k}/map.parquet", art.DATA_MAP).to_pandas()
        assert sorted(data_map["id"]) == sorted(labeled["id"])
        expected = dynamics.groupby("id")["gold_prob"].agg(["mean", lambda p: np.std(p)])
        assert np.allclose(data_map.set_index("id").loc[expected.index, "confidence"], expected["mean"])
        assert set(data_map["region"]) <= {"easy-to-learn", "ambiguous", "hard-to-learn"}
        assert not (rounds / f"{k}/map.png").exists()  # one figure in the report, not a PNG per round
        assert len(pd.read_csv(rounds / f"{k}/map.csv")) == n

        metrics = json.loads((project / f"metrics/rounds/{k}.json").read_text())
        assert metrics["round"] == k and metrics["labeled"] == n and "instructions" in metrics["machine"]
        assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["macro_f1"] <= 1

        if k < ROUNDS:
            selected = art.read_table(rounds / f"{k}/selected.parquet", art.SELECTED).to_pandas()
            assert len(selected) == BATCH and selected["id"].is_unique
            assert set(selected["id"]) <= set(pool)
            assert selected["rank"].tolist() == list(range(1, BATCH + 1))
            assert selected["score"].is_monotonic_decreasing
            assert selected["picked_by"].str.startswith(("cartography", "random")).all()
            following = art.read_table(rounds / f"{k + 1}/labeled.parquet", art.LABELED).to_pandas()
            assert set(following["id"]) == set(labeled["id"]) | set(selected["id"])

    curve = pd.read_csv(project / "metrics/curve.csv")
    assert curve["labeled"].tolist() == [SEED_SIZE + k * BATCH for k in range(ROUNDS + 1)]
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert summary["final_labeled"] == SEED_SIZE + ROUNDS * BATCH and summary["strategy"] == "cartography"
    assert summary["final_accuracy"] == pytest.approx(curve["accuracy"].iloc[-1], abs=1e-5)  # the CSV keeps 6 digits
    # the features were embedded here, in this run, or by an earlier one into the feature cache: on this machine
    assert summary["features_computed_on"] == [provenance.machine("transformer")]
    assert all(provenance.read(project / f"data/features/{split}.parquet") == summary["features_computed_on"]
               for split in ("train", "test"))
    assert summary["rounds_run_on"] == [provenance.machine("torch")]  # the MLP's arithmetic: torch's, here
    batches = pd.read_csv(project / "metrics/batch_stats.csv")
    assert batches["round"].tolist() == list(range(ROUNDS)) and (batches["size"] == BATCH).all()
    assert (project / "metrics/curve.png").stat().st_size > 1000
    assert (project / "metrics/data_maps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_second_repro_does_nothing(project):
    again = run(["dvc", "repro"], project)
    assert stages_run(again.stdout) == set()
    assert "Data and pipelines are up to date" in again.stdout


def test_strategy_variant_reruns_only_what_depends_on_the_strategy(project):
    variant = run(["dvc", "exp", "run", "-S", "strategy=random"], project)
    ran = stages_run(variant.stdout)
    assert ran == STRATEGY_STAGES, f"unexpected reruns: {ran ^ STRATEGY_STAGES}"
    assert UNCHANGED_STAGES <= stages_skipped(variant.stdout)
    selected = art.read_table(project / "data/rounds/0/selected.parquet", art.SELECTED).to_pandas()
    assert (selected["picked_by"] == "random").all()
    plots = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)
    assert "metrics/curve.csv" in plots["data"]
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "random variant"], project)


def test_shrinking_rounds_leaves_no_stale_round_in_the_report(project):
    run(["cartal", "rounds", "1"], project)
    run(["dvc", "repro"], project)
    assert (project / "metrics/rounds/2.json").exists()  # the dropped round's files stay on disk...
    curve = pd.read_csv(project / "metrics/curve.csv")
    assert curve["round"].tolist() == [0, 1]  # ...but the report reads only the declared rounds
    assert len(pd.read_csv(project / "metrics/batch_stats.csv")) == 1


USER_STRATEGY = '''\
from dataclasses import dataclass

import numpy as np

from cartal.strategies import PoolState, QueryStrategy


class PowerOfHidden(QueryStrategy):
    name = "power-of-hidden"
    needs = frozenset({"hidden"})

    @dataclass(frozen=True)
    class Args:
        power: float = 2.0

    def score(self, state: PoolState) -> np.ndarray:
        return np.linalg.norm(state.pool_hidden.astype(np.float64), axis=1) ** self.args.power
'''


def test_a_users_strategy_runs_with_its_own_settings_and_a_changed_setting_reruns_selection(project):
    """strategy: module:Class with strategy_args, as the README's "Strategies" shows; -S on a setting reruns
    select, and a setting the strategy does not take stops the run at check-params, every artifact as it was."""
    (project / "my_strategies.py").write_text(USER_STRATEGY)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "a strategy of our own"], project)

    def selected_scores() -> tuple[np.ndarray, np.ndarray]:
        selected = art.read_table(project / "data/rounds/0/selected.parquet", art.SELECTED).to_pandas()
        assert (selected["picked_by"] == "power-of-hidden").all()
        outputs = art.read_table(project / "data/rounds/0/outputs.parquet", art.OUTPUTS)
        hidden = pd.Series(list(art.vectors(outputs, "hidden")), index=art.ids(outputs))
        norms = np.array([np.linalg.norm(hidden[i].astype(np.float64)) for i in selected["id"]])
        return selected["score"].to_numpy(), norms

    first = run(["dvc", "exp", "run", "-S", "strategy=my_strategies:PowerOfHidden", "-S", "+strategy_args.power=3"],
                project)
    assert "select@0" in stages_run(first.stdout)
    scores, norms = selected_scores()
    assert scores == pytest.approx(norms ** 3)
    second = run(["dvc", "exp", "run", "-S", "strategy_args.power=1"], project)
    assert "select@0" in stages_run(second.stdout) and "train-seed@0" in stages_skipped(second.stdout)
    scores, norms = selected_scores()
    assert scores == pytest.approx(norms)
    before = snapshot(project)
    refused = run(["dvc", "exp", "run", "-S", "+strategy_args.pwr=2"], project, check=False)
    assert refused.returncode != 0
    assert ("'strategy_args.pwr' is not a setting of the strategy: strategy 'power-of-hidden' takes power (float, "
            "default 2.0)") in refused.stdout + refused.stderr
    assert snapshot(project) == before
