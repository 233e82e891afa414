"""The `cartal` command: help, strategy listing, one clear error line, `rounds`."""

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cartal.cli import STAGES, app
from cartal.params import load_params
from cartal.strategies import available

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
    names = [line.split()[0] for line in result.output.splitlines() if line and not line.startswith(" ")]
    assert names == [info.name for info in available()]


def test_learners_lists_each_learner_with_what_it_reads():
    result = runner.invoke(app, ["learners"])
    assert result.exit_code == 0
    assert "mlp\n" in result.output and "reads: features" in result.output
    assert "transformer\n" in result.output and "reads: texts" in result.output


@pytest.mark.parametrize("command, per_round, summary", [(c, r, h) for c, _, r, h in STAGES])
def test_stage_commands_have_help(command, per_round, summary):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "--params" in result.output
    assert " ".join(summary.split()[:4]) in result.output
    assert ("active-learning round" in result.output) == per_round


def test_a_bad_dataset_in_a_stage_command(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["dataset"] = "imdb"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["prepare", "--params", "p.yaml"])
    assert result.exit_code == 1 and "error: p.yaml: 'dataset' is 'imdb'" in result.output
    assert "Traceback" not in result.output


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
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "model.lrr" in errors[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "data").exists()  # nothing written


def test_stage_commands_outside_a_project_say_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["prepare"])
    assert result.exit_code == 1 and "no stages/ package" in result.output


def test_rounds_rewrites_params_and_writes_a_pipeline_per_round(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    result = runner.invoke(app, ["rounds", "4", "--params", str(path)])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(path.read_text())
    assert written["rounds"] == 4 and "rounds = 4" in result.output
    assert sorted(p.parent.name for p in (tmp_path / "rounds").glob("*/dvc.yaml")) == ["0", "1", "2", "3", "4"]
    assert "select" in yaml.safe_load((tmp_path / "rounds/3/dvc.yaml").read_text())["stages"]
    assert "select" not in yaml.safe_load((tmp_path / "rounds/4/dvc.yaml").read_text())["stages"]
    assert load_params(path).rounds == 4
    assert yaml.safe_load(path.read_text())["model"] == yaml.safe_load((ROOT / "params.yaml").read_text())["model"]


def test_rounds_refuses_a_bad_file_and_a_negative_count(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("rounds: 2\nmodel: {lrr: 1}\n")
    result = runner.invoke(app, ["rounds", "4", "--params", str(path)])
    assert result.exit_code == 1 and "unknown key 'model.lrr'" in result.output and "Traceback" not in result.output
    assert path.read_text() == "rounds: 2\nmodel: {lrr: 1}\n"
    assert runner.invoke(app, ["rounds", "-1", "--params", str(path)]).exit_code == 2  # a usage error


@pytest.mark.parametrize("args, message", [
    (["--preset", "paper"], "--preset 'paper' is not one of reference"),
    (["--findings", "f.yaml"], "--findings is judged by --check; add --check"),
    (["--check", "--findings", "absent.yaml"], "findings file absent.yaml does not exist"),
])
def test_reproduce_refuses_a_bad_preset_or_findings_before_running_anything(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["reproduce", *args])
    assert result.exit_code == 1 and message in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_the_reference_preset_names_every_reference_option_and_they_load_together(tmp_path):
    from dvc.utils.hydra import apply_overrides

    from cartal.experiments.grid import PRESETS

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_overrides(str(tmp_path / "params.yaml"), list(PRESETS["reference"]))
    params = load_params(tmp_path / "params.yaml")
    assert params.model.warm_start and params.model.warm_start_optimizer and not params.model.shuffle
    assert params.model.eval_dropout and params.cal.probe_features == "first-epoch" and params.data.shared_seed_set
