"""The batch a person sees is always the batch the pipeline selected, and no label given is lost: an
annotator changing and reverting answers (DVC then restores the next round's select from its run cache,
without running it), a deleted batch file, and `cartal repro` reading the wait for labels as a wait."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cartal.errors import LABELS_PENDING_EXIT
from cartal.io import artifacts as art
from projects import new_human_project, new_project, pool_gold_labels, run, stages_restored, stages_run

pytestmark = pytest.mark.slow
BATCH = 10


def batch_file(repo: Path, k: int) -> Path:
    return repo / f"annotations/round-{k}/batch.csv"


def answers(repo: Path, k: int) -> dict[str, str]:
    frame = pd.read_csv(batch_file(repo, k), dtype=str, keep_default_na=False)
    return {i: label or ("skip" if skip else "") for i, label, skip in zip(frame["id"], frame["label"], frame["skip"])}


def label(repo: Path, k: int, given: dict[str, str]) -> None:
    """Type ``given`` (id -> label, or "skip") into round k's batch file, as a person would."""
    path = batch_file(repo, k)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["label"] = [given.get(i, "") if given.get(i) != "skip" else "" for i in frame["id"]]
    frame["skip"] = ["yes" if given.get(i) == "skip" else "" for i in frame["id"]]
    frame.to_csv(path, index=False)


def selected(repo: Path, k: int) -> set[str]:
    return set(art.ids(art.read_table(repo / f"data/rounds/{k}/selected.parquet", art.SELECTED)))


def repro(repo: Path):
    """`cartal repro`, with the lines it printed last."""
    result = run(["cartal", "repro"], repo, check=False)
    return result, [line for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data) -> Path:
    # entropy: another label in round 0 gives another model and another batch in round 1, as the scenario needs
    return new_human_project(tmp_path_factory.mktemp("follows"), shared_data, batch_size=BATCH, epochs=3, rounds=2,
                             strategy="entropy")


def test_changed_and_reverted_answers_keep_every_label_and_the_selected_batch(project, shared_data):
    repo, gold = project, pool_gold_labels(shared_data)
    first, lines = repro(repo)
    assert first.returncode == LABELS_PENDING_EXIT, first.stderr
    assert lines[-1].startswith(f"waiting for labels: {BATCH} instances in annotations/round-0/batch.csv, "
                                "0 answered so far") and lines[-1].endswith("then `cartal repro`")
    assert "failed to reproduce" not in first.stderr  # DVC's crash-like line about the wait is left out
    round0 = {i: gold[i] for i in answers(repo, 0)}
    label(repo, 0, round0)
    second, lines = repro(repo)
    assert second.returncode == LABELS_PENDING_EXIT and "waiting for labels" in lines[-1]
    assert set(answers(repo, 1)) == selected(repo, 1)

    (batch_file(repo, 1)).unlink()  # deleted by mistake, before any label was typed
    again, lines = repro(repo)
    assert again.returncode == LABELS_PENDING_EXIT and stages_run(again.stdout) == {"merge-labels@1"}
    assert set(answers(repo, 1)) == selected(repo, 1) and "waiting for labels" in lines[-1]

    round1 = {i: gold[i] for i in answers(repo, 1)}
    label(repo, 1, round1)
    first_id = next(iter(round0))
    changed = dict(round0, **{first_id: "1" if round0[first_id] != "1" else "2"})  # the annotator changes an answer...
    label(repo, 0, changed)
    third, _ = repro(repo)
    assert third.returncode == LABELS_PENDING_EXIT, third.stderr
    other = selected(repo, 1)
    assert other != set(round1), "the scenario needs another selection of round 1 after the change"
    assert set(answers(repo, 1)) == other  # the batch file is the new selection...
    # ...with the answers given
    assert {i: a for i, a in answers(repo, 1).items() if a} == {i: round1[i] for i in other & set(round1)}
    assert len(list(batch_file(repo, 1).parent.glob("superseded-*.csv"))) == 1

    label(repo, 0, round0)  # ...and reverts it: DVC restores round 1's first selection from its run cache
    fourth, lines = repro(repo)
    assert fourth.returncode == 0, fourth.stderr
    assert "select@1" in stages_restored(fourth.stdout)  # the batch file is not written by a select that runs
    assert answers(repo, 1) == round1 and selected(repo, 1) == set(round1)
    labeled = art.read_table(repo / "data/rounds/2/labeled.parquet", art.LABELED).to_pandas().set_index("id")
    assert labeled.loc[list(round0 | round1), "label"].to_dict() == round0 | round1  # every label arrived
    assert lines[-1].startswith("finished: final test accuracy 0.") and "metrics/curve.png" in lines[-1]
    assert run(["cartal", "status"], repo).stdout.splitlines()[0].endswith("3 of 3 rounds evaluated")


def test_status_after_switching_the_oracle_describes_the_declared_pipeline(tmp_path, shared_data):
    repo = new_project(tmp_path, shared_data, rounds=1, epochs=3)
    run(["dvc", "repro"], repo)
    assert run(["cartal", "status"], repo).stdout.splitlines()[0].endswith("2 of 2 rounds evaluated")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(dict(params, oracle="human"), sort_keys=False))
    run(["cartal", "rounds", "1"], repo)
    status = run(["cartal", "status"], repo).stdout
    assert status.splitlines()[0].endswith("1 of 2 rounds evaluated")  # round 0 does not depend on the oracle
    assert "round 1: files of an earlier run, out of date" in status and "accuracy" in status
    waiting, lines = repro(repo)
    assert waiting.returncode == LABELS_PENDING_EXIT and lines[-1].startswith("waiting for labels: 50 instances")
    state = json.loads(run(["cartal", "status", "--json"], repo).stdout)
    assert state["rounds_evaluated"] == 1 and state["waiting"]["round"] == 0 and state["out_of_date_rounds"] == [1]
    gold = art.read_table(repo / "data/prepared/train.parquet", art.PREPARED).to_pandas().set_index("id")["label"]
    label(repo, 0, {i: gold[i] for i in answers(repo, 0)})
    done, lines = repro(repo)
    assert done.returncode == 0 and lines[-1].startswith("finished")
    state = json.loads(run(["cartal", "status", "--json"], repo).stdout)
    assert state["rounds_evaluated"] == 2 and state["out_of_date_rounds"] == [] and state["finished"]
