"""The Parquet artifacts that stages exchange: their schemas, atomic writes and checked reads.

Every artifact kind has one schema here and names the stage that writes it, so
a reader that finds a missing, corrupt or foreign file can say which stage to
rerun. Writes go to a temporary file beside the target, fsync'd and renamed
into place, so an interrupted stage or a power cut never leaves a truncated
file behind.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cartal.errors import ArtifactError
from cartal.profiling import counts_as_io

VECTOR = "vector"  # marks a column of fixed-size float32 lists of any dimension


TEMP_SUFFIX = ".tmp"  # of the temporary files beside a target; .dvcignore leaves them out of DVC's hashes


def file_mode() -> int:
    """The mode a new file gets under the umask now: read per write, as a warm worker's child takes its
    client's umask after the module was imported."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@dataclass(frozen=True)
class Kind:
    """One kind of artifact: its columns and the stage that writes it."""

    name: str
    writer: str
    columns: tuple[tuple[str, object], ...]
    nullable: tuple[str, ...] = ()  # columns that may hold nulls

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


# the label of a pool instance is null when the user's pool is unlabeled (oracle: human)
PREPARED = Kind("prepared split", "prepare", (("id", pa.string()), ("text", pa.string()), ("label", pa.string())),
                nullable=("label",))
LABELED = Kind("labeled set", "prepare or merge-labels", (("id", pa.string()), ("label", pa.string()), ("round", pa.int32())))
POOL = Kind("unlabeled pool", "prepare or merge-labels", (("id", pa.string()),))
SKIPPED = Kind("skipped ids", "merge-labels", (("id", pa.string()), ("round", pa.int32())))
FEATURES = Kind("features", "embed", (("id", pa.string()), ("vector", VECTOR)))
TRAINING = Kind("training log", "train-seed", (("epoch", pa.int32()), ("id", pa.string()), ("probs", VECTOR)))
# the hidden layer of L in the first epoch's training forward passes: CAL's probe learns it with
# cal.probe_features: first-epoch (no rows otherwise)
FIRST_EPOCH = Kind("first-epoch hidden layer", "train-seed", (("id", pa.string()), ("hidden", VECTOR)))
DYNAMICS = Kind(
    "training dynamics", "record-dynamics",
    (("id", pa.string()), ("epoch", pa.int32()), ("gold_prob", pa.float32()), ("correct", pa.bool_())),
)
OUTPUTS = Kind(
    "model outputs", "record-dynamics",
    (("id", pa.string()), ("labeled", pa.bool_()), ("hidden", VECTOR), ("probs", VECTOR)),
)
DATA_MAP = Kind(
    "data map", "build-map",
    (
        ("id", pa.string()), ("confidence", pa.float64()), ("variability", pa.float64()),
        ("correctness", pa.float64()), ("correctness_bin", pa.float64()), ("region", pa.string()),
    ),
)
SELECTED = Kind(
    "selected batch", "select",
    (("id", pa.string()), ("score", pa.float64()), ("rank", pa.int32()), ("picked_by", pa.string())),
)


def vector_type(dim: int) -> pa.DataType:
    return pa.list_(pa.float32(), dim)


def schema_for(kind: Kind, **dims: int) -> pa.Schema:
    """The concrete Arrow schema; ``dims`` gives the size of each vector column."""
    fields = []
    for name, dtype in kind.columns:
        if dtype == VECTOR:
            if name not in dims:
                raise ValueError(f"{kind.name}: the dimension of column '{name}' is needed")
            dtype = vector_type(dims[name])
        fields.append(pa.field(name, dtype, nullable=name in kind.nullable))
    return pa.schema(fields)


def table_from_columns(kind: Kind, columns: dict[str, object]) -> pa.Table:
    """Build a table of ``kind`` from python lists and numpy arrays (2-D arrays become vectors)."""
    arrays, dims = {}, {}
    for name, dtype in kind.columns:
        value = columns[name]
        if dtype == VECTOR:
            matrix = np.ascontiguousarray(value, dtype=np.float32)
            if matrix.ndim != 2:
                raise ValueError(f"{kind.name}: column '{name}' needs a 2-D array")
            dims[name] = matrix.shape[1]
            arrays[name] = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])
        elif isinstance(value, (pa.Array, pa.ChunkedArray)):
            arrays[name] = (value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value).cast(dtype)
        else:
            arrays[name] = pa.array(value, type=dtype)
    schema = schema_for(kind, **dims)
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    The file and its folder are fsync'd, so that after a power cut the target is the old file or the new
    one, never an empty one under its final name. Temporary files of this target that a killed writer left
    are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    for stale in path.parent.glob(glob.escape(prefix) + "*" + TEMP_SUFFIX):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # set after the block: a writer may replace the file mkstemp made (owner-only) with one of its own
        os.chmod(tmp, file_mode())
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
        _fsync(path.parent, os.O_RDONLY | os.O_DIRECTORY)  # the rename is durable once the folder is
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync(path: str | Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@counts_as_io
def write_table(table: pa.Table, path: str | Path, kind: Kind) -> Path:
    """Check ``table`` against ``kind`` and write it atomically as Parquet."""
    check_schema(table.schema, kind, source=f"the {kind.name} about to be written to {path}")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


@counts_as_io
def read_table(path: str | Path, kind: Kind, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet artifact and check it against its schema before anyone uses it."""
    path = Path(path)
    rerun = f"run `dvc repro` (the stage '{kind.writer}' writes it)"
    if not path.is_file():
        raise ArtifactError(f"{path}: the {kind.name} is missing; {rerun}")
    try:
        schema = pq.read_schema(path)
        check_schema(schema, kind, source=str(path))
        table = pq.read_table(path, columns=columns)
    except ArtifactError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise ArtifactError(
            f"{path}: not a readable Parquet {kind.name} ({exc}); delete it and {rerun}"
        ) from exc
    return table


def check_schema(schema: pa.Schema, kind: Kind, source: str) -> None:
    names = schema.names
    missing = [name for name in kind.column_names if name not in names]
    if missing:
        raise ArtifactError(
            f"{source}: not a {kind.name}: column(s) {', '.join(missing)} missing "
            f"(found {', '.join(names) or 'none'}); the stage '{kind.writer}' writes it"
        )
    for name, expected in kind.columns:
        actual = schema.field(name).type
        ok = pa.types.is_fixed_size_list(actual) and actual.value_type == pa.float32() if expected == VECTOR else actual == expected
        if not ok:
            raise ArtifactError(
                f"{source}: column '{name}' of the {kind.name} has type {actual}, expected "
                f"{'fixed-size list<float>' if expected == VECTOR else expected}; "
                f"the stage '{kind.writer}' writes it"
            )


def vectors(table: pa.Table, column: str) -> np.ndarray:
    """A fixed-size list column as an (n, d) float32 matrix, without a Python loop."""
    array = table.column(column).combine_chunks()
    dim = array.type.list_size
    return array.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


def ids(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("id").to_pylist(), dtype=object)


@counts_as_io
def write_json(obj, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    return Path(path)


@counts_as_io
def read_json(path: str | Path, what: str, writer: str):
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: the {what} is missing; run `dvc repro` (the stage '{writer}' writes it)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: the {what} is not valid JSON ({exc}); the stage '{writer}' writes it") from exc
