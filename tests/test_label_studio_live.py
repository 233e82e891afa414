"""A human round through a live Label Studio (cartal.annotation.live): the batch pushed once as tasks, labeled
through the API as an annotator would, pulled and merged; a server that is down or a wrong token named, with
the round left as it was. Every test drives the real server of tests/label_studio_server.py (no mock): they
are skipped without CARTAL_LABEL_STUDIO (``export CARTAL_LABEL_STUDIO=$(.ci/label-studio.sh | tail -1)``)."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from browser import label_studio_line, needs_chromium
from cartal.annotation import live
from cartal.annotation.batch import answers_from_tasks
from cartal.errors import LABELS_PENDING_EXIT, LabelsPendingError
from cartal.io import artifacts as art
from cartal.params import LabelStudioParams
from label_studio_server import PASSWORD, TOKEN, USER
from projects import new_human_project, pool_gold_labels, run, snapshot, stages_run

pytestmark = pytest.mark.label_studio
ENV = "CARTAL_TEST_LS_TOKEN"
LABELS = ("DESC", "ENTY", "HUM", 'Q&A "odd" <label>')
BATCH = pd.DataFrame({
    "id": ["t1", "t2", "t3", "t4", "t5"],
    "text": ["What is a cat?", "Who wrote Hamlet?", "Name a tree.", "Why & how?", "What's <this>?"],
    "suggestion": ["DESC", "HUM", "ENTY", 'Q&A "odd" <label>', "DESC"],
    "confidence": [0.91, 0.55, 0.42, 0.66, 0.30],
})


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(ENV, TOKEN)
    return TOKEN


def _settings(server, project: str, **changes) -> LabelStudioParams:
    return LabelStudioParams(**{"url": server.url, "project": project, "token_env": ENV, **changes})


def _annotator(server):
    """The SDK as an annotator's script would use it."""
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=server.url, api_key=TOKEN)


def _annotate(client, project_id: int, answers: dict[str, str | None]) -> None:
    """Submit an annotation per data id of ``answers``: a label, or None for Skip (a cancelled annotation)."""
    task_of = {task.data["id"]: task.id for task in client.tasks.list(project=project_id)}
    for data_id, label in answers.items():
        result = [] if label is None else [{"from_name": "label", "to_name": "text", "type": "choices",
                                            "value": {"choices": [label]}}]
        client.annotations.create(id=task_of[data_id], result=result, was_cancelled=label is None)


def _closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: a connection is refused at once
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the library: push, pull, errors -------------------------------------------------------------------

def test_push_creates_the_project_and_a_rerun_pushes_nothing_twice(label_studio_for_module, token):
    settings = _settings(label_studio_for_module, "push twice")
    project, pushed = live.push(settings, BATCH, "round 0 (cartography)", LABELS)
    assert pushed == 5 and sorted(t["data"]["id"] for t in project.tasks) == list(BATCH["id"])
    task = next(t for t in project.tasks if t["data"]["id"] == "t4")
    assert task["data"]["text"] == "Why & how?"
    (prediction,) = _annotator(label_studio_for_module).predictions.list(task=task["id"])  # the suggestion
    assert prediction.score == pytest.approx(0.66) and prediction.model_version == "round 0 (cartography)"
    assert prediction.result[0]["value"]["choices"] == ['Q&A "odd" <label>']  # as a pre-annotation, its score shown
    again, pushed = live.push(settings, BATCH, "round 0 (cartography)", LABELS)
    assert pushed == 0 and again.id == project.id and len(again.tasks) == 5
    # a batch of a later round joins the same project; the ids already there are not pushed again
    later = pd.concat([BATCH.iloc[[0]], BATCH.iloc[[1]].assign(id="t6")])
    third, pushed = live.push(settings, later, "round 1 (cartography)", LABELS)
    assert pushed == 1 and len(third.tasks) == 6
    config = _annotator(label_studio_for_module).projects.get(id=project.id).label_config
    assert [c.get("value") for c in ET.fromstring(config).iter("Choice")] == list(LABELS)


def test_labels_given_through_the_api_come_back_once_each(label_studio_for_module, token):
    settings = _settings(label_studio_for_module, "pull")
    assert live.progress(settings, BATCH["id"])["tasks"] == 0  # no project yet: nothing pushed, not an error
    with pytest.raises(live.LabelStudioError, match="no project titled 'pull'"):
        live.pull(settings, LABELS)
    project, _ = live.push(settings, BATCH, "m", LABELS)
    pending = "5 wait"
    with pytest.raises(LabelsPendingError, match=pending):
        answers_from_tasks(live.pull(settings, LABELS).tasks_of(BATCH["id"]), BATCH["id"], LABELS, "s", pending)
    client = _annotator(label_studio_for_module)
    _annotate(client, project.id, {"t1": "DESC", "t2": "ENTY", "t3": "HUM"})
    assert live.progress(settings, BATCH["id"]) == {"project": "pull", "url": settings.url, "tasks": 5,
                                                    "labeled": 3, "skipped": 0}
    with pytest.raises(LabelsPendingError, match=r"3 of 5 answered, ids with no label \(label them there, or Skip "
                                                 r"them to leave them out\): t4, t5"):  # labeled in part: a wait
        answers_from_tasks(live.pull(settings, LABELS).tasks_of(BATCH["id"]), BATCH["id"], LABELS, "s", pending)
    _annotate(client, project.id, {"t4": 'Q&A "odd" <label>', "t5": None, "t2": "HUM"})  # t2: changes its mind
    answers = answers_from_tasks(live.pull(settings, LABELS).tasks_of(BATCH["id"]), BATCH["id"], LABELS, "s", "")
    assert answers.labels.to_dict() == {"t1": "DESC", "t2": "HUM", "t3": "HUM", "t4": 'Q&A "odd" <label>'}
    assert answers.skipped == ("t5",)
    assert live.progress(settings, BATCH["id"])["labeled"] == 4


def test_a_project_of_other_labels_is_refused(label_studio_for_module, token):
    settings = _settings(label_studio_for_module, "other labels")
    live.push(settings, BATCH, "m", LABELS)
    with pytest.raises(live.LabelStudioError, match=r"labels with DESC, ENTY, .*the dataset with A, B"):
        live.push(settings, BATCH.assign(suggestion="A"), "m", ("A", "B"))


def test_a_field_the_server_refuses_is_named(label_studio_for_module, token):
    with pytest.raises(live.LabelStudioError, match=r"answered 400: Validation error \(title: Ensure this field has "
                                                    r"at least 3 characters.\)"):
        live.push(_settings(label_studio_for_module, "ab"), BATCH, "m", LABELS)


def test_a_server_that_is_down_is_named(token):
    settings = LabelStudioParams(url=f"http://127.0.0.1:{_closed_port()}", project="p", token_env=ENV)
    with pytest.raises(live.LabelStudioError, match=rf"Label Studio at {settings.url} cannot be reached .*start the "
                                                    r"server, or correct label_studio.url in params.yaml"):
        live.push(settings, BATCH, "m", LABELS)


def test_without_the_sdk_a_live_round_says_what_to_install(token, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "label_studio_sdk", None)  # as if `cartal[label-studio]` were not installed
    settings = LabelStudioParams(url=f"http://127.0.0.1:{_closed_port()}", project="p", token_env=ENV)
    with pytest.raises(live.LabelStudioError, match=r"SDK is not installed .*pip install 'cartal\[label-studio\]'"):
        live.push(settings, BATCH, "m", LABELS)


def test_a_wrong_or_missing_token_is_named(label_studio_for_module, monkeypatch):
    settings = _settings(label_studio_for_module, "tokens")
    monkeypatch.setenv(ENV, "not-the-token")
    with pytest.raises(live.LabelStudioError, match=rf"refused the API token in {ENV} \(401.*set {ENV} to a valid"):
        live.push(settings, BATCH, "m", LABELS)
    monkeypatch.delenv(ENV)
    with pytest.raises(live.LabelStudioError, match=rf"the environment variable {ENV} that holds the API token is "
                                                    rf"not set: export {ENV}=<your token>"):
        live.push(settings, BATCH, "m", LABELS)


# -- a human round of the pipeline ---------------------------------------------------------------------

ROUND = 10
FOLDER = "annotations/round-0"


def _files(repo: Path) -> dict[str, bytes]:
    """The round's batch files and every artifact: what a refused run must leave as it was."""
    return {**snapshot(repo), **{str(p): p.read_bytes() for p in sorted((repo / FOLDER).glob("*"))}}


@pytest.fixture(scope="module")
def waiting(tmp_path_factory, shared_data, label_studio_for_module):
    """A human project whose params point at the server: `dvc repro` pushes round 0's batch and waits."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV, TOKEN)
        repo = tmp_path_factory.mktemp("live")
        new_human_project(repo, shared_data, batch_size=ROUND, epochs=3,
                          label_studio={"url": label_studio_for_module.url, "project": "round trip",
                                        "token_env": ENV})
        first = run(["cartal", "repro"], repo, check=False)
        yield repo, first, label_studio_for_module


def _project_id(client, title: str) -> int:
    (project,) = [p for p in client.projects.list(title=title) if p.title == title]
    return project.id


@pytest.mark.slow
def test_the_round_waits_with_its_batch_in_label_studio(waiting, token):
    repo, first, server = waiting
    assert first.returncode == LABELS_PENDING_EXIT, first.stderr[-3000:]
    assert f"{ROUND} instances of round 0 wait for labels in Label Studio project 'round trip'" in first.stderr
    client = _annotator(server)
    tasks = list(client.tasks.list(project=_project_id(client, "round trip")))
    batch = pd.read_csv(repo / FOLDER / "batch.csv", dtype=str, keep_default_na=False)  # the files are there too
    assert sorted(t.data["id"] for t in tasks) == sorted(batch["id"]) and len(tasks) == ROUND
    # the annotator sees why each instance is there: the strategy's rank and acquisition score, from select
    selected = art.read_table(repo / "data/rounds/0/selected.parquet", art.SELECTED).to_pandas().set_index("id")
    for task in tasks:
        picked = selected.loc[task.data["id"]]
        assert (task.data["rank"], task.data["score"], task.data["picked_by"]) == (
            picked["rank"], pytest.approx(picked["score"]), picked["picked_by"])
        said = f"of {ROUND} by {picked['picked_by']}, score {picked['score']:.4g}; the model suggests"
        assert task.data["why"].startswith(f"Picked {picked['rank']}") and said in task.data["why"]
    config = client.projects.get(id=_project_id(client, "round trip")).label_config
    assert ET.fromstring(config).find("Header").get("value") == "$why"
    status = run(["cartal", "status"], repo).stdout
    assert (f"waiting for labels: {ROUND} instances in Label Studio project 'round trip' at {server.url}, "
            "0 labeled and 0 skipped so far") in status


@pytest.mark.slow
@needs_chromium
def test_the_annotator_sees_why_the_strategy_picked_the_instance(waiting, token, tmp_path):
    repo, _, server = waiting
    client = _annotator(server)
    project_id = _project_id(client, "round trip")
    task = next(t for t in client.tasks.list(project=project_id) if t.data["rank"] == 1)
    shown = label_studio_line(server.url, USER, PASSWORD, f"/projects/{project_id}/data?task={task.id}", "Picked 1st",
                              screenshot=tmp_path / "task.png")
    assert shown == task.data["why"]  # the line above the text, as the annotator sees it
    assert f" by {task.data['picked_by']}, score " in shown and "; the model suggests " in shown
    assert (tmp_path / "task.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["down", "wrong token"])
def test_a_server_down_or_a_wrong_token_leaves_the_round_as_it_was(waiting, problem, monkeypatch):
    repo, _, server = waiting
    params_file = repo / "params.yaml"
    good = params_file.read_text()
    before = _files(repo)
    monkeypatch.setenv(ENV, TOKEN)
    if problem == "down":
        params = yaml.safe_load(good)
        params["label_studio"]["url"] = url = f"http://127.0.0.1:{_closed_port()}"
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        message = f"Label Studio at {url} cannot be reached"
    else:
        monkeypatch.setenv(ENV, "not-the-token")
        message = f"Label Studio at {server.url} refused the API token in {ENV}"
    try:
        result = run(["cartal", "merge-labels", "0"], repo, check=False)
        assert result.returncode == 1 and message in result.stderr, result.stderr[-3000:]
        assert _files(repo) == before
        assert "not read (Label Studio at" in run(["cartal", "status"], repo).stdout
    finally:
        params_file.write_text(good)


@pytest.mark.slow
def test_labels_given_in_label_studio_are_merged_once_and_nothing_else_changes(waiting, shared_data, token):
    repo, _, server = waiting
    client = _annotator(server)
    project_id = _project_id(client, "round trip")
    batch = pd.read_csv(repo / FOLDER / "batch.csv", dtype=str, keep_default_na=False)
    gold = pool_gold_labels(shared_data)
    ids = batch["id"].tolist()
    answers = {i: gold[i] for i in ids[1:]} | {ids[0]: None}  # one skipped
    _annotate(client, project_id, answers)
    labeled_0 = art.read_table(repo / "data/rounds/0/labeled.parquet", art.LABELED).to_pandas()
    pool_0 = art.ids(art.read_table(repo / "data/rounds/0/pool.parquet", art.POOL))
    assert f"round 0's batch is answered in Label Studio project 'round trip' at {server.url} ({ROUND - 1} labeled, " \
           "1 skipped)" in run(["cartal", "status"], repo).stdout

    done = run(["cartal", "repro"], repo)
    assert {"merge-labels@0", "train-seed@1", "evaluate@1"} <= stages_run(done.stdout)
    labeled_1 = art.read_table(repo / "data/rounds/1/labeled.parquet", art.LABELED).to_pandas()
    new = labeled_1[~labeled_1["id"].isin(labeled_0["id"])]
    assert sorted(new["id"]) == sorted(ids[1:]) and not new["id"].duplicated().any()  # every label once
    assert dict(zip(new["id"], new["label"])) == {i: gold[i] for i in ids[1:]}
    kept = labeled_1[labeled_1["id"].isin(labeled_0["id"])]  # L0 as it was
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), labeled_0.reset_index(drop=True), check_like=True)
    assert len(labeled_1) == len(labeled_0) + ROUND - 1
    pool_1 = art.ids(art.read_table(repo / "data/rounds/1/pool.parquet", art.POOL))
    assert sorted(pool_1) == sorted(set(pool_0) - set(ids))
    skipped = art.read_table(repo / "data/rounds/1/skipped.parquet", art.SKIPPED).to_pandas()
    assert skipped["id"].tolist() == [ids[0]]
    export = json.loads((repo / FOLDER / "export.json").read_text())  # the labels, kept beside the batch for git
    assert sorted(t["data"]["id"] for t in export) == sorted(ids)

    again = run(["cartal", "repro"], repo)
    assert stages_run(again.stdout) == set()
    forced = run(["dvc", "repro", "--force", "--single-item", "rounds/0/dvc.yaml:merge-labels"], repo)
    assert "merge-labels@0" in stages_run(forced.stdout)
    assert len(list(client.tasks.list(project=project_id))) == ROUND  # nothing pushed twice
    relabeled = art.read_table(repo / "data/rounds/1/labeled.parquet", art.LABELED).to_pandas()
    pd.testing.assert_frame_equal(relabeled, labeled_1)
