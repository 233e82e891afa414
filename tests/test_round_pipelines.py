"""rounds/<k>/dvc.yaml: what `cartal rounds N` writes, and the check every stage makes against params.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cartal.errors import ParamsError
from cartal.params import load_params, set_rounds
from stages.pipeline import check_round_pipelines, round_pipelines, write_round_pipelines

ROOT = Path(__file__).resolve().parents[1]
ROUND_STAGES = ["train-seed", "record-dynamics", "build-map", "select", "merge-labels", "evaluate"]


def project(tmp_path: Path, rounds: int, oracle: str = "gold"):
    text = (ROOT / "params.yaml").read_text().replace("oracle: gold", f"oracle: {oracle}")
    (tmp_path / "params.yaml").write_text(text)
    params = set_rounds(tmp_path / "params.yaml", rounds)
    write_round_pipelines(tmp_path, rounds, params.oracle)
    return params


def stages_of(tmp_path: Path, k: int) -> dict:
    return yaml.safe_load((tmp_path / f"rounds/{k}/dvc.yaml").read_text())["stages"]


def test_every_round_trains_maps_and_is_evaluated_and_all_but_the_last_query(tmp_path):
    project(tmp_path, 3)
    for k in range(3):
        assert list(stages_of(tmp_path, k)) == ROUND_STAGES
    assert list(stages_of(tmp_path, 3)) == [s for s in ROUND_STAGES if s not in ("select", "merge-labels")]
    merge = stages_of(tmp_path, 1)["merge-labels"]
    assert merge["cmd"] == "cartal merge-labels 1" and merge["wdir"] == "../.."
    assert "data/prepared/train.parquet" in merge["deps"]
    assert [next(iter(out)) for out in merge["outs"]] == [
        "data/rounds/2/labeled.parquet", "data/rounds/2/pool.parquet", "data/rounds/2/skipped.parquet"]


def test_stage_paths_are_the_ones_the_stages_use(tmp_path):
    from cartal import layout

    project(tmp_path, 1)
    stage = stages_of(tmp_path, 0)
    assert str(layout.in_round(0, "model.safetensors")) in stage["train-seed"]["outs"]
    assert {str(layout.round_metrics(0)): {"cache": False}} in stage["evaluate"]["outs"]
    assert str(layout.features("train")) in stage["select"]["deps"]


def test_a_human_oracle_reads_each_rounds_labels_from_its_annotation_folder(tmp_path):
    project(tmp_path, 2, oracle="human")
    assert "annotations/round-0" in stages_of(tmp_path, 0)["merge-labels"]["deps"]
    assert "annotations/round-1" in stages_of(tmp_path, 1)["merge-labels"]["deps"]
    check_round_pipelines(tmp_path, load_params(tmp_path / "params.yaml"))


def test_fewer_rounds_remove_the_later_round_folders_with_their_locks(tmp_path):
    project(tmp_path, 4)
    (tmp_path / "rounds/4/dvc.lock").write_text("schema: '2.0'\n")
    (tmp_path / "rounds/notes").mkdir()  # not a round: left alone
    project(tmp_path, 2)
    assert sorted(p.name for p in (tmp_path / "rounds").iterdir()) == ["0", "1", "2", "notes"]
    check_round_pipelines(tmp_path, load_params(tmp_path / "params.yaml"))


def test_rewriting_the_same_rounds_leaves_the_files_alone(tmp_path):
    project(tmp_path, 2)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "rounds").glob("*/dvc.yaml")}
    project(tmp_path, 2)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "rounds").glob("*/dvc.yaml")} == before


@pytest.mark.parametrize("change, message", [
    (lambda root: set_rounds(root / "params.yaml", 4),
     r"'rounds' is 4, so rounds/0 to rounds/4 should hold the round pipelines, but 1 of them is missing "
     r"\(rounds/4/dvc.yaml first\); run `cartal rounds 4` to write them"),
    (lambda root: set_rounds(root / "params.yaml", 1),
     r"but rounds/2/dvc.yaml and 1 more are beyond them; run `cartal rounds 1`"),
    (lambda root: shutil.rmtree(root / "rounds"), r"4 of them are missing \(rounds/0/dvc.yaml first\)"),
    (lambda root: (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace("oracle: gold", "oracle: human")),
     r"rounds/0/dvc.yaml does not match params.yaml \('rounds' 3, 'oracle' human\) or was edited; "
     r"run `cartal rounds 3`"),
    (lambda root: (root / "rounds/2/dvc.yaml").write_text(
        (root / "rounds/2/dvc.yaml").read_text().replace("- map\n", "- map\n      - seed\n")),
     r"rounds/2/dvc.yaml does not match .* or was edited; run `cartal rounds 3` .*stages/pipeline.py"),
])
def test_a_mismatch_with_params_is_named_with_the_fix(tmp_path, change, message):
    project(tmp_path, 3)
    change(tmp_path)
    with pytest.raises(ParamsError, match=message):
        check_round_pipelines(tmp_path, load_params(tmp_path / "params.yaml"))


def test_the_repos_own_round_pipelines_match_its_params():
    params = load_params(ROOT / "params.yaml")
    check_round_pipelines(ROOT, params)
    assert len(round_pipelines(params.rounds, params.oracle)) == params.rounds + 1
