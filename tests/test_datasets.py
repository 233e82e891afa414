"""Datasets: TREC from the shared CSVs and from a `datasets` DatasetDict on disk, BBC from its package, bad input."""

import numpy as np
import pandas as pd
import pytest

from cartal.data.datasets import TREC_LABELS, load, load_bbc, load_trec_csv, subsample, trec_from_hf
from cartal.data.split import check_budget, draw_seed_set
from cartal.data.validate import validate_frame
from cartal.errors import BudgetError, DataError
from cartal.params import DataParams


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


def test_trec_ids_are_the_csvs_row_numbers(trec, shared_data):
    raw = pd.read_csv(shared_data / "trec" / "train.csv", keep_default_na=False)
    by_id = trec.train.set_index("id")
    for row in (0, 1, 2500, 5451):
        record = raw.iloc[row]
        assert by_id.loc[f"train-{int(record.iloc[0])}", "text"] == record["Description"]
        assert by_id.loc[f"train-{int(record.iloc[0])}", "label"] == TREC_LABELS[int(record["Class Index"]) - 1]
    assert set(trec.test["id"]) == {f"test-{i}" for i in range(500)}
    again = load_trec_csv(shared_data / "trec")
    pd.testing.assert_frame_equal(again.train, trec.train)


def test_load_dispatches_and_subsamples(shared_data):
    small = load("trec", DataParams(trec_dir=str(shared_data / "trec"), max_train=300, max_test=60))
    assert (small.name, len(small.train), len(small.test)) == ("trec", 300, 60)
    with pytest.raises(DataError, match="unknown dataset 'imdb'"):
        load("imdb", DataParams())


def test_trec_from_a_hub_style_dataset_saved_to_disk(tmp_path):
    import datasets

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
    assert loaded.train["id"].tolist() == ["train-0", "train-1", "train-2"]
    assert loaded.train["text"].tolist() == rows["train"]["text"]


BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sport": 511, "tech": 401}


@pytest.fixture(scope="module")
def bbc():
    return load_bbc(test_size=0.2, split_seed=0)


def test_bbc_has_its_five_topics(bbc):
    both = pd.concat([bbc.train, bbc.test])
    assert len(both) == 2225 and both["id"].is_unique
    counts = both["label"].value_counts()
    # the package names the sport folder "sports"; accept either spelling, but each count exactly
    assert {("sport" if label.startswith("sport") else label): int(n) for label, n in counts.items()} == BBC_COUNTS
    assert list(bbc.labels) == sorted(counts.index)
    assert all(i.split("/")[0] == label for i, label in zip(both["id"], both["label"]))
    assert (both["text"].str.strip().str.len() > 0).all()


@pytest.mark.parametrize("test_size", [0.1, 0.3])
def test_bbc_test_split_follows_test_size_per_class(test_size):
    split = load_bbc(test_size=test_size, split_seed=4)
    assert len(split.test) == int(np.ceil(test_size * 2225)) and len(split.train) + len(split.test) == 2225
    total = pd.concat([split.train, split.test])["label"].value_counts()
    for label, n in split.test["label"].value_counts().items():
        assert abs(n - test_size * total[label]) <= 1  # stratified: every topic holds out its share


def test_bbc_from_its_package(bbc):
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
    assert small.train["id"].tolist() != subsample(trec, 600, 120, seed=1).train["id"].tolist()
    assert small.train["id"].is_monotonic_increasing and set(small.train["id"]) <= set(trec.train["id"])
    full = trec.train["label"].value_counts()
    for label, n in small.train["label"].value_counts().items():
        assert abs(n - 600 * full[label] / len(trec.train)) <= 1  # the class shares of the full split
    kept = subsample(trec, None, None, seed=0)
    assert len(kept.train) == 5452 and len(kept.test) == 500


def test_subsample_almost_everything(trec):
    # a sample that leaves fewer instances out than there are classes is still a valid request
    small = subsample(trec, len(trec.train) - 1, len(trec.test) - 2, seed=0)
    assert (len(small.train), len(small.test)) == (5451, 498)


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
    (frame(id=None), r"column\(s\) id missing"),
    (frame(id=["a", "b", "a"], text=["one", "two", "three"]).assign(id=["a", "b", "b"]), r"duplicate ids b;"),
])
def test_bad_frames_are_refused_with_the_offending_rows(bad, message):
    with pytest.raises(DataError, match=message):
        validate_frame(bad, source="mine.csv")


def test_unknown_label_is_named():
    with pytest.raises(DataError, match=r"unknown label\(s\) z \(known: x, y\), ids c"):
        validate_frame(frame(label=["x", "y", "z"]), source="mine.csv", labels=("x", "y"))


def test_a_good_frame_comes_back_as_strings():
    good = validate_frame(pd.DataFrame({"label": ["x", "y"], "text": ["a", "b"], "id": [1, 2], "extra": [0, 0]}),
                          source="mine.csv", labels=("x", "y"))
    assert list(good.columns) == ["id", "text", "label"] and good["id"].tolist() == ["1", "2"]


def write_trec(folder, train, test=",Class Index,Description\n0,2,Why ?\n"):
    (folder / "train.csv").write_text(train)
    (folder / "test.csv").write_text(test)


@pytest.mark.parametrize("train, message", [
    (",Class Index,Description\n0,2,Why ?\n1,x,What ?\n2,0,Who ?\n",
     r"train\.csv: 'Class Index' must be 1..6; bad rows: 1, 2"),
    (",Class Index,Description\n0,2,Why ?\n1,3,\n2,4,  \n", r"train\.csv: 2 empty text\(s\), ids train-1, train-2"),
    (",Class Index,Description\n0,2,Why ?\n0,3,What ?\n", r"train\.csv: duplicate ids train-0"),
    (",Class Index,Text\n0,2,Why ?\n", r"train\.csv: column 'Description' missing \(found .*Text\)"),
    (",Label,Description\n0,2,Why ?\n", r"train\.csv: column 'Class Index' missing"),
])
def test_bad_trec_csvs_are_named(tmp_path, train, message):
    write_trec(tmp_path, train)
    with pytest.raises(DataError, match=message):
        load_trec_csv(tmp_path)


def test_a_small_good_trec_csv(tmp_path):
    write_trec(tmp_path, ",Class Index,Description\n7,1,What is AI ?\n3,6,How many ?\n")
    small = load_trec_csv(tmp_path)
    assert small.train.set_index("id")["label"].to_dict() == {"train-3": "NUM", "train-7": "ABBR"}


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
    check_budget(n_train=1000, seed_size=500, batch_size=50, rounds=10)  # exactly all of the train split
    check_budget(n_train=1000, seed_size=999, batch_size=50, rounds=0)
    with pytest.raises(BudgetError, match=r"seed_size 500 \+ rounds 11 x batch_size 50 = 1050 labels"):
        check_budget(n_train=1000, seed_size=500, batch_size=50, rounds=11)
    with pytest.raises(BudgetError, match=r"seed_size is 1000 but the train split holds 1000"):
        check_budget(n_train=1000, seed_size=1000, batch_size=50, rounds=1)
    with pytest.raises(BudgetError,
                       match=r"= 2000 labels.*holds 1000; set rounds to at most 10 \(`cartal rounds 10`\)"):
        check_budget(n_train=1000, seed_size=500, batch_size=50, rounds=30)


def test_seed_set_is_a_seeded_uniform_draw():
    ids = np.array([f"i{n:04d}" for n in range(1000)], dtype=object)
    first = draw_seed_set(ids, 100, seed=398048)
    assert len(set(first)) == 100 and set(first) <= set(ids)
    assert first.tolist() == draw_seed_set(ids, 100, seed=398048).tolist()
    assert first.tolist() != draw_seed_set(ids, 100, seed=127003).tolist()
    assert first.tolist() == sorted(first.tolist())
    assert sorted(draw_seed_set(ids, 1000, seed=1)) == sorted(ids)  # the whole split, each id once
    with pytest.raises(BudgetError, match=r"a seed set of 1001 cannot be drawn from 1000 instances; lower seed_size"):
        draw_seed_set(ids, 1001, seed=1)


def test_seed_sets_are_uniform_over_many_seeds():
    ids = np.array([f"i{n:02d}" for n in range(20)], dtype=object)
    counts = pd.Series(np.concatenate([draw_seed_set(ids, 5, seed=s) for s in range(400)])).value_counts()
    assert len(counts) == 20 and counts.min() > 60 and counts.max() < 140  # expected 100 each


def agnews_folder(shared_data, tmp_path, train_rows=400):
    """AG News in the reference CSV format: the shared test split, its first rows doubling as a train split."""
    raw = pd.read_csv(shared_data / "agnews" / "test.csv", keep_default_na=False)
    folder = tmp_path / "agnews"
    folder.mkdir()
    raw.iloc[:train_rows].to_csv(folder / "train.csv", index=False)
    raw.to_csv(folder / "test.csv", index=False)
    return folder, raw


def test_agnews_joins_title_and_description(shared_data, tmp_path):
    from cartal.data.datasets import AGNEWS_LABELS, load_agnews_csv

    folder, raw = agnews_folder(shared_data, tmp_path)
    news = load_agnews_csv(folder)
    assert (len(news.train), len(news.test)) == (400, 7600) and news.labels == AGNEWS_LABELS
    assert news.test["label"].value_counts().tolist() == [1900] * 4
    first = news.test.set_index("id").loc["test-0"]
    assert first["text"] == f"{raw.loc[0, 'Title'].strip()} {raw.loc[0, 'Description'].strip()}"
    assert first["label"] == AGNEWS_LABELS[int(raw.loc[0, "Class Index"]) - 1]
    small = load("agnews", DataParams(agnews_dir=str(folder), max_train=100, max_test=80))
    assert (len(small.train), len(small.test)) == (100, 80)


def test_agnews_folder_without_a_train_split_names_the_file(shared_data):
    with pytest.raises(DataError, match=r"agnews/train.csv not found: data.agnews_dir must be a folder"):
        load("agnews", DataParams(agnews_dir=str(shared_data / "agnews")))


def test_agnews_from_a_hub_style_dataset_saved_to_disk(tmp_path):
    import datasets

    from cartal.data.datasets import agnews_from_hf

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["World", "Sports", "Business", "Sci/Tech"])})
    rows = {"train": {"text": ["Stocks fall", "Team wins cup"], "label": [2, 1]},
            "test": {"text": ["New chip released"], "label": [3]}}
    saved = datasets.DatasetDict({split: datasets.Dataset.from_dict(r, features=features) for split, r in rows.items()})
    saved.save_to_disk(tmp_path / "ag")
    loaded = agnews_from_hf(datasets.load_from_disk(str(tmp_path / "ag")))
    assert loaded.train["label"].tolist() == ["Business", "Sports"] and loaded.test["label"].tolist() == ["Sci/Tech"]
