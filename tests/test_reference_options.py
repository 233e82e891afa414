"""The reference code's behaviour as options (paper-protocol.md, "Quirks"): each test fails if its option is ignored."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from cartal.errors import ArtifactError, ParamsError
from cartal.models.files import OPTIMISER, load_classifier, load_frozen, load_optimiser_state, save_classifier
from cartal.models.mlp import MLPClassifier, seeded
from cartal.models.optim import AdamW
from cartal.models.training import fit
from cartal.params import load_params
from cartal.strategies.cartography import Cartography
from cartal.testing import pool_state
from helpers import toy as separable
from projects import ROOT
from test_round_pipelines import project as round_project
from test_round_pipelines import stages_of


def toy(n=64):
    return separable(n=n)


def batches_seen(shuffle: bool, epochs: int = 3) -> list[np.ndarray]:
    """The instance order of each epoch, as fit's on_hidden sees it."""
    x, y = toy()
    model = seeded(lambda: MLPClassifier(6, 3), 1, 0, "classifier")
    seen: dict[int, list] = {}
    fit(model, x, y, epochs=epochs, batch_size=16, lr=1e-2, seed=1, shuffle=shuffle,
        on_hidden=lambda epoch, index, hidden: seen.setdefault(epoch, []).extend(index.tolist()))
    return [np.array(order) for _, order in sorted(seen.items())]


def test_without_shuffle_every_epoch_visits_the_instances_in_their_stored_order():
    unshuffled = batches_seen(shuffle=False)
    assert all(np.array_equal(order, np.arange(64)) for order in unshuffled)
    shuffled = batches_seen(shuffle=True)
    assert all(sorted(order) == list(range(64)) for order in shuffled)
    assert not np.array_equal(shuffled[0], np.arange(64)) and not np.array_equal(shuffled[0], shuffled[1])


def test_the_hidden_layer_given_to_on_hidden_is_the_one_the_head_is_trained_on():
    x, y = toy()
    plain = seeded(lambda: MLPClassifier(6, 3), 2, 0, "classifier")
    watched = seeded(lambda: MLPClassifier(6, 3), 2, 0, "classifier")
    first = np.zeros((64, 6), dtype=np.float32)
    fit(plain, x, y, epochs=2, batch_size=16, lr=1e-2, seed=2)

    def keep(epoch, index, hidden):
        if epoch == 0:
            first[index] = hidden.numpy()

    fit(watched, x, y, epochs=2, batch_size=16, lr=1e-2, seed=2, on_hidden=keep)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), watched.state_dict().values()))
    assert (first != 0).any(axis=1).sum() > 50  # every row written (ReLU zeroes some units, not whole rows)


def two_epochs(tmp_path, keep_optimiser: bool):
    """Weights after 1 epoch, a save and a load, and 1 more epoch; dropout 0 and no shuffling make the rest equal."""
    x, y = toy()
    model = seeded(lambda: MLPClassifier(6, 3, dropout=0.0), 4, 0, "classifier")
    optimiser = AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    fit(model, x, y, epochs=1, batch_size=16, lr=1e-2, seed=4, shuffle=False, optimiser=optimiser)
    path = save_classifier(model, ("a", "b", "c"), tmp_path / "round0.safetensors",
                           optimiser=optimiser if keep_optimiser else None)
    model, _ = load_classifier(path)
    model.train()
    carried = None
    if keep_optimiser:
        carried = AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
        carried.load_state_tensors(load_optimiser_state(path))
    fit(model, x, y, epochs=1, batch_size=16, lr=1e-2, seed=4, shuffle=False, optimiser=carried)
    return model


def test_a_warm_start_with_the_optimiser_state_continues_training_exactly(tmp_path):
    x, y = toy()
    straight = seeded(lambda: MLPClassifier(6, 3, dropout=0.0), 4, 0, "classifier")
    fit(straight, x, y, epochs=2, batch_size=16, lr=1e-2, seed=4, shuffle=False)
    continued = two_epochs(tmp_path, keep_optimiser=True)
    restarted = two_epochs(tmp_path, keep_optimiser=False)
    for name, weight in straight.state_dict().items():
        assert torch.allclose(continued.state_dict()[name], weight, atol=1e-6), name
    assert not all(torch.allclose(restarted.state_dict()[n], w, atol=1e-4) for n, w in straight.state_dict().items())


def test_the_optimiser_state_stays_out_of_the_weights_and_its_absence_is_named(tmp_path):
    x, y = toy()
    model = seeded(lambda: MLPClassifier(6, 3), 4, 0, "classifier")
    optimiser = AdamW(model.parameters(), lr=1e-2)
    fit(model, x, y, epochs=1, batch_size=16, lr=1e-2, seed=4, optimiser=optimiser)
    with_state = save_classifier(model, ("a", "b", "c"), tmp_path / "with.safetensors", optimiser=optimiser)
    without = save_classifier(model, ("a", "b", "c"), tmp_path / "without.safetensors")
    assert {k for k in load_optimiser_state(with_state)} == {f"{i}.{s}" for i in range(6)
                                                            for s in ("exp_avg", "exp_avg_sq", "step")}
    loaded, _ = load_classifier(with_state)
    assert not any(name.startswith(OPTIMISER) for name in loaded.state_dict())
    assert np.array_equal(load_frozen(with_state)[0].predict_proba(x), load_frozen(without)[0].predict_proba(x))
    with pytest.raises(ArtifactError, match="no optimiser state.*warm_start_optimizer"):
        load_optimiser_state(without)
    wrong = AdamW(MLPClassifier(5, 3).parameters(), lr=1e-2)
    with pytest.raises(ValueError, match="parameter 0"):
        wrong.load_state_tensors(load_optimiser_state(with_state))


def test_evaluation_with_dropout_on_is_seeded_and_differs_from_dropout_off(tmp_path):
    x, y = toy()
    model = seeded(lambda: MLPClassifier(6, 3, dropout=0.5), 5, 0, "classifier")
    fit(model, x, y, epochs=3, batch_size=16, lr=1e-2, seed=5)
    frozen, _ = load_frozen(save_classifier(model, ("a", "b", "c"), tmp_path / "m.safetensors"))
    off = frozen.predict_proba(x)
    on = frozen.predict_proba(x, dropout=np.random.default_rng(0))
    again = frozen.predict_proba(x, dropout=np.random.default_rng(0))
    assert np.array_equal(on, again) and not np.allclose(on, off, atol=1e-3)
    assert np.allclose(on.sum(axis=1), 1.0)
    # p = 0.5 drops about half the units the ReLU left on
    zeros_off = (frozen.hidden(x) == 0).mean()
    zeros_on = (frozen.hidden(x, dropout=np.random.default_rng(1)) == 0).mean()
    assert zeros_on > zeros_off + 0.15


def test_the_probe_learns_the_hidden_layer_that_probe_features_names():
    state = pool_state()
    last = Cartography(probe_features="last", epochs=5).score(state)
    first = Cartography(probe_features="first-epoch", epochs=5).score(state)
    swapped = dataclasses.replace(state, labeled_hidden=state.labeled_first_epoch_hidden)
    assert not np.allclose(last, first)
    assert np.allclose(first, Cartography(probe_features="last", epochs=5).score(swapped))
    assert "first_epoch" in Cartography(probe_features="first-epoch").needs
    assert "first_epoch" not in Cartography().needs
    with pytest.raises(ValueError, match="probe_features"):
        Cartography(probe_features="middle")


def test_a_shared_seed_set_is_the_same_for_every_experiment_seed(tmp_path, monkeypatch, shared_data):
    from cartal import layout
    from stages import prepare

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(dataset="trec", seed_size=40, batch_size=20, rounds=2)
    params["data"].update(trec_dir=str(shared_data / "trec"), max_train=300, max_test=60)
    monkeypatch.chdir(tmp_path)

    def seed_set(seed: int, shared: bool) -> list[str]:
        params["data"]["shared_seed_set"] = shared
        (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params, "seed": seed}))
        prepare.run(load_params(tmp_path / "params.yaml"))
        return pd.read_parquet(layout.in_round(0, "labeled.parquet"))["id"].tolist()

    assert seed_set(1, shared=True) == seed_set(2, shared=True)
    assert seed_set(1, shared=False) != seed_set(2, shared=False)


def test_the_optimiser_carries_over_only_with_the_weights(tmp_path):
    text = (ROOT / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text.replace("warm_start_optimizer: false", "warm_start_optimizer: true"))
    with pytest.raises(ParamsError, match="model.warm_start_optimizer.*set model.warm_start: true"):
        load_params(tmp_path / "params.yaml")


def test_a_round_declares_the_previous_rounds_model_it_may_warm_start_from(tmp_path):
    from cartal import layout

    round_project(tmp_path, 2)
    assert str(layout.in_round(0, "model.safetensors")) in stages_of(tmp_path, 1)["train-seed"]["deps"]
    assert str(layout.in_round(1, "model.safetensors")) in stages_of(tmp_path, 2)["train-seed"]["deps"]
    assert not any("model.safetensors" in dep for dep in stages_of(tmp_path, 0)["train-seed"]["deps"])


def test_a_warm_start_from_a_model_of_other_features_is_refused_with_the_fix(tmp_path, monkeypatch):
    from cartal import layout
    from cartal.learners.mlp import MLPLearner

    text = (ROOT / "params.yaml").read_text().replace("warm_start: false", "warm_start: true")
    (tmp_path / "params.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    previous = layout.in_round(0, "model.safetensors")
    previous.parent.mkdir(parents=True)
    save_classifier(MLPClassifier(384, 6), tuple("abcdef"), previous)
    before = previous.read_bytes()
    with pytest.raises(ArtifactError, match=r"takes 384-d features and 6 classes, but the features are 300-d .*"
                                            r"rerun from round 0 with `dvc repro`"):
        MLPLearner.create(load_params(tmp_path / "params.yaml"), tuple("abcdef"), 300, 1, previous)
    assert previous.read_bytes() == before


def test_select_refuses_a_first_epoch_file_written_without_the_option(tmp_path, monkeypatch):
    from cartal import layout
    from cartal.io import artifacts as art
    from stages import select

    monkeypatch.chdir(tmp_path)
    path = layout.in_round(0, "first_epoch.parquet")
    path.parent.mkdir(parents=True)
    art.write_table(art.table_from_columns(art.FIRST_EPOCH, {"id": [], "hidden": np.zeros((0, 4), np.float32)}),
                    path, art.FIRST_EPOCH)
    with pytest.raises(ArtifactError, match=r"no first-epoch hidden layers for 2 ids \(l1, l2\); the file is stale: "
                                            r"rerun `dvc repro` \(the stage 'train-seed' writes it\)"):
        select._first_epoch_hidden(0, pd.Series(["l1", "l2"]))


def test_select_reads_its_inputs_by_id_and_refuses_an_id_they_lack(tmp_path, monkeypatch):
    """The model outputs and the data map are read by id (one helper, stages.common.rows_by_id), in the order
    asked for; an id the file lacks is refused, naming it and the stage that writes the file."""
    from cartal import layout
    from cartal.io import artifacts as art
    from stages import select

    monkeypatch.chdir(tmp_path)
    layout.ROUNDS.joinpath("0").mkdir(parents=True)
    ids = ["l1", "l0", "p0"]
    art.write_table(art.table_from_columns(art.OUTPUTS, {
        "id": ids, "labeled": [True, True, False], "hidden": np.arange(6, dtype=np.float32).reshape(3, 2),
        "probs": np.full((3, 2), 0.5, np.float32)}), layout.in_round(0, "outputs.parquet"), art.OUTPUTS)
    art.write_table(art.table_from_columns(art.DATA_MAP, {
        "id": ["l1", "l0"], "confidence": [0.1, 0.2], "variability": [0.3, 0.4], "correctness": [0.0, 1.0],
        "correctness_bin": [0.0, 1.0], "region": ["hard-to-learn", "easy-to-learn"]}),
        layout.in_round(0, "map.parquet"), art.DATA_MAP)
    outputs = select._model_outputs(0, np.array(["l0", "l1"], dtype=object), np.array(["p0"], dtype=object),
                                    frozenset({"hidden"}))
    assert outputs["labeled_hidden"].tolist() == [[2, 3], [0, 1]] and outputs["pool_hidden"].tolist() == [[4, 5]]
    frame = select._aligned_map(0, pd.Series(["l0", "l1"]))
    assert frame["id"].tolist() == ["l0", "l1"] and frame["confidence"].tolist() == [0.2, 0.1]
    assert list(frame.columns) == art.DATA_MAP.column_names
    with pytest.raises(ArtifactError, match=r"outputs.parquet: no model outputs for 1 ids \(p9\); the file is stale: "
                                            r"rerun `dvc repro` \(the stage 'record-dynamics' writes it\)"):
        select._model_outputs(0, np.array(["l0"], dtype=object), np.array(["p0", "p9"], dtype=object),
                              frozenset({"probs"}))
    with pytest.raises(ArtifactError, match=r"map.parquet: no data map for 1 ids \(l7\); .*'build-map' writes it"):
        select._aligned_map(0, pd.Series(["l0", "l7"]))
