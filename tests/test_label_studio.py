"""Label Studio for human rounds: the labeling config, the tasks to import, the labels read back.

The unit tests run on hand-made data. The one marked ``label_studio`` drives a real Label Studio
server on localhost: it needs ``CARTAL_LABEL_STUDIO``, the path of the ``label-studio`` executable of
a virtualenv of its own (``export CARTAL_LABEL_STUDIO=$(.ci/label-studio.sh | tail -1)``), and is
skipped without it; ``CARTAL_LABEL_STUDIO_TIMEOUT`` (seconds, default 120) bounds the wait for its
start (the server fixture is tests/label_studio_server.py's). It carries the files by hand, over plain
HTTP, as a user does without `label_studio.url`; tests/test_label_studio_live.py drives the same server
through cartal's own client.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from cartal.annotation.label_studio import labeling_config, labels_from_export, tasks_from_batch
from cartal.errors import DataError

LABELS = ["DESC", "ENTY", "HUM", 'Q&A "odd" <label>']
BATCH = pd.DataFrame({
    "id": ["t1", "t2", "t3", "t4", "t5"],
    "text": ["What is a cat?", "Who wrote Hamlet?", "Name a tree.", "Why & how?", "What's <this>?"],
    "suggestion": ["DESC", "HUM", "ENTY", 'Q&A "odd" <label>', "DESC"],
    "confidence": [0.91, 0.55, 0.42, 0.66, 0.30],
})


def _choice(label: str, from_name: str = "label") -> dict:
    return {"from_name": from_name, "to_name": "text", "type": "choices", "value": {"choices": [label]}}


def _annotation(ann_id: int, result: list, updated_at: str, cancelled: bool = False) -> dict:
    return {"id": ann_id, "result": result, "was_cancelled": cancelled,
            "created_at": updated_at, "updated_at": updated_at}


def _task(task_id: int, data_id, annotations: list) -> dict:
    data = {"text": "some text"} if data_id is None else {"id": data_id, "text": "some text"}
    return {"id": task_id, "data": data, "annotations": annotations, "drafts": [], "predictions": [task_id]}


# -- labeling_config -------------------------------------------------------------------------------

def test_labeling_config_lists_every_label_and_parses_as_xml():
    root = ET.fromstring(labeling_config(LABELS))
    assert root.tag == "View"
    (text,) = root.iter("Text")
    assert text.attrib == {"name": "text", "value": "$text"}
    (choices,) = root.iter("Choices")
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == ("label", "text", "single")
    assert [c.get("value") for c in choices.iter("Choice")] == LABELS  # escaped, and read back as given


def test_labeling_config_keeps_whitespace_in_labels():
    labels = ["two\nlines", "tab\there", " padded "]
    values = [c.get("value") for c in ET.fromstring(labeling_config(labels)).iter("Choice")]
    assert values == labels


@pytest.mark.parametrize("labels, words", [([], "no labels"), (["a", ""], "not non-empty"),
                                           (["a", "b", "a"], "listed twice: a")])
def test_labeling_config_rejects_unusable_label_sets(labels, words):
    with pytest.raises(DataError, match=words):
        labeling_config(labels)


# -- tasks_from_batch ------------------------------------------------------------------------------

def test_tasks_carry_id_text_and_the_suggestion_as_a_scored_prediction():
    tasks = tasks_from_batch(BATCH, model_version="round-3")
    assert len(tasks) == 5
    for task, row in zip(tasks, BATCH.itertuples()):
        assert task["data"] == {"id": row.id, "text": row.text,
                                "why": f"The model suggests {row.suggestion} ({row.confidence:.0%} confident)"}
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "round-3"
        assert prediction["score"] == pytest.approx(row.confidence)
        assert prediction["result"] == [_choice(row.suggestion)]
    json.dumps(tasks, allow_nan=False)  # plain JSON: no numpy scalars, no NaN


PICKED = BATCH.assign(rank=[1, 2, 3, 11, 22], score=[2.5, 1.75, 0.125, -0.5, 0.0], picked_by="entropy")


def test_tasks_show_the_annotator_why_the_strategy_picked_each_instance():
    tasks = tasks_from_batch(PICKED, model_version="round-3")
    assert [t["data"]["why"] for t in tasks] == [
        "Picked 1st of 5 by entropy, score 2.5; the model suggests DESC (91% confident)",
        "Picked 2nd of 5 by entropy, score 1.75; the model suggests HUM (55% confident)",
        "Picked 3rd of 5 by entropy, score 0.125; the model suggests ENTY (42% confident)",
        'Picked 11th of 5 by entropy, score -0.5; the model suggests Q&A "odd" <label> (66% confident)',
        "Picked 22nd of 5 by entropy, score 0; the model suggests DESC (30% confident)",
    ]
    # the strategy's rank and acquisition score are task fields: Label Studio's data manager sorts by them
    assert [(t["data"]["rank"], t["data"]["score"], t["data"]["picked_by"]) for t in tasks] == list(
        zip(PICKED["rank"], PICKED["score"], PICKED["picked_by"]))
    assert [t["predictions"][0]["score"] for t in tasks] == list(PICKED["confidence"])  # the model's, not the pick's
    json.dumps(tasks, allow_nan=False)
    header = ET.fromstring(labeling_config(LABELS)).find("Header")
    assert header.get("value") == "$why"  # the labeling interface shows the line above the text


def test_a_pick_without_a_rank_or_a_finite_score_is_named():
    batch = PICKED.copy()
    batch.loc[0, "rank"] = None
    batch.loc[3, "score"] = math.nan
    batch.loc[4, "score"] = math.inf
    with pytest.raises(DataError) as error:
        tasks_from_batch(batch, "m")
    assert "no rank for ids t1" in str(error.value) and "no score for ids t4" in str(error.value)
    assert "score not a finite number for ids t5" in str(error.value)


def test_tasks_turn_ids_into_strings_and_numbers_into_floats():
    batch = pd.DataFrame({"id": [7, 8], "text": ["a", "b"], "suggestion": ["x", "y"], "confidence": [1, 0]})
    tasks = tasks_from_batch(batch, "m")
    assert [t["data"]["id"] for t in tasks] == ["7", "8"]
    assert all(type(t["predictions"][0]["score"]) is float for t in tasks)


def test_tasks_from_a_batch_without_a_column_name_it():
    with pytest.raises(DataError, match="missing columns confidence"):
        tasks_from_batch(BATCH.drop(columns="confidence"), "m")


def test_tasks_from_a_bad_batch_name_the_ids():
    batch = BATCH.copy()
    batch.loc[1, "suggestion"] = None
    batch.loc[2, "confidence"] = math.inf
    batch.loc[4, "id"] = "t1"
    with pytest.raises(DataError) as error:
        tasks_from_batch(batch, "m")
    message = str(error.value)
    assert "no suggestion for ids t2" in message
    assert "confidence not a finite number for ids t3" in message
    assert "ids listed twice: t1" in message


# -- labels_from_export ----------------------------------------------------------------------------

EXPORT = [
    _task(1, "labeled", [_annotation(1, [_choice("HUM")], "2025-03-01T10:00:00.000000Z")]),
    _task(2, "skipped", [_annotation(2, [], "2025-03-01T10:01:00Z", cancelled=True)]),
    # labeled twice: the second one, updated last, wins, whatever the order in the export
    _task(3, "relabeled", [_annotation(5, [_choice("ENTY")], "2025-03-01T12:00:00.5Z"),
                           _annotation(3, [_choice("DESC")], "2025-03-01T11:00:00Z")]),
    _task(4, "missing", []),
    # skipped after a label: the label stands
    _task(5, "labeled then skipped", [_annotation(6, [_choice("DESC")], "2025-03-01T10:00:00Z"),
                                      _annotation(7, [], "2025-03-02T10:00:00Z", cancelled=True)]),
]


def test_labels_from_export_follow_the_rules():
    labels = labels_from_export(EXPORT, "export.json")
    assert list(labels.columns) == ["id", "label", "skipped"]
    assert labels["skipped"].dtype == bool
    got = {row.id: (row.label, row.skipped) for row in labels.itertuples()}
    assert got == {"labeled": ("HUM", False), "skipped": (None, True), "relabeled": ("ENTY", False),
                   "missing": (None, False), "labeled then skipped": ("DESC", False)}
    assert labels["id"].tolist() == sorted(got)


def test_latest_is_by_time_not_by_annotation_id():
    task = _task(1, "x", [_annotation(9, [_choice("DESC")], "2025-01-01T00:00:00Z"),
                          _annotation(2, [_choice("HUM")], "2025-01-02T00:00:00+00:00")])
    assert labels_from_export([task], "e")["label"].tolist() == ["HUM"]


def test_updated_at_wins_over_created_at():
    old = {"id": 1, "result": [_choice("DESC")], "was_cancelled": False,
           "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-05T00:00:00Z"}
    new = {"id": 2, "result": [_choice("HUM")], "was_cancelled": False, "created_at": "2025-01-03T00:00:00Z"}
    assert labels_from_export([_task(1, "x", [old, new])], "e")["label"].tolist() == ["DESC"]


def test_regions_of_other_controls_are_ignored():
    comment = {"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": ["hm"]}}
    task = _task(1, "x", [_annotation(1, [comment, _choice("HUM")], "2025-01-01T00:00:00Z")])
    assert labels_from_export([task], "e")["label"].tolist() == ["HUM"]


def test_an_empty_export_gives_an_empty_table():
    labels = labels_from_export([], "e")
    assert labels.empty and list(labels.columns) == ["id", "label", "skipped"]


def test_a_task_without_data_id_is_named():
    with pytest.raises(DataError, match=r"round-2\.json: .*tasks without data\.id.*task 42"):
        labels_from_export([_task(42, None, [])], "round-2.json")


def test_an_annotation_with_several_choices_is_named():
    two = {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["DESC", "HUM"]}}
    with pytest.raises(DataError, match=r"round-2\.json: .*several choices for tasks t9"):
        labels_from_export([_task(1, "t9", [_annotation(1, [two], "2025-01-01T00:00:00Z")])], "round-2.json")


def test_two_choice_regions_count_as_several_choices():
    regions = [_choice("DESC"), _choice("HUM")]
    with pytest.raises(DataError, match="several choices for tasks t9"):
        labels_from_export([_task(1, "t9", [_annotation(1, regions, "2025-01-01T00:00:00Z")])], "e")


@pytest.mark.parametrize("result", [[], [{"from_name": "label", "to_name": "text", "type": "choices",
                                          "value": {"choices": []}}]])
def test_a_result_without_a_choice_is_named(result):
    with pytest.raises(DataError, match=r"round-2\.json: .*without a choice for tasks t7"):
        labels_from_export([_task(1, "t7", [_annotation(1, result, "2025-01-01T00:00:00Z")])], "round-2.json")


@pytest.mark.parametrize("annotations", [
    [_annotation(1, 5, "2025-01-01T00:00:00Z")],  # a result that is a number
    [_annotation(1, [{**_choice("x"), "value": {"choices": "DESC"}}], "2025-01-01T00:00:00Z")],  # not a list
    [_annotation(1, [{**_choice("x"), "value": {"choices": [3]}}], "2025-01-01T00:00:00Z")],  # not a string
    {"result": []},  # annotations that are not a list
])
def test_an_annotation_not_shaped_as_label_studio_writes_it_is_named(annotations):
    export = [_task(1, "t8", annotations), _task(2, "t9", [_annotation(2, [_choice("HUM")], "2025-01-01T00:00:00Z")])]
    with pytest.raises(DataError, match=r"round-2\.json: annotations not shaped as Label Studio writes them .* "
                                        r"for tasks t8; fix these tasks"):
        labels_from_export(export, "round-2.json")


def test_only_the_annotation_used_is_checked():
    superseded = _annotation(1, [], "2025-01-01T00:00:00Z")  # no choice, but a later one replaces it
    task = _task(1, "x", [superseded, _annotation(2, [_choice("HUM")], "2025-01-02T00:00:00Z")])
    assert labels_from_export([task], "e")["label"].tolist() == ["HUM"]


def test_every_problem_is_reported_at_once():
    export = [_task(1, None, []), _task(2, "t2", [_annotation(1, [], "2025-01-01T00:00:00Z")]),
              _task(3, "t3", []), _task(4, "t3", [])]
    with pytest.raises(DataError) as error:
        labels_from_export(export, "e")
    message = str(error.value)
    assert "task 1" in message and "without a choice for tasks t2" in message
    assert "ids held by several tasks: t3" in message


def test_a_label_outside_the_config_is_named_when_labels_are_given():
    task = _task(1, "t4", [_annotation(1, [_choice("NOPE")], "2025-01-01T00:00:00Z")])
    assert labels_from_export([task], "e")["label"].tolist() == ["NOPE"]
    with pytest.raises(DataError, match=r"not in the labeling config for tasks t4 \('NOPE'\)"):
        labels_from_export([task], "e", labels=LABELS)


def test_an_export_that_is_not_a_list_is_refused():
    with pytest.raises(DataError, match="not a Label Studio JSON export"):
        labels_from_export({"tasks": []}, "e")


def test_no_label_studio_import():
    code = ("import sys, cartal.annotation.label_studio; "
            "sys.exit(any(m.split('.')[0] in ('label_studio', 'label_studio_sdk') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- a real Label Studio server --------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.label_studio
def test_a_round_through_a_real_label_studio(label_studio):
    ls = label_studio
    project = ls.call("POST", "/api/projects", {"title": "cartal round 1", "label_config": labeling_config(LABELS)})
    assert [c.get("value") for c in ET.fromstring(project["label_config"]).iter("Choice")] == LABELS

    imported = ls.call("POST", f"/api/projects/{project['id']}/import", tasks_from_batch(BATCH, "round-1"))
    assert (imported["task_count"], imported["prediction_count"]) == (5, 5)
    listed = ls.call("GET", f"/api/tasks?project={project['id']}&page_size=100")
    task_of = {task["data"]["id"]: task["id"] for task in listed["tasks"]}
    assert sorted(task_of) == sorted(BATCH["id"])

    def annotate(data_id: str, label: str | None):
        result = [] if label is None else [_choice(label)]
        ls.call("POST", f"/api/tasks/{task_of[data_id]}/annotations/",
                {"result": result, "was_cancelled": label is None})

    annotate("t1", "DESC")       # accepts the suggestion
    annotate("t2", "ENTY")       # overrides it ...
    annotate("t3", "HUM")
    annotate("t4", 'Q&A "odd" <label>')
    annotate("t2", "HUM")        # ... and changes its mind: a later annotation of the same task
    annotate("t5", None)         # Skip

    export = ls.call("GET", f"/api/projects/{project['id']}/export?exportType=JSON&download_all_tasks=true")
    by_id = {task["data"]["id"]: task for task in export}
    assert [len(by_id[i]["annotations"]) for i in BATCH["id"]] == [1, 2, 1, 1, 1]
    labels = labels_from_export(export, f"Label Studio project {project['id']}", labels=LABELS)
    got = {row.id: (row.label, row.skipped) for row in labels.itertuples()}
    assert got == {"t1": ("DESC", False), "t2": ("HUM", False), "t3": ("HUM", False),
                   "t4": ('Q&A "odd" <label>', False), "t5": (None, True)}
