"""Artifacts: every kind round-trips with its exact schema; bad files are named with the stage that writes them."""

import os
import shutil

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
    "SKIPPED": {"id": IDS, "round": [0, 0, 1]},
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
    dims = {column: np.asarray(EXAMPLES[name][column]).shape[1]
            for column, dtype in kind.columns if dtype == art.VECTOR}
    assert table.schema.equals(art.schema_for(kind, **dims))  # names, order, types, nullability
    assert all(field.nullable == (field.name in kind.nullable) for field in table.schema)
    for column, dtype in kind.columns:
        if dtype != art.VECTOR:
            assert table.column(column).to_pylist() == pytest.approx(list(EXAMPLES[name][column]))


EXACT = {
    "PREPARED": [("id", pa.string()), ("text", pa.string()), ("label", pa.string())],
    "LABELED": [("id", pa.string()), ("label", pa.string()), ("round", pa.int32())],
    "POOL": [("id", pa.string())],
    "SKIPPED": [("id", pa.string()), ("round", pa.int32())],
    "FEATURES": [("id", pa.string()), ("vector", pa.list_(pa.float32(), 4))],
    "TRAINING": [("epoch", pa.int32()), ("id", pa.string()), ("probs", pa.list_(pa.float32(), 4))],
    "DYNAMICS": [("id", pa.string()), ("epoch", pa.int32()), ("gold_prob", pa.float32()), ("correct", pa.bool_())],
    "OUTPUTS": [("id", pa.string()), ("labeled", pa.bool_()), ("hidden", pa.list_(pa.float32(), 4)),
                ("probs", pa.list_(pa.float32(), 2))],
    "DATA_MAP": [("id", pa.string()), ("confidence", pa.float64()), ("variability", pa.float64()),
                 ("correctness", pa.float64()), ("correctness_bin", pa.float64()), ("region", pa.string())],
    "SELECTED": [("id", pa.string()), ("score", pa.float64()), ("rank", pa.int32()), ("picked_by", pa.string())],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_schema_on_disk_is_exactly_the_documented_one(tmp_path, name):
    kind = getattr(art, name)
    path = art.write_table(art.table_from_columns(kind, EXAMPLES[name]), tmp_path / "x.parquet", kind)
    nullable = {"PREPARED": {"label"}}.get(name, set())  # an unlabeled pool's label is null
    expected = pa.schema([pa.field(column, dtype, nullable=column in nullable) for column, dtype in EXACT[name]])
    assert pq.read_schema(path).remove_metadata().equals(expected)


def test_numpy_and_pandas_inputs_are_cast_to_the_schema():
    import pandas as pd

    frame = pd.DataFrame({"id": IDS, "label": ["x", "y", "x"], "round": np.array([0, 1, 2], dtype=np.int64)})
    table = art.table_from_columns(art.LABELED, frame)
    assert table.schema.field("round").type == pa.int32() and table.column("round").to_pylist() == [0, 1, 2]
    table = art.table_from_columns(art.FEATURES, {"id": IDS, "vector": MATRIX.astype(np.float64)})
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 4)
    with pytest.raises(ValueError, match="2-D"):
        art.table_from_columns(art.FEATURES, {"id": IDS, "vector": np.zeros(3)})


def test_vectors_are_float32_matrices(tmp_path):
    table = art.table_from_columns(art.FEATURES, EXAMPLES["FEATURES"])
    matrix = art.vectors(table, "vector")
    assert matrix.dtype == np.float32 and matrix.shape == (3, 4)
    assert np.array_equal(matrix, MATRIX)
    # across chunks too, as a table read from several row groups can be
    path = tmp_path / "features.parquet"
    pq.write_table(pa.concat_tables([table, table]), path, row_group_size=2)
    back = art.read_table(path, art.FEATURES)
    assert np.array_equal(art.vectors(back, "vector"), np.r_[MATRIX, MATRIX])
    empty = art.table_from_columns(art.FEATURES, {"id": [], "vector": np.zeros((0, 5), np.float32)})
    assert art.vectors(empty, "vector").shape == (0, 5)


def test_read_a_subset_of_columns(tmp_path):
    path = art.write_table(art.table_from_columns(art.SELECTED, EXAMPLES["SELECTED"]), tmp_path / "s.parquet",
                           art.SELECTED)
    table = art.read_table(path, art.SELECTED, columns=["id", "rank"])
    assert table.column_names == ["id", "rank"] and table.column("rank").to_pylist() == [1, 2, 3]


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
    with pytest.raises(ArtifactError, match=r"pool\.parquet: not a unlabeled pool: column\(s\) id missing .*identifier"
                       ) as info:
        art.read_table(path, art.POOL)
    assert str(path) in str(info.value) and "'prepare or merge-labels'" in str(info.value)


def test_wrong_column_type(tmp_path):
    path = tmp_path / "labeled.parquet"
    pq.write_table(pa.table({"id": ["a"], "label": [3], "round": pa.array([0], pa.int32())}), path)
    expected = r"column 'label' of the labeled set has type int64, expected string"
    with pytest.raises(ArtifactError, match=expected) as info:
        art.read_table(path, art.LABELED)
    assert str(path) in str(info.value) and "the stage 'prepare or merge-labels' writes it" in str(info.value)


@pytest.mark.parametrize("column", [
    pa.array([[1.0, 2.0]], pa.list_(pa.float64(), 2)),  # doubles, not float32
    pa.array([[1.0, 2.0]], pa.list_(pa.float32())),  # variable length, not fixed size
])
def test_vector_column_of_the_wrong_type(tmp_path, column):
    path = tmp_path / "features.parquet"
    pq.write_table(pa.table({"id": ["a"], "vector": column}), path)
    with pytest.raises(ArtifactError, match=r"features\.parquet: column 'vector' of the features has type .*'embed'"):
        art.read_table(path, art.FEATURES)


def test_a_directory_where_the_file_should_be(tmp_path):
    (tmp_path / "map.parquet").mkdir()
    with pytest.raises(ArtifactError, match=r"map\.parquet: the data map is missing.*'build-map'"):
        art.read_table(tmp_path / "map.parquet", art.DATA_MAP)


def test_writing_a_table_of_the_wrong_kind_names_the_destination(tmp_path):
    path = tmp_path / "selected.parquet"
    with pytest.raises(ArtifactError, match=r"selected batch about to be written to .*selected\.parquet.*score"):
        art.write_table(art.table_from_columns(art.POOL, {"id": IDS}), path, art.SELECTED)
    assert not path.exists() and list(tmp_path.iterdir()) == []


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


def test_a_write_that_fails_inside_parquet_leaves_the_old_file(tmp_path):
    path = art.write_table(art.table_from_columns(art.POOL, {"id": IDS}), tmp_path / "pool.parquet", art.POOL)
    before = path.read_bytes()
    with_null = pa.Table.from_arrays([pa.array(["x", None])], schema=art.schema_for(art.POOL))  # schema fits, data not
    with pytest.raises((ArtifactError, pa.ArrowException)):
        art.write_table(with_null, path, art.POOL)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.parquet"]
    assert art.ids(art.read_table(path, art.POOL)).tolist() == IDS


def test_json_round_trip_and_errors(tmp_path):
    path = art.write_json({"labels": ["b", "a"], "n": 2}, tmp_path / "sub" / "labels.json")
    assert art.read_json(path, "label set", "prepare") == {"labels": ["b", "a"], "n": 2}
    with pytest.raises(ArtifactError, match=r"absent\.json: the label set is missing; .*'prepare'"):
        art.read_json(tmp_path / "absent.json", "label set", "prepare")
    path.write_text("{not json")
    with pytest.raises(ArtifactError, match=r"labels\.json: the label set is not valid JSON .*'prepare'"):
        art.read_json(path, "label set", "prepare")


def test_artifacts_get_the_usual_file_permissions_under_the_umask_of_the_write(tmp_path):
    table = art.table_from_columns(art.POOL, {"id": IDS})
    path = art.write_table(table, tmp_path / "pool.parquet", art.POOL)
    assert path.stat().st_mode & 0o777 == art.file_mode() != 0o600  # not mkstemp's owner-only 0600
    previous = os.umask(0o077)  # as a warm worker's child does when its client has umask 077
    try:
        assert art.write_table(table, tmp_path / "private.parquet", art.POOL).stat().st_mode & 0o777 == 0o600
        previous_then = os.umask(0o002)
        assert art.write_table(table, tmp_path / "shared.parquet", art.POOL).stat().st_mode & 0o777 == 0o664
        os.umask(previous_then)
    finally:
        os.umask(previous)


def test_a_write_is_fsyncd_file_then_folder_before_and_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def recording_fsync(fd):
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), (tmp_path / "pool.parquet").exists()))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    art.write_table(art.table_from_columns(art.POOL, {"id": IDS}), tmp_path / "pool.parquet", art.POOL)
    (file, renamed_yet), (folder, renamed_then) = synced
    assert os.path.basename(file).startswith(".pool.parquet.") and file.endswith(".tmp") and not renamed_yet
    assert folder == str(tmp_path) and renamed_then


def test_a_write_clears_the_temporary_files_a_killed_writer_of_the_same_target_left(tmp_path):
    left = [tmp_path / ".pool.parquet.k1ll3d_a.tmp", tmp_path / ".pool.parquet.k1ll3d_b.tmp"]
    other = tmp_path / ".labeled.parquet.k1ll3d_c.tmp"  # another target's: perhaps being written now
    for path in (*left, other):
        path.write_bytes(b"half")
    art.write_table(art.table_from_columns(art.POOL, {"id": IDS}), tmp_path / "pool.parquet", art.POOL)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, "pool.parquet"])


def test_dvc_leaves_temporary_files_out_of_an_outputs_hash(tmp_path):
    from dvc.repo import Repo

    from projects import ROOT, run

    shutil.copy(ROOT / ".dvcignore", tmp_path / ".dvcignore")
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    repo = Repo(str(tmp_path))
    folder = tmp_path / "data" / "rounds" / "0"
    assert repo.dvcignore.is_ignored_file(str(folder / ".training.parquet.ab12cd34.tmp"))
    assert not repo.dvcignore.is_ignored_file(str(folder / "training.parquet"))
