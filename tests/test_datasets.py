"""Datasets: TREC from the shared CSVs and from a `datasets` DatasetDict on disk, BBC from its package, bad input."""

import numpy as np
import pandas as pd
import pytest

from cartal.data.datasets import TREC_LABELS, load_bbc, load_trec_csv, subsample, trec_from_hf
from cartal.data.split import check_budget, draw_seed_set
from cartal.data.validate import validate_frame
from cartal.errors import BudgetError, DataError


@pytest.fixture(scope="module")
def trec(shared_data):
    return load_trec_csv(shared_data / "trec")


def test_trec_from_the_shared_csvs(trec):
    assert (len(trec.train), len(trec.test)) == (5452, 500)
    assert trec.labels == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    assert trec.train["label"].value_counts()[list(TREC_LABELS)].tolist() == [86, 1162, 1250, 1223, 835, 896]
    assert trec.test["label"].value_counts()[list(TREC_LABELS)].tolist() == [9, 138, 94, 65, 81, 113]
    assert trec.train["id"].is_unique and trec.train["id"].iloc[0] == "train-0"
    first = trec.train.set_index("id").loc["train-0"]
    assert first["text"] == "How did serfdom develop in and then leave Russia ?" and first["label"] == "DESC"


def test_trec_from_a_hub_style_dataset_saved_to_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({
        "text": datasets.Value("string"),
        "coarse_label": datasets.ClassLabel(names=["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"]),  # the hub's order
    })
    rows = {"train": {"text": ["What is AI ?", "Who wrote Hamlet ?", "Where is Rome ?"], "coarse_label": [0, 3, 4]},
            "test": {"text": ["What does NASA stand for ?", "What is a dog ?"], "coarse_label": [0, 2]}}
    saved = datasets.DatasetDict({split: datasets.Dataset.from_dict(r, features=features) for split, r in rows.items()})
    saved.save_to_disk(tmp_path / "trec")
    loaded = trec_from_hf(datasets.load_from_disk(str(tmp_path / "trec")))
    assert loaded.train["label"].tolist() == ["ABBR", "HUM", "LOC"]
    assert loaded.test["label"].tolist() == ["ABBR", "DESC"]
    assert loaded.labels == TREC_LABELS


def test_bbc_from_its_package():
    bbc = load_bbc(test_size=0.2, split_seed=0)
    assert len(bbc.train) + len(bbc.test) == 2225
    assert len(bbc.test) == 445 and len(bbc.labels) == 5
    assert bbc.labels == tuple(sorted(bbc.labels))
    share = bbc.test["label"].value_counts(normalize=True) - bbc.train["label"].value_counts(normalize=True)
    assert share.abs().max() < 0.01  # stratified
    assert not set(bbc.train["id"]) & set(bbc.test["id"])
    again = load_bbc(test_size=0.2, split_seed=0)
    assert again.test["id"].tolist() == bbc.test["id"].tolist()
    assert load_bbc(test_size=0.2, split_seed=1).test["id"].tolist() != bbc.test["id"].tolist()


def test_subsample_is_stratified_and_deterministic(trec):
    small = subsample(trec, 600, 120, seed=0)
    assert (len(small.train), len(small.test)) == (600, 120)
    assert set(small.train["label"]) == set(TREC_LABELS)
    assert small.train["id"].tolist() == subsample(trec, 600, 120, seed=0).train["id"].tolist()


def frame(**columns):
    base = {"id": ["a", "b", "c"], "text": ["one", "two", "three"], "label": ["x", "y", "x"]}
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize("bad, message", [
    (frame(text=None), r"column\(s\) text missing"),
    (frame(label=None), r"column\(s\) label missing"),
    (frame(text=["one", "  ", None]), r"2 empty text\(s\), ids b, c"),
    (frame(id=["a", "b", "a"]), r"duplicate ids a"),
    (frame(label=["x", "", "y"]), r"empty label"),
])
def test_bad_frames_are_refused_with_the_offending_rows(bad, message):
    with pytest.raises(DataError, match=message):
        validate_frame(bad, source="mine.csv")


def test_unknown_label_is_named():
    with pytest.raises(DataError, match=r"unknown label\(s\) z \(known: x, y\), ids c"):
        validate_frame(frame(label=["x", "y", "z"]), source="mine.csv", labels=("x", "y"))


def test_trec_csv_problems(tmp_path):
    with pytest.raises(DataError, match="train.csv not found"):
        load_trec_csv(tmp_path)
    (tmp_path / "train.csv").write_text(",Class Index,Description\n0,2,Why ?\n1,9,What ?\n")
    (tmp_path / "test.csv").write_text(",Class Index,Description\n0,2,Why ?\n")
    with pytest.raises(DataError, match=r"'Class Index' must be 1..6; bad rows: 1"):
        load_trec_csv(tmp_path)
    (tmp_path / "train.csv").write_text(",Class Index,Question\n0,2,Why ?\n")
    with pytest.raises(DataError, match=r"column 'Description' missing"):
        load_trec_csv(tmp_path)


def test_budget_checks_name_the_keys():
    check_budget(n_train=1000, seed_size=500, batch_size=50, rounds=10)
    with pytest.raises(BudgetError, match=r"seed_size is 1000 but the train split holds 1000"):
        check_budget(n_train=1000, seed_size=1000, batch_size=50, rounds=1)
    with pytest.raises(BudgetError, match=r"= 2000 labels.*holds 1000; set rounds to at most 10 \(`cartal rounds 10`\)"):
        check_budget(n_train=1000, seed_size=500, batch_size=50, rounds=30)


def test_seed_set_is_a_seeded_uniform_draw():
    ids = np.array([f"i{n:04d}" for n in range(1000)], dtype=object)
    first = draw_seed_set(ids, 100, seed=398048)
    assert len(set(first)) == 100 and set(first) <= set(ids)
    assert first.tolist() == draw_seed_set(ids, 100, seed=398048).tolist()
    assert first.tolist() != draw_seed_set(ids, 100, seed=127003).tolist()
    with pytest.raises(BudgetError):
        draw_seed_set(ids, 1001, seed=1)
