"""`cartal reproduce` end to end: a 2 x 2 grid queued through DVC in a temporary git repo, aggregated,
checked, then run again (nothing reruns) and resumed after losing an experiment (only that one reruns)."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from cartal.encoders import cache
from cartal.experiments.dvc_queue import finished, start_workers
from projects import new_project, run

pytestmark = pytest.mark.slow
SEED_SIZE, BATCH, ROUNDS, EPOCHS = 30, 15, 1, 4
GRID = ["-s", "random", "-s", "cal", "--seed", "11", "--seed", "12",
        "--seed-size", str(SEED_SIZE), "--batch-size", str(BATCH), "--rounds", str(ROUNDS), "-j", "2",
        "--significance-samples", "100", "--check"]


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, shared_data) -> tuple[Path, str]:
    repo = new_project(tmp_path_factory.mktemp("grid"), shared_data, rounds=2, epochs=EPOCHS)
    before = workspace(repo)
    features = tmp_path_factory.mktemp("feature-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(cache.ENV, str(features))
        result = run(["cartal", "reproduce", "--data-dir", str(shared_data / "trec"), *GRID], repo)
    # the grid's 1 round ran from round pipelines written for the queue; the project's own 2 are back
    assert workspace(repo) == before
    # the dataset was embedded once, before the experiments, into one cache file; no experiment embedded a text
    assert "into the feature cache" in result.stderr
    assert len(list(features.rglob("*.parquet"))) == 1
    return repo, result.stdout + result.stderr


def workspace(repo: Path) -> dict:
    files = {p: p.read_text() for p in [repo / "params.yaml", *sorted((repo / "rounds").rglob("*"))] if p.is_file()}
    return {"files": files, "git": run(["git", "status", "--porcelain", "--", "params.yaml", "rounds"], repo).stdout}


def test_every_experiment_runs_and_the_aggregate_is_whole(reproduced):
    repo, output = reproduced
    assert "check: every experiment finished" in output
    names = finished(repo)
    assert len(names) == 4 and all(name.startswith("trec-") for name in names)
    assert {name.split("-")[1] for name in names} == {"random", "cartography"}  # `cal` is resolved to its name
    out = repo / "metrics/reproduce/trec"
    curves = pd.read_csv(out / "curves_by_seed.csv")
    assert len(curves) == 4 * (ROUNDS + 1) and set(curves["seed"]) == {11, 12}
    assert sorted(curves["labeled"].unique()) == [SEED_SIZE, SEED_SIZE + BATCH]
    round0 = curves[curves["round"] == 0].pivot(index="seed", columns="strategy", values="accuracy")
    assert (round0["random"] == round0["cartography"]).all()  # same seed, same L0, same model: same round 0
    significance = pd.read_csv(out / "significance.csv")
    assert set(significance["metric"]) == {"aulc", "final_accuracy"} and len(significance) == 2
    overlap = pd.read_csv(out / "overlap.csv").set_index("strategy")
    assert overlap.loc["random", "random"] == 1.0 and 0 <= overlap.loc["random", "cartography"] < 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["experiments"] == sorted(names) and summary["elapsed_s"] > 0
    assert summary["encoder"] == {"kind": "transformer", "name": "sentence-transformers/all-MiniLM-L6-v2",
                                  "max_length": 48}
    hard = pd.read_csv(out / "hard_to_learn.csv")
    assert len(hard) == 2 * (ROUNDS + 1)
    assert (hard["hard_min"] >= 0).all() and (hard["hard_max"] <= hard["labeled"]).all()
    stops = pd.read_csv(out / "stopping.csv")  # read from each experiment's curve: every criterion, both seeds
    assert set(stops["strategy"]) == {"random", "cartography"} and (stops["seeds"] == 2).all()
    assert set(stops["criterion"]) == {"stabilising_predictions", "overall_uncertainty", "classification_change",
                                       "max_confidence", "min_expected_error"}
    plots = json.loads(run(["dvc", "plots", "show", "--json"], repo).stdout)
    assert any("metrics/reproduce/curves/trec.csv" in key for key in plots["data"])


def test_a_second_reproduction_runs_nothing_and_a_lost_experiment_alone_reruns(reproduced, shared_data):
    repo, _ = reproduced
    before = finished(repo)
    again = run(["cartal", "reproduce", "--data-dir", str(shared_data / "trec"), *GRID], repo)
    assert "4 finished earlier, 0 to run" in again.stderr and finished(repo) == before
    lost = sorted(before)[0]
    run(["dvc", "exp", "remove", lost], repo)
    resumed = run(["cartal", "reproduce", "--data-dir", str(shared_data / "trec"), *GRID], repo)
    assert "3 finished earlier, 1 to run" in resumed.stderr
    after = finished(repo)
    assert set(after) == set(before)
    assert all(after[name] == before[name] for name in before if name != lost)  # kept, not rerun


def test_an_ablation_reuses_the_baseline_and_runs_a_cal_only_variant_for_cal_alone(reproduced, shared_data):
    repo, _ = reproduced
    before = finished(repo)
    result = run(["cartal", "ablate", "--data-dir", str(shared_data / "trec"), "-s", "random", "-s", "cal",
                  "--seed", "11", "--seed-size", str(SEED_SIZE), "--batch-size", str(BATCH), "--rounds", str(ROUNDS),
                  "-v", "probe-first-epoch", "--name", "abl"], repo)
    assert "2 experiments: 2 finished earlier, 0 to run" in result.stderr  # the baseline is the grid's seed 11
    assert "1 experiments: 0 finished earlier, 1 to run" in result.stderr
    new = set(finished(repo)) - set(before)
    assert len(new) == 1 and "-cartography-11-" in new.pop()
    table = pd.read_csv(repo / "metrics/reproduce/abl/ablation.csv")
    assert list(zip(table["variant"], table["strategy"])) == [
        ("baseline", "cartography"), ("baseline", "random"), ("probe-first-epoch", "cartography")]
    assert (table.loc[table["variant"] == "baseline", "aulc_change"] == 0).all()
    for produced in ("ablation.md", "ablation.png", "../abl-baseline/results.md",
                     "../abl-probe-first-epoch/results.md"):
        assert (repo / "metrics/reproduce/abl" / produced).is_file()


def test_a_worker_started_after_a_grid_is_not_stopped_by_the_shutdown_the_grid_left(reproduced):
    """Every run of the queue ends with `dvc queue stop`, which leaves a shutdown in the mailbox of each worker
    that had exited already (treeverse/dvc#10427); the next run's worker of that name must not obey it."""
    repo, _ = reproduced
    celery = repo / ".dvc/tmp/exps/celery"
    run(["dvc", "queue", "stop"], repo)  # the end of a run whose workers had all exited before it
    left = left_shutdowns(celery / "broker/in")
    assert left, "nothing left: DVC changed; see start_workers"
    time.sleep(max(0.0, max(left.values()) - time.time()))  # a later run starts after they expired (1 s)
    log = celery / "dvc-exp-worker-1.out"
    ready_before = log.read_text().count(" ready.")
    start_workers(repo, jobs=1)
    try:
        deadline = time.monotonic() + 60
        while log.read_text().count(" ready.") == ready_before:
            assert time.monotonic() < deadline, "the queue worker did not start"
            time.sleep(0.5)
        time.sleep(5)  # a stale shutdown is read within a second of the worker's start
        pid = int((celery / "dvc-exp-worker-1.pid").read_text())
        os.kill(pid, 0)  # raises ProcessLookupError if the worker has exited
        assert "Got shutdown from remote" not in log.read_text().split(" ready.")[-1]
    finally:
        run(["dvc", "queue", "stop"], repo, check=False)


def left_shutdowns(inbox: Path) -> dict[str, float]:
    """The shutdown requests waiting in the queue workers' mailboxes (kombu's filesystem broker): file -> the time
    it expires."""
    messages = {path.name: json.loads(path.read_text()) for path in sorted(inbox.glob("*.celery.pidbox.msg"))}
    return {name: message["headers"]["expires"] for name, message in messages.items()
            if json.loads(base64.b64decode(message["body"])).get("method") == "shutdown"}
