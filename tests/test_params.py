"""params.yaml: the repo's own file loads; every bad key is named; `cartal rounds` rewrites the al block."""

import shutil
from pathlib import Path

import pytest
import yaml

from cartal.errors import ParamsError
from cartal.params import load_params, params_from_dict, rounds_block, set_rounds

ROOT = Path(__file__).resolve().parents[1]


def repo_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_repos_params_load():
    params = load_params(ROOT / "params.yaml")
    assert params.trained_rounds == tuple(range(params.rounds + 1))
    assert [q.next for q in params.al_queries] == list(range(1, params.rounds + 1))


@pytest.mark.parametrize("change, message", [
    (lambda p: p["model"].update(lrr=1), r"unknown key 'model.lrr'"),
    (lambda p: p.update(colour="red"), r"unknown key 'colour'"),
    (lambda p: p["model"].update(epochs="five"), r"'model.epochs' must be int, got 'five'"),
    (lambda p: p.update(dataset="agnews"), r"'dataset' is 'agnews'; known datasets: bbc, trec"),
    (lambda p: p.update(batch_size=0), r"'batch_size' must be at least 1"),
    (lambda p: p["cal"].update(tau=1.5), r"'cal.tau' must be in \[0, 1\]"),
    (lambda p: p["model"].update(dropout=1.0), r"'model.dropout'"),
    (lambda p: p.update(rounds=30), r"'rounds' is 30 but the 'al' block lists \d+ query rounds; run `cartal rounds 30`"),
])
def test_bad_values_are_named(change, message):
    raw = repo_params()
    change(raw)
    with pytest.raises(ParamsError, match=message):
        params_from_dict(raw)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_set_rounds_rewrites_rounds_and_al_and_keeps_the_rest(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    before = path.read_text()
    set_rounds(path, 3)
    after = load_params(path)
    assert after.rounds == 3 and after.al_rounds == (0, 1, 2, 3)
    assert [(q.k, q.next) for q in after.al_queries] == [(0, 1), (1, 2), (2, 3)]
    text = path.read_text()
    assert "# fixes L0, every weight initialisation" in text  # comments survive
    assert text.count("\nal:") == 1
    set_rounds(path, load_params(ROOT / "params.yaml").rounds)
    assert path.read_text() == before


def test_rounds_block_is_yaml_for_zero_rounds_too():
    assert yaml.safe_load(rounds_block(0)) == {"al": {"rounds": [0], "queries": []}}
    assert yaml.safe_load(rounds_block(2))["al"]["queries"] == [{"k": 0, "next": 1}, {"k": 1, "next": 2}]
