"""The fine-tuned transformer learner (cartal.learners.transformer) on a tiny BERT with random weights: its
dynamics are those of the forward passes that trained, it saves and loads the same model, and bad settings
are refused before any training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cartal import learners
from cartal.errors import ParamsError
from cartal.learners.transformer import TransformerLearner
from cartal.params import Params, params_from_dict
from tiny_transformer import tiny_transformer

LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_transformer(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def trec(shared_data):
    frame = pd.read_csv(shared_data / "trec" / "train.csv").head(40)
    return frame


def params_for(folder, **transformer) -> Params:
    settings = {"name": str(folder), "epochs": 2, "batch_size": 8, **transformer}
    return params_from_dict({"learner": "transformer", "transformer": settings})


def texts_and_targets(trec):
    """TREC's questions and coarse classes (0-5) as shared/data/trec/train.csv has them."""
    return trec["Description"].astype(str).tolist(), trec["Class Index"].to_numpy(np.int64) % len(LABELS)


def test_the_dynamics_are_those_of_the_forward_passes_that_trained(folder, trec):
    texts, y = texts_and_targets(trec)
    learner = TransformerLearner.create(params_for(folder), LABELS, None, 0)
    seen = []  # (training?, logits) of every forward pass, in order

    def keep(module, inputs, output):
        seen.append((module.training, output.logits.detach().clone()))

    learner.model.register_forward_hook(keep)
    fitted = learner.fit(texts, y, seed=5)
    assert fitted.epoch_probs.shape == (2, len(texts), len(LABELS))
    assert all(training for training, _ in seen)  # no separate pass ran
    # the passes of each epoch, in the order they ran, cover every instance once: rebuild the order from the seed
    import torch

    from cartal.seeding import derive_seed

    order = torch.Generator().manual_seed(derive_seed(5, "order"))
    batches = iter(seen)
    for epoch in range(2):
        permutation = torch.randperm(len(texts), generator=order).numpy()
        for start in range(0, len(texts), 8):
            index = permutation[start:start + 8]
            _, logits = next(batches)
            assert np.allclose(fitted.epoch_probs[epoch, index], torch.softmax(logits, dim=1).numpy(), atol=0)
    # dropout was on: an evaluation pass after training gives other probabilities than the last epoch recorded
    assert not np.allclose(learner.predict_proba(texts), fitted.epoch_probs[-1])


def test_evaluation_dynamics_come_from_a_pass_in_evaluation_mode(folder, trec):
    texts, y = texts_and_targets(trec)
    learner = TransformerLearner.create(params_for(folder, epochs=1), LABELS, None, 0)
    fitted = learner.fit(texts, y, seed=5, record_from="evaluation")
    assert np.allclose(fitted.epoch_probs[0], learner.predict_proba(texts), atol=1e-6)


def test_saved_and_loaded_it_predicts_the_same_and_the_file_is_the_same_bytes(folder, trec, tmp_path):
    texts, y = texts_and_targets(trec)
    learner = TransformerLearner.create(params_for(folder, epochs=1), LABELS, None, 0)
    first = learner.fit(texts, y, seed=3, first_epoch_hidden=True)
    assert first.first_epoch_hidden.shape == (len(texts), 32)
    path = learner.save(tmp_path / "model.safetensors")
    again = learners.load(path)
    assert isinstance(again, TransformerLearner) and again.labels == LABELS
    hidden, probs = learner.hidden_and_proba(texts)
    loaded_hidden, loaded_probs = again.hidden_and_proba(texts)
    assert np.array_equal(probs, loaded_probs) and np.array_equal(hidden, loaded_hidden)
    assert hidden.shape == (len(texts), 32)
    again.save(tmp_path / "copy.safetensors")
    assert (tmp_path / "copy.safetensors").read_bytes() == path.read_bytes()


def test_training_twice_from_the_same_seed_gives_the_same_model(folder, trec):
    texts, y = texts_and_targets(trec)
    runs = []
    for _ in range(2):
        learner = TransformerLearner.create(params_for(folder, epochs=1), LABELS, None, 0)
        runs.append((learner.fit(texts, y, seed=9).epoch_probs, learner.predict_proba(texts)))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_mc_dropout_runs_the_transformer_s_dropout_seeded(folder, trec):
    texts, _ = texts_and_targets(trec)
    learner = TransformerLearner.create(params_for(folder), LABELS, None, 0)
    passes = learner.mc_dropout_proba(texts[:10], passes=3, seed=1)
    assert passes.shape == (3, 10, len(LABELS))
    assert not np.allclose(passes[0], passes[1])  # dropout on
    assert np.array_equal(passes, learner.mc_dropout_proba(texts[:10], passes=3, seed=1))
    assert np.allclose(passes.sum(axis=2), 1, atol=1e-5)


def test_a_folder_without_weights_is_refused_before_training(folder, tmp_path):
    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(ParamsError, match=r"transformer.name.*holds no weights"):
        TransformerLearner.check(params_for(empty))


def test_an_unknown_model_name_is_refused_with_the_fix(tmp_path, monkeypatch):
    import huggingface_hub.constants

    # the hub's own offline mode (HF_HUB_OFFLINE, read when it is imported): a test sends nothing to the network
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ParamsError, match=r"transformer.name.*no-such-org/no-such-model.*all-MiniLM-L6-v2"):
        TransformerLearner.check(params_for("no-such-org/no-such-model"))


def test_cuda_asked_for_where_there_is_none_is_refused(folder):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ParamsError, match=r"transformer.device.*'cuda'.*0 CUDA device.*use cpu or auto"):
        TransformerLearner.check(params_for(folder, device="cuda"))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("max_length", 0, r"'transformer.max_length' must be at least 1, got 0"),
    ("warmup", 1.5, r"'transformer.warmup' must be in \[0, 1\)"),
    ("device", "gpu", r"'transformer.device' is 'gpu'; use cpu, cuda, cuda:N or auto"),
])
def test_bad_settings_are_refused_by_the_params(key, value, message):
    with pytest.raises(ParamsError, match=message):
        params_from_dict({"learner": "transformer", "transformer": {key: value}})


def test_an_unknown_learner_names_the_known_ones():
    with pytest.raises(ParamsError, match=r"'learner' is 'svm'; known learners: mlp, transformer"):
        params_from_dict({"learner": "svm"})


def test_auto_runs_on_the_cpu_here(folder):
    import torch

    learner = TransformerLearner.create(params_for(folder, device="auto"), LABELS, None, 0)
    assert learner.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert dataclasses.replace(Params()).learner == "mlp"  # the paper's learner stays the default
