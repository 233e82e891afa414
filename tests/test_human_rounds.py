"""A person labels the batches: the user's own files (an unlabeled pool and a labeled seed file), the
pipeline stopping until the labels are there, bad labels refused with nothing written, then going on."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cartal.errors import LABELS_PENDING_EXIT
from cartal.io import artifacts as art
from projects import new_human_project, run, snapshot, stages_run

pytestmark = pytest.mark.slow
BATCH = 10
FOLDER = "annotations/round-0"


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    repo = tmp_path_factory.mktemp("human")
    new_human_project(repo, shared_data, batch_size=BATCH, epochs=3)
    return repo


@pytest.fixture(scope="module")
def waiting(project):
    first = run(["dvc", "repro"], project, check=False)
    return project, first


def test_the_pipeline_stops_and_says_which_file_to_fill(waiting):
    repo, first = waiting
    assert first.returncode != 0  # plain `dvc repro` reports the wait as a failed stage: cartal repro reads it
    assert f"waiting for labels: {BATCH} instances wait for labels in {FOLDER}/" in first.stderr
    assert "then run `cartal repro` again" in first.stderr
    batch = pd.read_csv(repo / FOLDER / "batch.csv", dtype=str, keep_default_na=False)
    selected = art.read_table(repo / "data/rounds/0/selected.parquet", art.SELECTED).to_pandas()
    assert sorted(batch["id"]) == sorted(selected["id"]) and batch["id"].str.startswith("pool-").all()
    assert set(batch["suggestion"]) <= {"1", "2", "3", "4"} and (batch["label"] == "").all()
    pool = pd.read_json(repo / "data/raw/pool.jsonl", lines=True)
    first_id = batch["id"].iloc[0]
    row = pool.iloc[int(first_id.split("-")[1])]
    assert batch["text"].iloc[0] == f"{row['Title'].strip()} {row['Description'].strip()}"
    assert len(json.loads((repo / FOLDER / "tasks.json").read_text())) == BATCH
    status = run(["cartal", "status"], repo).stdout
    assert "round 0: 40 labeled, 200 in the pool" in status and f"waiting for labels: {BATCH} instances" in status


@pytest.mark.parametrize("warm", ["1", "0"])
def test_the_stage_itself_exits_with_the_code_of_a_wait(waiting, warm):
    """merge-labels@k exits LABELS_PENDING_EXIT (not 1, an error), in the warm worker or in a process of its own:
    what `cartal repro` reads a wait from, and a script can too."""
    repo, _ = waiting
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "CARTAL_WARM": warm}
    stage = subprocess.run(["cartal", "merge-labels", "0"], cwd=repo, env=env, capture_output=True, text=True)
    assert stage.returncode == LABELS_PENDING_EXIT, stage.stderr
    assert stage.stderr.strip().splitlines()[-1].startswith(f"waiting for labels: {BATCH} instances")


def test_labels_given_the_run_goes_on_and_records_the_skip(waiting):
    repo, _ = waiting
    batch = pd.read_csv(repo / FOLDER / "batch.csv", dtype=str, keep_default_na=False)
    batch["label"] = [""] + ["2"] * (BATCH - 1)
    batch["skip"] = ["yes"] + [""] * (BATCH - 1)
    batch.to_csv(repo / FOLDER / "batch.csv", index=False)
    given = (repo / FOLDER / "batch.csv").read_bytes()
    done = run(["dvc", "repro"], repo)
    assert {"merge-labels@0", "train-seed@1", "evaluate@1", "report"} <= stages_run(done.stdout)
    assert "select@0" not in stages_run(done.stdout)  # the batch is not drawn again
    labeled = art.read_table(repo / "data/rounds/1/labeled.parquet", art.LABELED).to_pandas().set_index("id")
    assert len(labeled) == 40 + BATCH - 1 and (labeled.loc[batch["id"].iloc[1:], "label"] == "2").all()
    skipped = art.read_table(repo / "data/rounds/1/skipped.parquet", art.SKIPPED).to_pandas()
    assert skipped["id"].tolist() == [batch["id"].iloc[0]] and skipped["round"].tolist() == [0]
    pool = art.ids(art.read_table(repo / "data/rounds/1/pool.parquet", art.POOL))
    assert len(pool) == 200 - BATCH and batch["id"].iloc[0] not in set(pool)
    status = json.loads(run(["cartal", "status", "--json"], repo).stdout)
    assert status["rounds_evaluated"] == 2 and status["waiting"] is None and status["skipped"] == 1
    # after two rounds, one kappa of the window of three: the criteria cannot say stop yet, and say why
    assert status["stopping"] == {"round": 1, "stop": False, "verdict": status["stopping"]["verdict"]}
    words = run(["cartal", "status"], repo).stdout
    assert ("stopping (after round 1): not yet: stabilising predictions need 4 rounds to compare, 2 more rounds"
            in words)
    again = run(["dvc", "repro"], repo)
    assert stages_run(again.stdout) == set() and (repo / FOLDER / "batch.csv").read_bytes() == given


@pytest.mark.parametrize(("edit", "message"), [
    (lambda b: b.assign(label=["2"] * (BATCH - 1) + ["Sports"], skip=[""] * BATCH), "unknown labels: "),
    (lambda b: b.iloc[1:].assign(label="2", skip=""), "rows missing from the file (deleted?), ids "),
    (lambda b: pd.concat([b.assign(label="2", skip=""), b.iloc[[1]].assign(label="3", skip="")]),
     "ids labeled twice with different labels: "),
    (lambda b: pd.concat([b.assign(label="2", skip=""), b.iloc[[1]].assign(id="pool-99999", label="2", skip="")]),
     "ids that are not in the batch: pool-99999"),
])
def test_bad_labels_after_a_finished_round_change_nothing(waiting, edit, message):
    repo, _ = waiting
    path = repo / FOLDER / "batch.csv"
    good = path.read_bytes()
    if not (repo / "data/rounds/1/labeled.parquet").exists():
        pytest.skip("needs the finished round of test_labels_given_the_run_goes_on_and_records_the_skip")
    before = snapshot(repo)
    edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    try:
        result = run(["dvc", "repro"], repo, check=False)
        assert result.returncode != 0 and message in result.stderr
        assert snapshot(repo) == before  # L1, U1, the model and the metrics of round 1 are all still there
    finally:
        path.write_bytes(good)
    assert stages_run(run(["dvc", "repro"], repo).stdout) <= {"merge-labels@0"}


def test_a_bad_input_file_is_refused_and_the_prepared_data_stays(waiting):
    repo, _ = waiting
    if not (repo / "metrics/curve.csv").exists():
        pytest.skip("needs the finished run of test_labels_given_the_run_goes_on_and_records_the_skip")
    before = snapshot(repo)
    seed_file = repo / "data/raw/seed.csv"
    good = seed_file.read_bytes()
    seed = pd.read_csv(seed_file, keep_default_na=False)
    seed.loc[3, ["Title", "Description"]] = ""
    seed.to_csv(seed_file, index=False)
    try:
        result = run(["dvc", "repro"], repo, check=False)
        # seed.csv's row 3 (0-based, like its id): line 5 of the file under its header
        message = "seed.csv: no text in Title, Description at line 5 (header = line 1; id seed-3)"
        assert result.returncode != 0 and message in result.stderr
        assert snapshot(repo) == before
    finally:
        seed_file.write_bytes(good)
