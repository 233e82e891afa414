"""The paper's MLP, the seeded training loop that records dynamics, and safetensors files."""

import json

import numpy as np
import pytest
import torch

from cartal.errors import ArtifactError
from cartal.models.files import load_classifier, load_frozen, save_classifier
from cartal.models.mlp import MLPClassifier, linear_probe, seeded
from cartal.models.training import fit, predict_proba
from helpers import toy


@torch.inference_mode()
def hidden_and_proba(module, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The torch model's hidden layer and probabilities, dropout off: the reference for the numpy model."""
    module.eval()
    hidden = module.hidden(torch.as_tensor(features, dtype=torch.float32))
    return hidden.numpy(), torch.softmax(module.head(hidden), dim=1).numpy()


def train(seed, epochs=8, record=True):
    x, y = toy()
    model = seeded(lambda: MLPClassifier(6, 3, dropout=0.3), seed, 0, "classifier")
    dynamics = fit(model, x, y, epochs=epochs, batch_size=16, lr=1e-2, seed=seed, record=record)
    return model, dynamics


def test_architecture_is_the_papers():
    model = MLPClassifier(10, 4)
    layers = [type(m).__name__ for m in model.body] + [type(model.head).__name__]
    assert layers == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert model.body[0].out_features == model.body[3].out_features == 10  # hidden size d by default
    assert model.body[2].p == 0.3
    assert model.hidden(torch.zeros(2, 10)).shape == (2, 10)
    assert [type(m).__name__ for m in linear_probe(10, relu=True)] == ["Linear", "ReLU"]
    assert model.body[0].in_features == 10 and model.head.in_features == 10 and model.head.out_features == 4
    assert model.config == {"in_dim": 10, "n_classes": 4, "hidden_dim": 10, "dropout": 0.3}


def test_hidden_size_and_dropout_are_parameters():
    model = MLPClassifier(12, 5, hidden_dim=7, dropout=0.1)
    assert (model.body[0].out_features, model.body[3].in_features, model.body[3].out_features) == (7, 7, 7)
    assert model.body[2].p == model.body[5].p == 0.1
    assert model(torch.zeros(3, 12)).shape == (3, 5) and model.hidden(torch.zeros(3, 12)).shape == (3, 7)
    probe = linear_probe(7)
    assert [type(m).__name__ for m in probe] == ["Linear"] and probe(torch.zeros(2, 7)).shape == (2, 2)


def test_hidden_is_the_input_of_the_output_layer():
    model = MLPClassifier(6, 3).eval()
    x = torch.as_tensor(toy(n=10)[0])
    with torch.no_grad():
        assert torch.allclose(model.head(model.hidden(x)), model(x))
        assert (model.hidden(x) >= 0).all()  # the output of the second ReLU


def test_recorded_dynamics_are_per_epoch_probabilities():
    _, dynamics = train(seed=1)
    assert dynamics.shape == (8, 120, 3) and dynamics.dtype == np.float32
    assert np.allclose(dynamics.sum(axis=2), 1, atol=1e-5)
    assert (dynamics >= 0).all() and np.isfinite(dynamics).all()
    assert not np.array_equal(dynamics[0], dynamics[-1])  # each epoch is recorded, not one copied
    _, nothing = train(seed=1, record=False)
    assert nothing is None
    gold_prob = dynamics[:, np.arange(120), toy()[1]]
    assert gold_prob[-1].mean() > gold_prob[0].mean()  # the model learns over the epochs


def test_training_learns_a_separable_problem():
    model, _ = train(seed=1, epochs=15, record=False)
    x, y = toy(seed=5)
    assert (predict_proba(model, x).argmax(axis=1) == y).mean() > 0.95


def test_same_seed_same_weights_and_dynamics_other_seed_differs():
    (a, da), (b, db), (_, dc) = train(seed=3), train(seed=3), train(seed=4)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)
    assert np.array_equal(da, db)
    assert not np.array_equal(da, dc)


def test_training_does_not_touch_global_random_state():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    train(seed=2)
    assert torch.equal(torch.rand(3), expected)


def test_safetensors_round_trip(tmp_path):
    model, _ = train(seed=1)
    path = save_classifier(model, ("a", "b", "c"), tmp_path / "model.safetensors")
    raw = path.read_bytes()
    header_size = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and header_size < len(raw)  # a safetensors header, no pickle
    header = json.loads(raw[8:8 + header_size])
    cartal = json.loads(header["__metadata__"]["cartal"])
    assert cartal["format"] == "cartal-mlp-1" and cartal["labels"] == ["a", "b", "c"]
    assert {name for name in header if name != "__metadata__"} == set(model.state_dict())
    assert not raw.startswith(b"\x80") and b"PK" != raw[:2]  # neither a pickle nor torch.save's zip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temporary left
    loaded, labels = load_classifier(path)
    assert labels == ("a", "b", "c")
    x, _ = toy(seed=9)
    assert np.array_equal(predict_proba(loaded, x), predict_proba(model, x))
    hidden, probs = hidden_and_proba(loaded, x)
    assert hidden.shape == (120, 6) and np.allclose(probs, predict_proba(model, x))
    assert not loaded.training and loaded.config == model.config
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)


def test_a_model_file_gets_the_usual_file_permissions(tmp_path):
    from cartal.io.artifacts import file_mode

    path = save_classifier(MLPClassifier(4, 2), ("a", "b"), tmp_path / "model.safetensors")
    assert path.stat().st_mode & 0o777 == file_mode() != 0o600


def test_the_same_weights_make_the_same_file(tmp_path):
    """DVC hashes the file: the same model must give the same bytes (safetensors orders metadata randomly)."""
    model, _ = train(seed=1, epochs=1, record=False)
    files = {save_classifier(model, ("a", "b", "c"), tmp_path / f"{i}.safetensors").read_bytes() for i in range(6)}
    assert len(files) == 1


def test_a_model_file_of_the_earlier_metadata_layout_still_loads(tmp_path):
    from safetensors.torch import save_file

    model, _ = train(seed=1, epochs=1, record=False)
    path = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata={
        "config": json.dumps(model.config), "labels": json.dumps(["a", "b", "c"]), "format": "cartal-mlp-1"})
    loaded, labels = load_classifier(path)
    assert labels == ("a", "b", "c") and loaded.config == model.config


@pytest.mark.parametrize("metadata", [
    None,  # a safetensors file from elsewhere: no cartal metadata
    {"cartal": "{not json"},
    {"cartal": json.dumps({"format": "cartal-mlp-1", "labels": ["a"]})},  # no config
    {"format": "pt"},
    {"config": "{not json", "labels": "[]"},
    {"config": json.dumps({"in_dim": 6}), "labels": json.dumps(["a"])},  # a config that cannot build the model
    {"config": json.dumps({"in_dim": 6, "n_classes": 3, "hidden_dim": 6, "dropout": 0.3}), "labels": "[]"},
])
def test_a_foreign_safetensors_file_is_named(tmp_path, metadata):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path), metadata=metadata)
    for loader in (load_classifier, load_frozen):
        with pytest.raises(ArtifactError, match=r"model\.safetensors: not a cartal model file"):
            loader(path)


@pytest.mark.parametrize("loader", [load_classifier, load_frozen])
def test_corrupt_model_file_is_named(tmp_path, loader):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04not a model")
    with pytest.raises(ArtifactError, match=r"model\.safetensors: not a cartal model file"):
        loader(path)
    model, _ = train(seed=1, epochs=1, record=False)
    good = save_classifier(model, ("a", "b", "c"), tmp_path / "good.safetensors")
    good.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # truncated
    with pytest.raises(ArtifactError, match=r"good\.safetensors: not a cartal model file.*'train-seed'"):
        loader(good)
    with pytest.raises(ArtifactError, match=r"missing; run `dvc repro` \(the stage 'train-seed'"):
        loader(tmp_path / "absent.safetensors")


def test_numpy_inference_agrees_with_the_torch_model(tmp_path):
    model, _ = train(seed=3)
    path = save_classifier(model, ("a", "b", "c"), tmp_path / "model.safetensors")
    frozen, labels = load_frozen(path)
    x, _ = toy(seed=11)
    hidden, probs = hidden_and_proba(model, x)
    frozen_hidden, frozen_probs = frozen.hidden_and_proba(x)
    assert labels == ("a", "b", "c") and frozen.config == model.config
    assert np.allclose(frozen_hidden, hidden, atol=1e-5) and np.allclose(frozen_probs, probs, atol=1e-6)
    assert np.array_equal(frozen.predict_proba(x).argmax(axis=1), probs.argmax(axis=1))
    assert np.allclose(frozen_probs.sum(axis=1), 1.0) and frozen_probs.dtype == np.float32


def test_dynamics_from_an_evaluation_pass_after_each_epoch():
    x, y = toy()
    trained = {}
    for source in ("training", "evaluation"):
        model = seeded(lambda: MLPClassifier(6, 3, dropout=0.3), 5, 0, "classifier")
        trained[source] = (model, fit(model, x, y, epochs=3, batch_size=16, lr=1e-2, seed=5, record=True,
                                      record_from=source))
    (model_t, from_training), (model_e, from_evaluation) = trained["training"], trained["evaluation"]
    for p, q in zip(model_t.state_dict().values(), model_e.state_dict().values()):
        assert torch.equal(p, q)  # the extra passes change nothing about training
    assert np.allclose(from_evaluation[-1], predict_proba(model_e, x), atol=1e-6)  # the last epoch's eval pass
    assert not np.allclose(from_training[-1], from_evaluation[-1])
    with pytest.raises(ValueError, match="record_from"):
        fit(model_e, x, y, epochs=1, batch_size=16, lr=1e-2, seed=5, record=True, record_from="test")


def test_our_adamw_is_torchs_fused_adamw_step_for_step():
    from cartal.models.optim import AdamW

    def trained(make_optimiser):
        model = seeded(lambda: MLPClassifier(12, 3, 16, dropout=0.0), 5, "init")
        optimiser = make_optimiser(model.parameters())
        generator = torch.Generator().manual_seed(1)
        for _ in range(25):
            x, y = torch.randn(8, 12, generator=generator), torch.randint(0, 3, (8,), generator=generator)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    ours = trained(lambda params: AdamW(params, lr=1e-2, weight_decay=0.01))
    torchs = trained(lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.01, fused=True))
    untrained = torch.cat([p.detach().flatten() for p in seeded(lambda: MLPClassifier(12, 3, 16, dropout=0.0), 5,
                                                                 "init").parameters()])
    assert not torch.equal(ours, untrained)
    assert torch.equal(ours, torchs)


def test_adamw_refuses_a_model_without_trainable_parameters():
    from cartal.models.optim import AdamW

    frozen = torch.nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        AdamW(frozen.parameters(), lr=1e-3)


def test_training_uses_the_threads_it_is_given_and_restores_torchs_setting():
    before = torch.get_num_threads()
    seen = []

    class Spy(torch.nn.Linear):
        def forward(self, x):
            seen.append(torch.get_num_threads())
            return super().forward(x)

    x, y = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32), np.arange(8) % 2
    fit(Spy(3, 2), x, y, epochs=1, batch_size=4, lr=1e-3, seed=0, threads=1)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before
