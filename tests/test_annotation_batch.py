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
                                                 r".*batch\.csv.*export\.json; then run `cartal repro` again"):
        read_answers(folder, BATCH["id"], LABELS)


def test_a_batch_labeled_in_part_still_waits_naming_what_is_left(folder):
    fill(folder, ["HUM", "", "NUM"])
    with pytest.raises(LabelsPendingError, match=r"batch\.csv: 2 of 3 answered, ids with no label \(label them, "
                                                 r"or write yes under skip to leave them out\): q2; "
                                                 r"then run `cartal repro`"):
        read_answers(folder, BATCH["id"], LABELS)


def test_labels_and_a_deliberate_skip_are_read_back(folder):
    fill(folder, ["HUM", " LOC ", ""], skip=["", "", "yes"])
    answers = read_answers(folder, BATCH["id"], LABELS)
    assert answers.labels.to_dict() == {"q1": "HUM", "q2": "LOC"} and answers.skipped == ("q3",)


@pytest.mark.parametrize(("labels", "skip", "message"), [
    (["HUM", "PLACE", "NUM"], ["", "", ""], r"unknown labels: q2: 'PLACE' \(known labels: HUM, LOC, NUM\)"),
    (["HUM", "LOC", "NUM"], ["", "", "yes"], r"ids both labeled and skipped: q3"),
])
def test_bad_answers_name_the_rows(folder, labels, skip, message):
    fill(folder, labels, skip)
    with pytest.raises(DataError, match=message):
        read_answers(folder, BATCH["id"], LABELS)


def answers(folder) -> pd.DataFrame:
    """The batch file as the pipeline wrote it, every row labeled, with texts holding a spreadsheet's delimiters."""
    frame = pd.read_csv(folder / BATCH_FILE, dtype=str, keep_default_na=False)
    return frame.assign(text=["Who wrote Hamlet, the play ?", "Où est Rome; en Italie ?",
                              "How many legs\tdo ants have ?"],
                        label=["HUM", "LOC", "NUM"])


def refused(folder, error, match) -> str:
    """read_answers must refuse with ``match`` and leave every file of the folder as it was."""
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    with pytest.raises(error, match=match) as info:
        read_answers(folder, BATCH["id"], LABELS)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    return str(info.value)


@pytest.mark.parametrize("options", [
    {"sep": ";"},  # Excel's "CSV" where the decimal separator is a comma
    {"sep": ";", "encoding": "utf-8-sig", "lineterminator": "\r\n"},  # Excel's "CSV UTF-8" there
    {"encoding": "utf-8-sig", "lineterminator": "\r\n"},  # Excel's "CSV UTF-8" elsewhere
    {"sep": "\t"},
])
def test_what_a_spreadsheet_saves_is_read(folder, options):
    answers(folder).to_csv(folder / BATCH_FILE, index=False, **options)
    assert read_answers(folder, BATCH["id"], LABELS).labels.to_dict() == {"q1": "HUM", "q2": "LOC", "q3": "NUM"}
    before = (folder / BATCH_FILE).read_bytes()
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)  # the same batch: the labels stay
    assert (folder / BATCH_FILE).read_bytes() == before


def test_text_not_in_utf8_is_refused_with_the_line_not_mangled(folder):
    answers(folder).to_csv(folder / BATCH_FILE, index=False, sep=";", encoding="cp1252")  # Excel's "CSV (Windows)"
    refused(folder, DataError, r"batch\.csv: not UTF-8 text \(byte 0xf9 on line 3\).*; save it as CSV UTF-8 "
                               r"\(comma-separated\) and run `cartal repro` again")


def test_columns_not_found_say_what_was_found(folder):
    answers(folder).to_csv(folder / BATCH_FILE, index=False, sep="|")
    refused(folder, DataError, r"columns id, label, skip missing "
                               r"\(found id\|text\|suggestion\|confidence\|label\|skip, "
                               r"reading it as comma-separated\); keep the columns the pipeline wrote \(id, text, "
                               r"suggestion, confidence, label, skip\), fill in 'label' and save it as CSV UTF-8")


def test_a_deleted_row_is_reported_missing_apart_from_an_empty_label(folder):
    written = answers(folder)
    frame = written.copy()
    frame.loc[0, "label"] = ""
    frame.drop(index=1).to_csv(folder / BATCH_FILE, index=False, sep=";")
    message = refused(folder, DataError, r"rows missing from the file \(deleted\?\), ids q2: put them back, each with "
                                         r"its id and a label or yes under skip \(their texts are in tasks\.json")
    assert message.endswith("ids with no label (label them, or write yes under skip to leave them out): q1")
    frame = written.copy()
    frame.loc[2] = ""  # the row's cells cleared rather than the row deleted
    frame.to_csv(folder / BATCH_FILE, index=False)
    message = refused(folder, DataError, r"rows missing from the file \(deleted\?\), ids q3: put them back")
    assert "not in the batch" not in message and "no label" not in message


def test_an_id_a_label_studio_export_leaves_out_is_unlabeled_not_deleted(folder):
    labeled = {"was_cancelled": False, "result": [{"type": "choices", "from_name": "label", "to_name": "text",
                                                   "value": {"choices": ["HUM"]}}]}
    (folder / EXPORT_FILE).write_text(json.dumps([{"id": 1, "data": {"id": "q1"}, "annotations": [labeled]}]))
    message = refused(folder, LabelsPendingError, r"export\.json: 1 of 3 answered, ids with no label .*: q2, q3; ")
    assert "missing from the file" not in message


def test_labels_typed_into_the_suggestion_column_get_a_hint(folder):
    hint = (r"the suggestion column differs from the model's suggestions where the label is empty, for ids q2: "
            r"did you type the labels into 'suggestion'\? Labels go in 'label'")
    frame = answers(folder).assign(suggestion=["HUM", "LOC", "NUM"], label="")  # the model suggested HUM for q2
    frame.to_csv(folder / BATCH_FILE, index=False)
    refused(folder, LabelsPendingError, r"3 instances wait for labels .*; " + hint)
    frame.loc[[0, 2], "label"] = ["HUM", "NUM"]
    frame.to_csv(folder / BATCH_FILE, index=False)
    refused(folder, DataError, hint + r"; ids with no label \(.*\): q2$")
    (folder / TASKS_FILE).unlink()  # the model's suggestions are gone: no way to tell, no hint
    assert "suggestion column" not in refused(folder, LabelsPendingError, r"ids with no label \(.*\): q2; then")


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


def labels_in_file(folder) -> dict[str, str]:
    frame = pd.read_csv(folder / BATCH_FILE, dtype=str, keep_default_na=False)
    rows = zip(frame["id"], frame["label"], frame["skip"])
    return {i: label or (f"skip {skip}" if skip else "") for i, label, skip in rows}


def test_a_batch_that_comes_back_gets_its_answers_back(folder):
    fill(folder, ["HUM", "LOC", ""], skip=["", "", "yes"])
    other = BATCH.assign(id=["q4", "q2", "q5"])
    write_batch(folder, other, model_version="round 0", labels=LABELS)  # the selection changed
    assert labels_in_file(folder) == {"q4": "", "q2": "LOC", "q5": ""}  # q2 was answered already
    fill(folder, ["NUM", "LOC", "HUM"])
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)  # DVC restored the first selection
    assert labels_in_file(folder) == {"q1": "HUM", "q2": "LOC", "q3": "skip yes"}
    answers = read_answers(folder, BATCH["id"], LABELS)
    assert answers.labels.to_dict() == {"q1": "HUM", "q2": "LOC"} and answers.skipped == ("q3",)
    assert len(list(folder.glob("superseded-*.csv"))) == 2  # both files of answers are still there
    write_batch(folder, other, model_version="round 0", labels=LABELS)
    assert labels_in_file(folder) == {"q4": "NUM", "q2": "LOC", "q5": "HUM"}


def test_a_deleted_batch_file_is_written_again_with_the_answers_kept_aside(folder):
    (folder / BATCH_FILE).unlink()
    with pytest.raises(LabelsPendingError, match="the batch file is missing: the next run writes it again"):
        read_answers(folder, BATCH["id"], LABELS)
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)
    assert labels_in_file(folder) == {"q1": "", "q2": "", "q3": ""}
    fill(folder, ["HUM", "LOC", "NUM"])
    write_batch(folder, BATCH.assign(id=["q4", "q5", "q6"]), model_version="round 0", labels=LABELS)
    (folder / BATCH_FILE).unlink()
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)
    assert labels_in_file(folder) == {"q1": "HUM", "q2": "LOC", "q3": "NUM"}


def test_an_export_of_another_batch_is_set_aside_and_its_labels_carried_over(folder):
    labeled = {"was_cancelled": False, "result": [{"type": "choices", "from_name": "label", "to_name": "text",
                                                   "value": {"choices": ["LOC"]}}]}
    export = json.dumps([{"id": 2, "data": {"id": "q2"}, "annotations": [labeled]}])
    (folder / EXPORT_FILE).write_text(export)
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)  # the same batch: the export stays
    assert (folder / EXPORT_FILE).read_text() == export
    write_batch(folder, BATCH.assign(id=["q4", "q2", "q5"]), model_version="round 0", labels=LABELS)
    assert not (folder / EXPORT_FILE).exists()
    assert [p.read_text() for p in folder.glob("superseded-*-export.json")] == [export]
    assert labels_in_file(folder) == {"q4": "", "q2": "LOC", "q5": ""}


def test_a_label_studio_export_of_the_same_batch_stays_when_the_batch_file_was_deleted(folder):
    labeled = {"was_cancelled": False, "result": [{"type": "choices", "from_name": "label", "to_name": "text",
                                                   "value": {"choices": ["LOC"]}}]}
    (folder / EXPORT_FILE).write_text(json.dumps([{"id": 2, "data": {"id": "q2"}, "annotations": [labeled]}]))
    (folder / BATCH_FILE).unlink()
    write_batch(folder, BATCH, model_version="round 0", labels=LABELS)
    assert (folder / EXPORT_FILE).exists() and labels_in_file(folder) == {"q1": "", "q2": "LOC", "q3": ""}
