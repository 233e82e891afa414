"""A user's own data: AG News and hand-made rows as CSV, TSV, JSON Lines and Parquet, a DatasetDict on disk."""

import csv
import json

import pandas as pd
import pytest

from cartal.data.sources import label_set, read_file, read_hub, user_dataset
from cartal.errors import DataError

AGNEWS_ROW_0 = ("Fears for T N pension after talks Unions representing workers at Turner   Newall say they are "
                "'disappointed' after talks with stricken parent firm Federal Mogul.")  # typed from the CSV by hand


def write(frame: pd.DataFrame, path):
    """Write ``frame`` (all strings) in the format its suffix names."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")), encoding="utf-8")
    else:
        frame.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def agnews_rows(shared_data):
    """AG News' test CSV read by the csv module, not by the code under test."""
    with open(shared_data / "agnews" / "test.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


HAND = pd.DataFrame({
    "doc_id": ["007", "7", "x-1"],
    "title": ["  Rates rise ", "", "Title only"],
    "body": ["The bank raised rates.", "  Only a body here.  ", ""],
    "topic": ["NA", "1", "1"],
})
HAND_EXPECTED = pd.DataFrame({
    "id": ["007", "7", "x-1"],
    "text": ["Rates rise The bank raised rates.", "Only a body here.", "Title only"],
    "label": ["NA", "1", "1"],
})


def test_agnews_text_is_title_then_description(shared_data, agnews_rows):
    frame = read_file(shared_data / "agnews" / "test.csv", ["Title", "Description"], "Class Index", None, "test")
    assert len(frame) == 7600 and frame["id"].tolist() == [f"test-{i}" for i in range(7600)]
    assert frame.loc[0, "text"] == AGNEWS_ROW_0
    expected = [" ".join(p.strip() for p in (r["Title"], r["Description"]) if p.strip()) for r in agnews_rows]
    assert frame["text"].tolist() == expected
    assert frame["label"].value_counts().to_dict() == {"1": 1900, "2": 1900, "3": 1900, "4": 1900}  # the README's


def test_the_four_formats_give_identical_frames(tmp_path, agnews_rows):
    raw = pd.DataFrame(agnews_rows[:200])
    frames = [read_file(write(raw, tmp_path / f"agnews{suffix}"), ["Title", "Description"], "Class Index", None, "t")
              for suffix in (".csv", ".tsv", ".jsonl", ".parquet", ".CSV")]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert frames[0].loc[0, "text"] == AGNEWS_ROW_0 and frames[0]["id"].iloc[-1] == "t-199"
    assert frames[0]["label"].tolist() == [r["Class Index"] for r in agnews_rows[:200]]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_hand_made_rows_keep_ids_and_labels_as_strings(tmp_path, suffix):
    frame = read_file(write(HAND, tmp_path / f"hand{suffix}"), ["title", "body"], "topic", "doc_id", "unused")
    pd.testing.assert_frame_equal(frame, HAND_EXPECTED, check_dtype=False)
    assert list(frame.columns) == ["id", "text", "label"]


def test_csv_cells_stay_as_written(tmp_path):
    path = tmp_path / "numbers.tsv"
    path.write_text("key\ttext\tlabel\n001\tOne.\t1\n002\tTwo.\t2.0\n003\tNull.\tNULL\n")
    frame = read_file(path, ["text"], "label", "key", "unused")
    assert frame.to_dict("list") == {"id": ["001", "002", "003"], "text": ["One.", "Two.", "Null."],
                                     "label": ["1", "2.0", "NULL"]}


def test_json_numbers_and_nulls(tmp_path):
    path = tmp_path / "typed.jsonl"
    path.write_text('{"n": 7, "title": null, "body": "Body.", "y": 1}\n\n'
                    '{"n": 8, "title": 3, "body": " More. ", "y": 0}\n'
                    '{"n": 9, "body": "No title key.", "y": 1}\n')
    frame = read_file(path, ["title", "body"], "y", "n", "unused")
    assert frame.to_dict("list") == {"id": ["7", "8", "9"], "text": ["Body.", "3 More.", "No title key."],
                                     "label": ["1", "0", "1"]}


def test_parquet_integers_with_nulls_stay_integers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"k": pa.array([1, None, 3], pa.int64()), "text": ["a", "b", "c"]}), tmp_path / "k.parquet")
    frame = read_file(tmp_path / "k.parquet", ["k", "text"], None, None, "p")
    assert frame["text"].tolist() == ["1 a", "b", "3 c"]


def test_row_ids_are_stable_and_follow_the_file(tmp_path):
    path = write(HAND, tmp_path / "hand.csv")
    first = read_file(path, ["body", "title"], "topic", None, "pool")
    assert first["id"].tolist() == ["pool-0", "pool-1", "pool-2"]
    assert first["text"].tolist() == ["The bank raised rates. Rates rise", "Only a body here.", "Title only"]
    pd.testing.assert_frame_equal(read_file(path, ["body", "title"], "topic", None, "pool"), first)


def test_an_unlabeled_pool_has_no_labels(tmp_path):
    path = write(HAND.assign(topic=["", "", ""]), tmp_path / "pool.parquet")
    pool = read_file(path, ["title", "body"], None, None, "pool")
    assert pool["label"].tolist() == [None, None, None]
    assert pool["text"].tolist() == HAND_EXPECTED["text"].tolist() and pool["id"].tolist()[2] == "pool-2"


ONE_COLUMN = {"text_columns": ["a"], "label_column": None}


@pytest.mark.parametrize("name, content, columns, match", [
    ("data.xlsx", "a,b\n", ONE_COLUMN, r"unsupported file type '\.xlsx'; supported: \.csv, \.tsv, \.jsonl, \.parquet"),
    ("data.parquet", b"not a parquet file", ONE_COLUMN, r"could not read it as parquet"),
    ("data.jsonl", '{"a": "x"}\n{"a": ', ONE_COLUMN, r"could not read it as jsonl \(JSONDecodeError"),
    ("data.jsonl", '{"a": "x"}\n[1, 2]\n', ONE_COLUMN, r"line 2 is not a JSON object"),
    ("data.csv", "a,b\nx,y\nx,y,z,w\n", ONE_COLUMN, r"could not read it as csv \(ParserError"),
    ("data.csv", b"a,b\n\xff\xfe,y\n", ONE_COLUMN, r"could not read it as csv \(UnicodeDecodeError"),
    ("data.csv", "a,b\n", ONE_COLUMN, r"no rows"),
    ("data.tsv", "a\tb\tc\nx\ty\tz\n", {"text_columns": ["a", "Headline"], "label_column": "c"},
     r"'Headline' missing \(found a, b, c\)"),
    ("data.csv", "a,b,c\nx,y,z\n", {"text_columns": ["a"], "label_column": "nope"},
     r"'nope' missing \(found a, b, c\)"),
    ("data.csv", "a,b,c\nx,,p\n , ,q\nz,,r\n,  ,s\n", {"text_columns": ["a", "b"], "label_column": "c"},
     r"no text in a, b at lines 3, 5 \(header = line 1; ids r-1, r-3\); fill in"),
    ("data.csv", "a,b,c\nx,,p\ny,,\nz,, \n", {"text_columns": ["a"], "label_column": "c"},
     r"no label in 'c' at lines 3, 4 \(header = line 1; ids r-1, r-2\); label those rows"),
    ("data.csv", "i,a\nk,x\nm,y\nk,z\n", {"text_columns": ["a"], "label_column": None, "id_column": "i"},
     r"duplicate ids in 'i' \(header = line 1\): k \(lines 2, 4\); ids must be unique"),
    ("data.csv", "i,a\nk,x\n ,y\nm,z\n", {"text_columns": ["a"], "label_column": None, "id_column": "i"},
     r"empty id in 'i' at line 3 \(header = line 1\);"),
])
def test_bad_files_name_the_file_and_the_fix(tmp_path, name, content, columns, match):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=match) as info:
        read_file(path, **columns, id_prefix="r")
    assert str(path) in str(info.value)


def test_rows_are_named_by_the_line_or_row_a_person_finds_them_at(tmp_path):
    text = 'id,text,label\nk1,"two\nlines",a\n\nk2,,b\nk3,  ,a\n'  # a text on two lines, then a blank line
    path = tmp_path / "lines.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=r"no text in text at lines 5, 6 \(header = line 1; ids k2, k3\)"):
        read_file(path, ["text"], "label", "id", "r")
    assert [line.split(",")[0] for line in text.splitlines()[4:6]] == ["k2", "k3"]  # as an editor shows it
    path = tmp_path / "lines.jsonl"
    path.write_text('{"t": "x"}\n\n{"t": " "}\n')
    with pytest.raises(DataError, match=r"no text in t at line 3 \(first line = line 1; id r-1\)"):
        read_file(path, ["t"], None, None, "r")
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"t": ["x", "", "y", " "], "c": ["a", "b", "", ""]}).to_parquet(path)
    with pytest.raises(DataError, match=r"no text in t at rows 2, 4 \(first row = row 1; ids r-1, r-3\)"):
        read_file(path, ["t"], "c", None, "r")
    path = tmp_path / "quoted-empty.csv"  # a line of "" is a row to pandas but looks blank: count rows instead
    path.write_text('a,b\nx,y\n""\nz,\n')
    with pytest.raises(DataError, match=r"no text in b at rows 2, 3 \(first row after the header = row 1; "
                                        r"ids r-1, r-2\)"):
        read_file(path, ["b"], None, None, "r")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"absent\.csv not found: check the path"):
        read_file(tmp_path / "absent.csv", ["a"], None, None, "r")


@pytest.fixture
def offline_datasets(monkeypatch, tmp_path):
    """`datasets` with the hub switched off and its cache in tmp_path: no test waits on, or writes to, the outside."""
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    return datasets


@pytest.fixture
def saved_news(offline_datasets, tmp_path):
    """A hub-style DatasetDict saved with save_to_disk: a ClassLabel topic in an order other than sorted."""
    datasets = offline_datasets
    features = datasets.Features({
        "uid": datasets.Value("string"), "title": datasets.Value("string"), "body": datasets.Value("string"),
        "topic": datasets.ClassLabel(names=["World", "Sports", "Business", "Sci/Tech"]),
    })
    rows = {
        "train": {"uid": ["a1", "a2"], "title": ["Cup final", "Chips"], "body": ["Won 2-1.", " Faster. "],
                  "topic": [1, 3]},
        "test": {"uid": ["b1", "b2", "b3"], "title": ["Summit", "", "Shares"], "body": ["Leaders met.", "Goal!", ""],
                 "topic": [0, 1, 2]},
    }
    saved = datasets.DatasetDict({s: datasets.Dataset.from_dict(r, features=features) for s, r in rows.items()})
    saved.save_to_disk(tmp_path / "news")
    return str(tmp_path / "news")


def test_read_hub_from_a_dataset_dict_on_disk(saved_news):
    test = read_hub(saved_news, None, "test", ["title", "body"], "topic", "uid", "unused")
    assert test.to_dict("list") == {"id": ["b1", "b2", "b3"], "text": ["Summit Leaders met.", "Goal!", "Shares"],
                                    "label": ["World", "Sports", "Business"]}
    train = read_hub(saved_news, None, "train", ["title", "body"], "topic", None, "train")
    assert train.to_dict("list") == {"id": ["train-0", "train-1"], "text": ["Cup final Won 2-1.", "Chips Faster."],
                                     "label": ["Sports", "Sci/Tech"]}
    pool = read_hub(saved_news, None, "train", ["body"], None, None, "pool")
    assert pool["label"].tolist() == [None, None] and pool["text"].tolist() == ["Won 2-1.", "Faster."]


def test_read_hub_errors(saved_news, offline_datasets, tmp_path):
    with pytest.raises(DataError, match=r"no split 'validation'; available splits: test, train"):
        read_hub(saved_news, None, "validation", ["title"], "topic", None, "v")
    with pytest.raises(DataError, match=r"'headline' missing \(found uid, title, body, topic\)"):
        read_hub(saved_news, None, "test", ["headline"], "topic", None, "t")
    unlabeled = offline_datasets.Dataset.from_dict(
        {"text": ["x", "y", "z"], "label": [0, -1, 1]},
        features=offline_datasets.Features({"text": offline_datasets.Value("string"),
                                            "label": offline_datasets.ClassLabel(names=["neg", "pos"])}))
    unlabeled.save_to_disk(tmp_path / "single")  # one Dataset, not a dict: used whatever the split
    with pytest.raises(DataError, match=r"no label in 'label' at row 2 \(first row = row 1; id s-1\);"):
        read_hub(str(tmp_path / "single"), None, "train", ["text"], "label", None, "s")
    pool = read_hub(str(tmp_path / "single"), None, "any", ["text"], None, None, "s")
    assert pool["text"].tolist() == ["x", "y", "z"] and pool["id"].tolist() == ["s-0", "s-1", "s-2"]


def test_read_hub_through_load_dataset(offline_datasets, tmp_path):
    folder = tmp_path / "csvs"  # data files, not save_to_disk output: load_dataset's own job
    folder.mkdir()
    write(HAND.iloc[1:], folder / "train.csv")  # not row 0: load_dataset's CSV reader turns "NA" into a null
    write(HAND.iloc[2:], folder / "test.csv")
    train = read_hub(str(folder), None, "train", ["title", "body"], "topic", "doc_id", "unused")
    assert train.to_dict("list") == {"id": ["7", "x-1"], "text": ["Only a body here.", "Title only"],
                                     "label": ["1", "1"]}
    with pytest.raises(DataError, match=r"no split 'validation'; available splits: test, train"):
        read_hub(str(folder), None, "validation", ["title"], "topic", None, "v")
    with pytest.raises(DataError, match=r"could not load 'nobody/no-such-dataset' .*ConnectionError.*\.parquet files"):
        read_hub("nobody/no-such-dataset", None, "train", ["text"], "label", None, "t")


def test_label_set_found_or_declared():
    train = pd.DataFrame({"id": ["t-0", "t-1", "t-2"], "text": ["x", "y", "z"], "label": ["b", "a", "b"]})
    test = pd.DataFrame({"id": ["s-0"], "text": ["w"], "label": ["c"]})
    pool = pd.DataFrame({"id": ["p-0"], "text": ["v"], "label": [None]})
    assert label_set([train, test, pool], None, "files") == ("a", "b", "c")
    assert label_set([train, test], ["c", "a", "b", "d"], "files") == ("c", "a", "b", "d")
    with pytest.raises(DataError, match=r"files: unknown label\(s\) b \(known: a, c\), ids t-0, t-2; add them"):
        label_set([train, test], ["a", "c"], "files")
    with pytest.raises(DataError, match=r"found 1 label\(s\) \(c\); classification needs at least two"):
        label_set([test, pool], None, "files")
    with pytest.raises(DataError, match=r"at least two distinct names"):
        label_set([test], ["c", "c"], "files")


def test_user_dataset(tmp_path):
    train = read_file(write(HAND, tmp_path / "train.csv"), ["title", "body"], "topic", "doc_id", "train")
    dataset = user_dataset(train, train.iloc[:1], ["1", "NA"])
    assert (dataset.name, dataset.labels, len(dataset.train), len(dataset.test)) == ("files", ("1", "NA"), 3, 1)


def test_a_labeled_pool_file_with_the_gold_oracle_is_sent_to_data_files_train(tmp_path, monkeypatch, shared_data):
    import yaml

    from cartal.params import load_params
    from projects import ROOT
    from stages import prepare

    news = pd.read_csv(shared_data / "agnews" / "test.csv", keep_default_na=False)
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    news.iloc[:40].to_csv(raw / "seed.csv", index=False)
    news.iloc[40:240].to_csv(raw / "pool.csv", index=False)  # every row labeled, as a user's simulation file is
    news.iloc[240:400].to_csv(raw / "test.csv", index=False)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(dataset="files", rounds=1, batch_size=10)
    params["data"].update(files={"seed": "data/raw/seed.csv", "pool": "data/raw/pool.csv", "test": "data/raw/test.csv",
                                 "train": None},
                          text_columns=["Title", "Description"], label_column="Class Index",
                          labels=["1", "2", "3", "4"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"data.files.pool \(data/raw/pool.csv, 200 instances\) is read as unlabeled, "
                                        r"a label column in it ignored.*give the labeled file as data.files.train"):
        prepare.run(load_params(tmp_path / "params.yaml"))
    assert not (tmp_path / "data" / "prepared").exists()


def test_a_seed_class_absent_from_the_test_set_is_named_in_a_warning(tmp_path, monkeypatch, shared_data, caplog):
    import logging

    import yaml

    from cartal.params import load_params
    from projects import ROOT
    from stages import prepare

    news = pd.read_csv(shared_data / "agnews" / "test.csv", keep_default_na=False)
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    news.iloc[:300].to_csv(raw / "train.csv", index=False)
    news.iloc[300:600].query("`Class Index` != 4").to_csv(raw / "test.csv", index=False)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(dataset="files", rounds=1, batch_size=10, seed_size=40)
    params["data"].update(files={"train": "data/raw/train.csv", "test": "data/raw/test.csv", "seed": None,
                                 "pool": None},
                          text_columns=["Title", "Description"], label_column="Class Index")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="stages.prepare"):
        prepare.run(load_params(tmp_path / "params.yaml"))
    assert "classes in the seed set but not in the test set: 4;" in caplog.text
