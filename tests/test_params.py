"""params.yaml: the repo's own file loads; every bad key is named; `cartal rounds` rewrites `rounds` in place."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from cartal.errors import ParamsError
from cartal.params import load_params, params_from_dict, set_rounds

ROOT = Path(__file__).resolve().parents[1]


def repo_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_repos_params_load():
    params = load_params(ROOT / "params.yaml")
    assert params.trained_rounds == tuple(range(params.rounds + 1))
    assert params.query_rounds == tuple(range(params.rounds))


@pytest.mark.parametrize("change, message", [
    (lambda p: p["model"].update(lrr=1), r"unknown key 'model.lrr'"),
    (lambda p: p.update(colour="red"), r"unknown key 'colour'"),
    (lambda p: p["model"].update(epochs="five"), r"'model.epochs' must be int, got 'five'"),
    (lambda p: p.update(dataset="imdb"), r"'dataset' is 'imdb'; known datasets: bbc, trec, agnews"),
    (lambda p: p.update(batch_size=0), r"'batch_size' must be at least 1"),
    (lambda p: p["cal"].update(tau=1.5), r"'cal.tau' must be in \[0, 1\]"),
    (lambda p: p["model"].update(dropout=1.0), r"'model.dropout'"),
    (lambda p: p.update(rounds=-1), r"'rounds' must be 0 or more, got -1"),
    (lambda p: p["encoder"].update(device="gpu"), r"'encoder.device' is 'gpu'; use cpu, cuda, cuda:N or mps"),
    (lambda p: p.update(oracle="crowd"),
     r"'oracle' is 'crowd'; use gold \(simulation with the dataset's labels\) or human"),
    (lambda p: p["data"].update(text_columns=[]), r"'data.text_columns' must be a non-empty list of names"),
    (lambda p: p.update(al={"rounds": [0, 1]}), r"the 'al' block is gone: .*run `cartal rounds N`"),
    (lambda p: p.update(seed=True), r"'seed' must be int, got True"),
    (lambda p: p["model"].update(epochs=3.0), r"'model.epochs' must be int, got 3.0"),
    (lambda p: p["model"].update(hidden_dim="big"), r"'model.hidden_dim' must be int or null"),
    (lambda p: p["data"].update(test_size=1), r"'data.test_size' must be between 0 and 1"),
    (lambda p: p["data"].update(max_train=1), r"'data.max_train' must be null or at least 2"),
    (lambda p: p["cal"].update(dynamics="testing"), r"'cal.dynamics' is 'testing'"),
    (lambda p: p["cal"].update(probe_lr=0), r"'cal.probe_lr' must be positive"),
    (lambda p: p.update(model=5), r"'model' must be a mapping"),
    (lambda p: p["map"].update(easy=0.5), r"unknown key 'map.easy'"),
    (lambda p: p["model"].update(lr=float("nan")), r"'model.lr' must be a finite number, got nan"),
    (lambda p: p["model"].update(lr=float("inf")), r"'model.lr' must be a finite number, got inf"),
    (lambda p: p["data"].update(test_size=float("nan")), r"'data.test_size' must be a finite number"),
    (lambda p: p["cal"].update(tau=float("nan")), r"'cal.tau' must be a finite number"),
    (lambda p: p["map"].update(ambiguous_quantile=float("-inf")), r"'map.ambiguous_quantile' must be a finite"),
    (lambda p: p["model"].update(hidden_dim=-3), r"'model.hidden_dim' must be null \(the feature dimension\) or at "
                                                 r"least 1, got -3"),
    (lambda p: p["model"].update(hidden_dim=0), r"'model.hidden_dim' must be null .* got 0"),
    (lambda p: p["model"].update(weight_decay=-0.1), r"'model.weight_decay' must be 0 or more, got -0.1"),
    (lambda p: p.setdefault("map", {}).update(easy_confidence=5), r"'map.easy_confidence' must be in \[0, 1\], got 5"),
    (lambda p: p["stopping"].update(window=0), r"'stopping.window' must be at least 1, got 0"),
    (lambda p: p["stopping"].update(stop_set_size=0), r"'stopping.stop_set_size' must be at least 1"),
    (lambda p: p["stopping"].update(kappa=1.5), r"'stopping.kappa' must be in \(0, 1\], got 1.5"),
    (lambda p: p["stopping"].update(classification_change=-0.1), r"'stopping.classification_change' must be in"),
    (lambda p: p["stopping"].update(overall_uncertainty=1), r"'stopping.overall_uncertainty' must be in \[0, 1\)"),
    (lambda p: p["stopping"].update(kappa="high"), r"'stopping.kappa' must be float, got 'high'"),
    (lambda p: p["label_studio"].update(url="localhost:8080"), r"'label_studio.url' is 'localhost:8080'; use the "
                                                               r"address of the Label Studio server, as http://"),
    (lambda p: p["label_studio"].update(project="  "), r"'label_studio.project' is empty"),
    (lambda p: p["label_studio"].update(token_env="abc-123 secret"),
     r"'label_studio.token_env' is 'abc-123 secret'; give the name of an environment variable .* never the token"),
    (lambda p: p["label_studio"].update(token="x"), r"unknown key 'label_studio.token'"),
])
def test_bad_values_are_named(change, message):
    raw = repo_params()
    change(raw)
    with pytest.raises(ParamsError, match=message):
        params_from_dict(raw)


def test_the_repos_params_values_and_types():
    params = load_params(ROOT / "params.yaml")
    raw = repo_params()
    assert (params.dataset, params.strategy, params.seed) == (raw["dataset"], raw["strategy"], raw["seed"])
    assert params.model.lr == raw["model"]["lr"] and isinstance(params.model.lr, float)
    assert params.cal.tau == raw["cal"]["tau"] and params.map.easy_confidence == raw["map"]["easy_confidence"]
    assert params.rounds == raw["rounds"] and params.oracle == raw["oracle"]


def test_ints_are_accepted_for_floats_and_omitted_keys_take_defaults():
    params = params_from_dict({"model": {"lr": 1}, "rounds": 1})
    assert params.model.lr == 1.0 and isinstance(params.model.lr, float)
    assert params.model.epochs == 30 and params.dataset == "bbc" and params.data.trec_dir is None
    assert params.query_rounds == (0,) and params.trained_rounds == (0, 1)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_set_rounds_rewrites_rounds_and_keeps_the_rest(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    before = path.read_text()
    assert set_rounds(path, 3).rounds == 3 and load_params(path).rounds == 3
    assert "# fixes L0, every weight initialisation" in path.read_text()  # comments survive
    set_rounds(path, load_params(ROOT / "params.yaml").rounds)
    assert path.read_text() == before


def test_set_rounds_keeps_every_other_key_and_the_comment_on_the_rounds_line(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    original = repo_params()
    set_rounds(path, 2)
    written = yaml.safe_load(path.read_text())
    assert {k: v for k, v in written.items() if k != "rounds"} == {k: v for k, v in original.items() if k != "rounds"}
    rounds_line = next(line for line in path.read_text().splitlines() if line.startswith("rounds:"))
    original_line = next(line for line in (ROOT / "params.yaml").read_text().splitlines() if line.startswith("rounds:"))
    assert rounds_line.split("#", 1)[1] == original_line.split("#", 1)[1]  # its comment is kept
    assert rounds_line.split("#", 1)[0].split() == ["rounds:", "2"]


def test_set_rounds_drops_the_al_block_that_earlier_versions_wrote(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("# my experiment\nrounds: 5\nal:\n  rounds: [0]\n  queries: []\nseed: 7  # mine\n")
    with pytest.raises(ParamsError, match="the 'al' block is gone"):
        load_params(path)
    set_rounds(path, 0)
    params = load_params(path)
    assert (params.rounds, params.seed) == (0, 7)
    text = path.read_text()
    assert text.startswith("# my experiment\n") and "seed: 7  # mine" in text and "al:" not in text


def test_a_refused_set_rounds_leaves_the_file_alone(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    path.write_text(re.sub(r"^(model:.*)$", r"\1\n  lrr: 0.1", path.read_text(), count=1, flags=re.M))
    before = path.read_text()
    with pytest.raises(ParamsError, match="unknown key 'model.lrr'"):
        set_rounds(path, 3)
    with pytest.raises(ParamsError, match="0 or more"):
        set_rounds(path, -1)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]
    (tmp_path / "other.yaml").write_text("seed: 1\n")
    with pytest.raises(ParamsError, match="no top-level 'rounds'"):
        set_rounds(tmp_path / "other.yaml", 3)


@pytest.mark.parametrize("override", ["strategy=random", "data.max_train=300", "model.hidden_dim=128",
                                      "stopping.window=4"])
@pytest.mark.integration  # DVC's own parameter writer
def test_dvc_exp_run_set_param_changes_only_the_line_it_sets(tmp_path, override):
    """`dvc exp run -S` rewrites params.yaml through ruamel (DVC's apply_overrides): params.yaml is written as
    ruamel writes it (an empty value, not `null`), so that an experiment's diff is the one line it sets."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    apply_overrides(path, [override])
    before, after = (ROOT / "params.yaml").read_text().splitlines(), path.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after) if old != new]
    assert len(before) == len(after) and len(changed) == 1
    key, value = override.rsplit(".", 1)[-1].split("=")
    assert changed[0][1].split("#")[0].split() == [f"{key}:", value]


def test_label_studio_is_off_by_default_and_takes_an_address():
    assert load_params(ROOT / "params.yaml").label_studio.url is None  # the batch files, as before
    raw = repo_params()
    raw["label_studio"].update(url="https://label.example.com/ls/", project="TREC round trip")
    settings = params_from_dict(raw).label_studio
    assert (settings.url, settings.project, settings.token_env) == ("https://label.example.com/ls/",
                                                                    "TREC round trip", "LABEL_STUDIO_API_KEY")
