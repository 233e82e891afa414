"""The user's own files with a missing column or an empty text: prepare refuses with the file, the column or
the rows, and the fix; the prepared data, L0 and U0 of the last good run stay (prepare's outputs persist)."""

from __future__ import annotations

import pandas as pd
import pytest

from projects import run, stages_run
from refusals import refused, restore, set_params

pytestmark = pytest.mark.slow


@pytest.fixture()
def own_files(project, shared_data):
    trec = pd.read_csv(shared_data / "trec" / "train.csv", keep_default_na=False)
    frame = pd.DataFrame({"text": trec["Description"], "label": trec["Class Index"].astype(str)}).iloc[:300]
    set_params(project, **{"dataset": "files", "data.files.train": "data/raw/train.csv",
                           "data.files.test": "data/raw/test.csv", "data.max_train": None, "data.max_test": None})
    frame.iloc[200:].to_csv(project / "data/raw/test.csv", index=False)
    yield frame.iloc[:200]
    for name in ("train.csv", "test.csv"):
        (project / "data/raw" / name).unlink()
    restore(project)
    assert stages_run(run(["dvc", "repro"], project).stdout) <= {"check-params"}


def test_a_missing_text_column(project, own_files):
    own_files.rename(columns={"text": "question"}).to_csv(project / "data/raw/train.csv", index=False)
    refused(project, ["dvc", "repro"], "data/raw/train.csv: column(s) 'text' missing (found question, label); "
                                       "name columns the data has")


def test_an_empty_text(project, own_files):
    own_files.assign(text=lambda f: f["text"].mask(f.index == 7, "  ")).to_csv(project / "data/raw/train.csv",
                                                                               index=False)
    refused(project, ["dvc", "repro"], "data/raw/train.csv: no text in text at line 9 (header = line 1; id "
                                       "train-7); fill in the text or drop those rows")
