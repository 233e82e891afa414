"""A user's own data as (id, text, label) frames: local files or a Hugging Face dataset.

Active learning on real data starts from whatever the user has: a CSV export, a
JSON Lines dump, a Parquet table, a dataset on the hub, or an unlabeled pool.
These readers turn each into the frames every other stage expects and fail early,
naming the file, the rows and the fix, rather than deep inside a training run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cartal.data.frames import Dataset, by_id, frame_from_hf, require_columns, to_frame
from cartal.data.places import Places, counted, csv_lines, jsonl_lines
from cartal.data.validate import check_labels
from cartal.errors import DataError, listing

SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")


def read_file(path: str | Path, text_columns: list[str], label_column: str | None = None,
              id_column: str | None = None, id_prefix: str = "row") -> pd.DataFrame:
    """Read a .csv, .tsv, .jsonl or .parquet file (suffix in any case) as (id, text, label).

    The text is the ``text_columns`` in order, each stripped, empty ones dropped,
    joined by one space: AG News' Title and Description give "Title Description",
    a row without a title gives just its description. The id is ``id_column`` as a
    string, or ``f"{id_prefix}-{row}"`` with the 0-based row number in the file, so
    the same file always gives the same ids. The label is ``label_column`` as a
    string, or None everywhere when ``label_column`` is None (an unlabeled pool).
    Every problem raises :class:`DataError` naming the file, the rows (by their line in a CSV,
    TSV or JSON Lines file, by row counting from 1 in Parquet), their ids and the fix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}; "
                        f"supported: {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise DataError(f"{path} not found: check the path (relative paths start at {Path.cwd()})")
    try:
        raw, places = _read_raw(path, suffix)
    except Exception as exc:  # a parser's error is about the file, whatever its type
        raise DataError(f"{path}: could not read it as {suffix[1:]} ({type(exc).__name__}: {exc}); "
                        f"check that the file is complete and really is {suffix[1:]}") from exc
    require_columns(str(path), list(raw.columns), text_columns, label_column, id_column)
    return to_frame(raw, str(path), text_columns, label_column, id_column, id_prefix, places)


def _read_raw(path: Path, suffix: str) -> tuple[pd.DataFrame, Callable[[], Places]]:
    """The file's columns, and where a person finds its rows (worked out only for an error message)."""
    if suffix in (".csv", ".tsv"):
        sep = "," if suffix == ".csv" else "\t"
        # strings throughout: ids like "007" and labels like "1" or "NA" must not become numbers or NaN
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        return frame, lambda: csv_lines(path, sep, len(frame))
    if suffix == ".jsonl":
        records, numbers = [], []
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError(f"line {number} is not a JSON object")
                    records.append(record)
                    numbers.append(number)
        # object: no int-to-float surprises from missing values
        return pd.DataFrame(records, dtype=object), lambda: jsonl_lines(numbers)
    # pyarrow's own types keep integer columns with nulls integers, so 7 reads as "7", not "7.0"
    frame = pd.read_parquet(path, dtype_backend="pyarrow")
    return frame, lambda: counted(len(frame))


def read_hub(name: str, config: str | None, split: str, text_columns: list[str], label_column: str | None = None,
             id_column: str | None = None, id_prefix: str = "row") -> pd.DataFrame:
    """One split of a Hugging Face dataset as (id, text, label), by the rules of :func:`read_file`.

    ``name`` is a folder written by ``save_to_disk`` (a DatasetDict, of which ``split``
    is taken, or a single Dataset, used as is), or else anything ``datasets.load_dataset``
    accepts: a hub id or a folder of data files. A ClassLabel column gives its names,
    not its integers, so labels read the same as from a file.
    """
    import datasets

    source = f"{name}[{split}]"
    folder = Path(name)
    saved = folder.is_dir() and ((folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file())
    try:
        part = datasets.load_from_disk(name) if saved else datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # offline, unknown id, bad config, corrupt cache: the user's way out is the same
        if isinstance(exc, ValueError):
            _raise_if_split_missing(name, config, split)
        raise DataError(f"could not load {name!r} (config {config!r}, split {split!r}) with `datasets` "
                        f"({type(exc).__name__}: {exc}); check the name, or save the data as .csv, .tsv, "
                        f".jsonl or .parquet files and read those") from exc
    if isinstance(part, datasets.DatasetDict):
        if split not in part:
            raise DataError(f"{name}: no split {split!r}; available splits: {', '.join(sorted(part))}")
        part = part[split]
    return frame_from_hf(part, source, text_columns, label_column, id_column, id_prefix)


def _raise_if_split_missing(name: str, config: str | None, split: str) -> None:
    """After a ValueError, list the splits there are if ``split`` names one that is not among them."""
    import datasets

    try:
        available = datasets.get_dataset_split_names(name, config)
    except Exception:
        return  # the split names are out of reach too: report the original error
    wanted = [part.split("[")[0].strip() for part in split.split("+")]  # "train[:10%]+test" names train, test
    if any(w not in available for w in wanted):
        raise DataError(f"{name}: no split {split!r}; available splits: {', '.join(sorted(available))}")


def label_set(frames, declared: list[str] | None, source: str) -> tuple[str, ...]:
    """The class order every model uses: ``declared`` as given, else the sorted labels the frames hold.

    Declaring the labels fixes their order and lets a class be absent from the data;
    then any label outside them is a typo or a wrong file and is reported. Unlabeled
    frames (label None) contribute nothing.
    """
    present = [frame.loc[frame["label"].notna()] for frame in frames]
    if declared is not None:
        labels = tuple(str(label) for label in declared)
        duplicated = sorted({label for label in labels if labels.count(label) > 1})
        if len(labels) < 2 or duplicated:
            raise DataError(f"{source}: the declared labels must be at least two distinct names, got {list(labels)}")
        for frame in present:
            check_labels(frame, labels, source, fix="; add them to the declared labels or fix those rows")
        return labels
    labels = tuple(sorted({label for frame in present for label in frame["label"]}))
    if len(labels) < 2:
        raise DataError(f"{source}: found {len(labels)} label(s) ({', '.join(labels) or 'none'}); "
                        "classification needs at least two: label more rows or declare the labels")
    return labels


def user_dataset(train: pd.DataFrame, test: pd.DataFrame, labels) -> Dataset:
    """The user's frames as a :class:`Dataset` named "files", like the built-in ones."""
    return Dataset("files", train, test, tuple(labels))


def load_files(params) -> Dataset:
    """dataset: files (``params`` is a DataParams). Either labeled train and test files (a simulation with
    gold labels), or an unlabeled pool, a labeled seed file that becomes L0, and a labeled test file."""
    files = params.files
    columns = dict(text_columns=list(params.text_columns), id_column=params.id_column)
    if files.test is None:
        raise DataError("dataset 'files' needs data.files.test: a labeled file to measure the model on")
    if (files.train is None) == (files.pool is None):
        raise DataError("dataset 'files' needs exactly one of data.files.train (labeled: a simulation) and "
                        "data.files.pool (unlabeled, with data.files.seed: labeling real data)")
    test = read_file(files.test, label_column=params.label_column, id_prefix="test", **columns)
    if files.train is not None:
        if files.seed is not None:
            raise DataError("data.files.seed goes with data.files.pool; with data.files.train, L0 is drawn from it")
        train = read_file(files.train, label_column=params.label_column, id_prefix="train", **columns)
        labels = label_set([train, test], params.labels, files.train)
        return Dataset("files", by_id(train), by_id(test), labels)
    if files.seed is None:
        raise DataError("data.files.pool needs data.files.seed: a few labeled examples to train the first model on")
    seed = read_file(files.seed, label_column=params.label_column, id_prefix="seed", **columns)
    pool = read_file(files.pool, label_column=None, id_prefix="pool", **columns)
    return _with_seed_set(seed, pool, test, params.labels, files.seed)


def load_hub(params) -> Dataset:
    """dataset: hub: the configured splits of a Hugging Face dataset, both labeled."""
    hub = params.hub
    if not hub.name:
        raise DataError("dataset 'hub' needs data.hub.name: a dataset id on the hub (or a save_to_disk folder)")
    splits = {}
    for name, split in (("train", hub.train_split), ("test", hub.test_split)):
        splits[name] = read_hub(hub.name, hub.config, split, list(params.text_columns), params.label_column,
                                params.id_column, id_prefix=name)
    labels = label_set(list(splits.values()), params.labels, hub.name)
    return Dataset("hub", by_id(splits["train"]), by_id(splits["test"]), labels)


def _with_seed_set(seed: pd.DataFrame, pool: pd.DataFrame, test: pd.DataFrame, declared, source: str) -> Dataset:
    train = pd.concat([seed, pool], ignore_index=True)
    shared = train["id"][train["id"].duplicated()]
    if len(shared):
        raise DataError(f"ids in both the seed file and the pool: {listing(shared)}; an instance is either "
                        "labeled (seed) or waiting (pool): remove it from one of them")
    labels = label_set([seed, test], declared, source)
    return Dataset("files", by_id(train), by_id(test), labels, seed_ids=tuple(sorted(seed["id"])))
