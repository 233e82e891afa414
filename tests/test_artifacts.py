"""Artifacts: every kind round-trips with its exact schema; bad files are named with the stage that writes them."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartal.errors import ArtifactError
from cartal.io import artifacts as art

IDS = ["a", "b", "c"]
MATRIX = np.arange(12, dtype=np.float32).reshape(3, 4)
EXAMPLES = {
    "PREPARED": {"id": IDS, "text": ["t1", "t2", "t3"], "label": ["x", "y", "x"]},
    "LABELED": {"id": IDS, "label": ["x", "y", "x"], "round": [0, 0, 1]},
    "POOL": {"id": IDS},
    "FEATURES": {"id": IDS, "vector": MATRIX},
    "TRAINING": {"epoch": [1, 1, 2], "id": IDS, "probs": MATRIX},
    "DYNAMICS": {"id": IDS, "epoch": [1, 2, 3], "gold_prob": [0.1, 0.5, 0.9], "correct": [False, True, True]},
    "OUTPUTS": {"id": IDS, "labeled": [True, False, False], "hidden": MATRIX, "probs": MATRIX[:, :2]},
    "DATA_MAP": {"id": IDS, "confidence": [0.1, 0.2, 0.3], "variability": [0.0, 0.1, 0.2],
                 "correctness": [0.0, 0.5, 1.0], "correctness_bin": [0.0, 0.4, 1.0],
                 "region": ["hard-to-learn", "ambiguous", "easy-to-learn"]},
    "SELECTED": {"id": IDS, "score": [0.9, 0.5, 0.1], "rank": [1, 2, 3], "picked_by": ["random"] * 3},
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_kind_round_trips_with_its_schema(tmp_path, name):
    kind = getattr(art, name)
    path = art.write_table(art.table_from_columns(kind, EXAMPLES[name]), tmp_path / f"{name}.parquet", kind)
    table = art.read_table(path, kind)
    assert table.column_names == kind.column_names
    for field in table.schema:
        expected = dict(kind.columns)[field.name]
        if expected == art.VECTOR:
            assert pa.types.is_fixed_size_list(field.type) and field.type.value_type == pa.float32()
            assert np.array_equal(art.vectors(table, field.name), np.asarray(EXAMPLES[name][field.name]))
        else:
            assert field.type == expected
    assert art.ids(table).tolist() == IDS


def test_vectors_are_float32_matrices(tmp_path):
    table = art.table_from_columns(art.FEATURES, EXAMPLES["FEATURES"])
    matrix = art.vectors(table, "vector")
    assert matrix.dtype == np.float32 and matrix.shape == (3, 4)


def test_missing_file_names_the_stage(tmp_path):
    with pytest.raises(ArtifactError, match=r"missing\.parquet: the data map is missing; .*'build-map'"):
        art.read_table(tmp_path / "missing.parquet", art.DATA_MAP)


def test_corrupt_file_names_itself_and_the_stage(tmp_path):
    path = tmp_path / "selected.parquet"
    path.write_bytes(os.urandom(300))
    with pytest.raises(ArtifactError, match=r"selected\.parquet: not a readable Parquet selected batch.*'select'"):
        art.read_table(path, art.SELECTED)


def test_foreign_file_missing_a_column(tmp_path):
    path = tmp_path / "pool.parquet"
    pq.write_table(pa.table({"identifier": ["a"]}), path)
    with pytest.raises(ArtifactError, match=r"pool\.parquet: not a unlabeled pool: column\(s\) id missing .*identifier"):
        art.read_table(path, art.POOL)


def test_wrong_column_type(tmp_path):
    path = tmp_path / "labeled.parquet"
    pq.write_table(pa.table({"id": ["a"], "label": [3], "round": pa.array([0], pa.int32())}), path)
    with pytest.raises(ArtifactError, match=r"column 'label' of the labeled set has type int64, expected string"):
        art.read_table(path, art.LABELED)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = art.write_table(art.table_from_columns(art.POOL, {"id": IDS}), tmp_path / "pool.parquet", art.POOL)
    before = path.read_bytes()
    with pytest.raises(ArtifactError):
        art.write_table(pa.table({"id": [1, 2]}), path, art.POOL)
    with pytest.raises(RuntimeError):
        with art.atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.parquet"]
