"""The `cartal` command: help, strategy listing, one clear error line, `rounds`."""

import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cartal.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_help_lists_every_stage_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("prepare", "embed", "train-seed", "record-dynamics", "build-map", "select",
                    "merge-labels", "evaluate", "report", "rounds", "strategies"):
        assert command in result.output


def test_strategies_lists_cartography_with_its_alias():
    result = runner.invoke(app, ["strategies"])
    assert result.exit_code == 0
    assert "cartography (alias: cal)" in result.output and "Zhang and Plank" in result.output


def test_bad_params_give_one_error_line_and_exit_1(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["model"]["lrr"] = 0.1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train-seed", "0"])
    assert result.exit_code == 1
    assert "error: params.yaml: unknown key 'model.lrr'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # nothing written


def test_stage_commands_outside_a_project_say_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["prepare"])
    assert result.exit_code == 1 and "no stages/ package" in result.output


def test_rounds_rewrites_params(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    result = runner.invoke(app, ["rounds", "4", "--params", str(path)])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(path.read_text())
    assert written["rounds"] == 4 and written["al"]["rounds"] == [0, 1, 2, 3, 4]
