"""A human round's batch file: written once, never overwriting given labels, read back with every check."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cartal.annotation.batch import BATCH_FILE, EXPORT_FILE, TASKS_FILE, read_answers, write_batch
from cartal.errors import DataError, LabelsPendingError

LABELS = ("HUM", "LOC", "NUM")
BATCH = pd.DataFrame({"id": ["q1", "q2", "q3"], "text": ["Who wrote Hamlet ?", "Where is Rome ?", "How many legs ?"],
                      "suggestion": ["HUM", "HUM", "NUM"], "confidence": [0.9, 0.4, 0.7]})


@pytest.fixture
def folder(tmp_path):
    write_batch(tmp_path, BATCH, model_version="round 0", labels=LABELS)
    return tmp_path


def fill(folder, labels, skip=("", "", "")):
    frame = pd.read_csv(folder / BATCH_FILE, dtype=str, keep_default_na=False)
    frame["label"], frame["skip"] = list(labels), list(skip)
    frame.to_csv(folder / BATCH_FILE, index=False)


def test_the_batch_file_holds_texts_and_suggestions_and_empty_label_columns(folder):
    frame = pd.read_csv(folder / BATCH_FILE, dtype=str, keep_default_na=False)
    assert frame.columns.tolist() == ["id", "text", "suggestion", "confidence", "label", "skip"]
    assert frame["text"].tolist() == BATCH["text"].tolist() and (frame["label"] == "").all()
    tasks = json.loads((folder / TASKS_FILE).read_text())
    assert [task["data"]["id"] for task in tasks] == ["q1", "q2", "q3"]
    config = (folder / "label_config.xml").read_text()
    assert all(f'<Choice value="{label}"/>' in config for label in LABELS)


def test_nothing_filled_in_yet_means_waiting_with_what_to_do(folder):
    with pytest.raises(LabelsPendingError, match=r"3 instances wait for labels .*fill the 'label' column of "
                                                 r".*batch\.csv.*export\.json; then run `dvc repro` again"):
        read_answers(folder, BATCH["id"], LABELS)


def test_labels_and_a_deliberate_skip_are_read_back(folder):
    fill(folder, ["HUM", " LOC ", ""], skip=["", "", "yes"])
    answers = read_answers(folder, BATCH["id"], LABELS)
    assert answers.labels.to_dict() == {"q1": "HUM", "q2": "LOC"} and answers.skipped == ("q3",)


@pytest.mark.parametrize(("labels", "skip", "message"), [
    (["HUM", "PLACE", "NUM"], ["", "", ""], r"unknown labels: q2: 'PLACE' \(known labels: HUM, LOC, NUM\)"),
    (["HUM", "", "NUM"], ["", "", ""], r"ids with no label \(label them, or write yes under skip.*\): q2"),
    (["HUM", "LOC", "NUM"], ["", "", "yes"], r"ids both labeled and skipped: q3"),
])
def test_bad_answers_name_the_rows(folder, labels, skip, message):
    fill(folder, labels, skip)
    with pytest.raises(DataError, match=message):
        read_answers(folder, BATCH["id"], LABELS)


def test_a_skip_value_that_is_not_a_skip_word_is_refused_not_ignored(folder):
    fill(folder, ["HUM", "LOC", "NUM"], skip=["", "no", "maybe"])
    before = (folder / BATCH_FILE).read_bytes()
    with pytest.raises(DataError, match=r"skip column holds values that are not a skip word: q2: 'no', q3: 'maybe'; "
                                        r"write yes \(or x\) under skip"):
        read_answers(folder, BATCH["id"], LABELS)
    assert (folder / BATCH_FILE).read_bytes() == before
    fill(folder, ["HUM", "LOC", ""], skip=["", " ", "X"])  # blanks are empty, case is ignored
    assert read_answers(folder, BATCH["id"], LABELS).skipped == ("q3",)


def test_extra_ids_and_conflicting_duplicates_are_listed(folder):
    frame = pd.read_csv(folder / BATCH_FILE, dtype=str, keep_default_na=False)
    frame["label"] = ["HUM", "LOC", "NUM"]
    extra = pd.DataFrame([{**frame.iloc[0].to_dict(), "label": "LOC"},
                          {**frame.iloc[1].to_dict(), "id": "q9"}])
    pd.concat([frame, extra]).to_csv(folder / BATCH_FILE, index=False)
    with pytest.raises(DataError, match=r"ids that are not in the batch: q9.*labeled twice with different labels: "
                                        r"q1 \(HUM, LOC\)"):
        read_answers(folder, BATCH["id"], LABELS)


def test_a_repeated_identical_label_is_fine(folder):
    frame = pd.read_csv(folder / BATCH_FILE, dtype=str, keep_default_na=False)
    frame["label"] = ["HUM", "LOC", "NUM"]
    pd.concat([frame, frame.iloc[[0]]]).to_csv(folder / BATCH_FILE, index=False)
    assert read_answers(folder, BATCH["id"], LABELS).labels.to_dict() == {"q1": "HUM", "q2": "LOC", "q3": "NUM"}


def test_writing_the_same_batch_again_keeps_the_labels_given(folder):
    fill(folder, ["HUM", "LOC", "NUM"])
    before = (folder / BATCH_FILE).read_bytes()
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)
    assert (folder / BATCH_FILE).read_bytes() == before


def test_a_different_batch_keeps_the_old_labels_aside(folder):
    fill(folder, ["HUM", "LOC", "NUM"])
    before = (folder / BATCH_FILE).read_bytes()
    write_batch(folder, BATCH.assign(id=["q4", "q5", "q6"]), model_version="round 0", labels=LABELS)
    aside = list(folder.glob("superseded-*.csv"))
    assert len(aside) == 1 and aside[0].read_bytes() == before
    assert pd.read_csv(folder / BATCH_FILE)["id"].tolist() == ["q4", "q5", "q6"]


def test_a_label_studio_export_takes_precedence(folder):
    fill(folder, ["HUM", "LOC", "NUM"])
    export = [
        {"id": 1, "data": {"id": "q1", "text": "Who wrote Hamlet ?"},
         "annotations": [{"was_cancelled": False, "created_at": "2026-11-27T10:00:00Z",
                          "result": [{"type": "choices", "from_name": "label", "to_name": "text",
                                      "value": {"choices": ["HUM"]}}]}]},
        {"id": 2, "data": {"id": "q2", "text": "Where is Rome ?"},
         "annotations": [{"was_cancelled": False, "created_at": "2026-11-27T10:00:00Z",
                          "result": [{"type": "choices", "from_name": "label", "to_name": "text",
                                      "value": {"choices": ["NUM"]}}]}]},
        {"id": 3, "data": {"id": "q3", "text": "How many legs ?"},
         "annotations": [{"was_cancelled": True, "created_at": "2026-11-27T10:00:00Z", "result": []}]},
    ]
    (folder / EXPORT_FILE).write_text(json.dumps(export))
    answers = read_answers(folder, BATCH["id"], LABELS)
    assert answers.labels.to_dict() == {"q1": "HUM", "q2": "NUM"} and answers.skipped == ("q3",)
    assert answers.source.endswith(EXPORT_FILE)


def test_a_corrupt_export_or_batch_file_is_named(folder):
    (folder / EXPORT_FILE).write_text("{not json")
    with pytest.raises(DataError, match=r"export\.json: not a Label Studio JSON export"):
        read_answers(folder, BATCH["id"], LABELS)
    (folder / EXPORT_FILE).unlink()
    (folder / BATCH_FILE).write_text("id,text\nq1,x\n")
    with pytest.raises(DataError, match=r"batch\.csv: columns label, skip missing"):
        read_answers(folder, BATCH["id"], LABELS)
