"""Static word vectors pooled over a text's first tokens (encoder.kind: static), the paper's feature regime."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from cartal.encoders import embed_splits, static
from cartal.errors import DataError
from cartal.params import EncoderParams

CORPUS = [
    "how far is the moon from the earth".split(),
    "what is the distance between the earth and the moon".split(),
    "who painted the mona lisa".split(),
    "stocks fell sharply after the bank raised rates".split(),
] * 20


def _static(**changes) -> EncoderParams:
    return dataclasses.replace(EncoderParams(), kind="static", **changes)


@pytest.fixture(scope="module")
def fasttext_bin(tmp_path_factory):
    """A small fastText model trained here and saved in Facebook's .bin format, as cc.en.300.bin is."""
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    model = FastText(vector_size=12, window=3, min_count=1, min_n=3, max_n=4, bucket=2000, seed=1, workers=1)
    model.build_vocab(corpus_iterable=CORPUS)
    model.train(corpus_iterable=CORPUS, total_examples=len(CORPUS), epochs=3)
    path = tmp_path_factory.mktemp("fasttext") / "small.bin"
    save_facebook_model(model, str(path))
    return path, model.wv


@pytest.fixture(scope="module")
def word2vec_text(tmp_path_factory):
    from gensim.models import Word2Vec

    model = Word2Vec(sentences=CORPUS, vector_size=10, min_count=1, seed=1, workers=1, epochs=2)
    path = tmp_path_factory.mktemp("word2vec") / "small.vec"
    model.wv.save_word2vec_format(str(path))
    return path, model.wv


@pytest.fixture(scope="module")
def spacy_vectors():
    return static.load("spacy")


def test_sum_is_the_sum_of_the_tokens_vectors(word2vec_text):
    path, wv = word2vec_text
    vectors = static.load(str(path))
    pooled = static.pool(["the moon", "the moon rates"], vectors, max_tokens=42)
    assert pooled.vectors.shape == (2, 10) and pooled.vectors.dtype == np.float32 and pooled.without_vector == 0
    np.testing.assert_allclose(pooled.vectors[0], wv["the"] + wv["moon"], rtol=1e-6)
    np.testing.assert_allclose(pooled.vectors[1], wv["the"] + wv["moon"] + wv["rates"], rtol=1e-6)


def test_mean_divides_by_the_tokens_with_a_vector(word2vec_text):
    path, wv = word2vec_text
    vectors = static.load(str(path))
    pooled = static.pool(["the moon zyxwv"], vectors, max_tokens=42, pooling="mean")
    np.testing.assert_allclose(pooled.vectors[0], (wv["the"] + wv["moon"]) / 2, rtol=1e-6)


def test_only_the_first_max_tokens_count(word2vec_text):
    path, wv = word2vec_text
    vectors = static.load(str(path))
    truncated = static.pool(["the moon the earth the bank"], vectors, max_tokens=2).vectors[0]
    np.testing.assert_allclose(truncated, wv["the"] + wv["moon"], rtol=1e-6)
    whole = static.pool(["the moon the earth the bank"], vectors, max_tokens=6).vectors[0]
    assert not np.allclose(truncated, whole)


def test_tokens_are_looked_up_as_written_then_lower_cased(word2vec_text):
    path, wv = word2vec_text
    vectors = static.load(str(path))
    np.testing.assert_allclose(static.pool(["The MOON"], vectors, 42).vectors[0], wv["the"] + wv["moon"], rtol=1e-6)


def test_a_text_without_a_known_token_is_a_zero_vector_and_counted(word2vec_text):
    path, _ = word2vec_text
    vectors = static.load(str(path))
    pooled = static.pool(["qqq zzz", "", "the moon"], vectors, max_tokens=42)
    assert pooled.without_vector == 2
    assert not pooled.vectors[0].any() and not pooled.vectors[1].any() and pooled.vectors[2].any()


def test_a_fasttext_bin_trained_here_gives_gensims_vectors_subwords_included(fasttext_bin):
    path, wv = fasttext_bin
    vectors = static.load(str(path))
    assert vectors.dim == 12
    pooled = static.pool(["the moonlit earth"], vectors, max_tokens=42)  # "moonlit" is out of vocabulary
    assert pooled.without_vector == 0
    np.testing.assert_allclose(pooled.vectors[0], wv["the"] + wv["moonlit"] + wv["earth"], rtol=1e-5, atol=1e-6)


def test_the_offline_spacy_vectors_are_en_core_web_md(spacy_vectors):
    assert spacy_vectors.dim == 300
    pooled = static.pool(["What is the capital of France ?"], spacy_vectors, max_tokens=42)
    import spacy

    vocab = spacy.load(static.spacy_model_folder(), exclude=["tok2vec", "tagger", "parser", "attribute_ruler",
                                                               "lemmatizer", "ner", "senter"]).vocab
    tokens = ["What", "is", "the", "capital", "of", "France", "?"]
    expected = np.sum([vocab.get_vector(t) if vocab.has_vector(t) else vocab.get_vector(t.lower()) for t in tokens],
                      axis=0)
    np.testing.assert_allclose(pooled.vectors[0], expected, rtol=1e-5, atol=1e-4)
    # related questions lie closer than unrelated texts, as a sanity check that the vectors are real
    a, b, c = static.pool(["What is the capital of France ?", "Which city is the capital of Spain ?",
                           "Stocks fell sharply after the bank raised rates ."], spacy_vectors, 42).vectors
    cosine = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))  # noqa: E731
    assert cosine(a, b) > cosine(a, c) + 0.05


def test_input_embeddings_sum_the_word_pieces_of_the_transformer():
    from cartal.encoders.transformer import MINILM, load_pretrained

    vectors = static.load("input-embeddings", transformer=MINILM)
    tokenizer, model = load_pretrained(MINILM)
    ids = tokenizer("the moon", add_special_tokens=False)["input_ids"]
    expected = model.get_input_embeddings().weight.detach().numpy()[ids].sum(axis=0)
    pooled = static.pool(["the moon"], vectors, max_tokens=42)
    assert vectors.dim == 384
    np.testing.assert_allclose(pooled.vectors[0], expected, rtol=1e-5, atol=1e-6)


def test_embed_splits_with_the_static_kind_uses_max_tokens_and_pooling(word2vec_text):
    path, wv = word2vec_text
    out = embed_splits({"train": ["the moon earth"], "test": ["moon"]},
                       _static(vectors=str(path), max_tokens=2, pooling="mean"), progress=False)
    np.testing.assert_allclose(out["train"][0], (wv["the"] + wv["moon"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out["test"][0], wv["moon"], rtol=1e-6)


def test_texts_longer_than_max_tokens_are_counted_per_split(word2vec_text, caplog):
    path, _ = word2vec_text
    vectors = static.load(str(path))
    assert static.pool(["the moon earth", "the moon", "moon"], vectors, max_tokens=2).truncated.tolist() == \
        [True, False, False]  # exactly max_tokens tokens lose nothing
    with caplog.at_level(logging.INFO, logger="cartal.encoders"):
        embed_splits({"train": ["the moon earth", "the moon", "the earth moon moon"], "test": ["moon"]},
                     _static(vectors=str(path), max_tokens=2), progress=False)
    messages = [r.getMessage() for r in caplog.records]
    assert "train: 2 of 3 texts longer than encoder.max_tokens (2 tokens) were truncated" in messages
    assert "test: 0 of 1 texts longer than encoder.max_tokens (2 tokens) were truncated" in messages


def test_a_missing_vectors_file_names_the_choices(tmp_path):
    with pytest.raises(DataError, match=r"encoder.vectors: .*nope.bin does not exist; give a fastText .bin"):
        static.load(str(tmp_path / "nope.bin"))


@pytest.mark.parametrize("name", ["broken.bin", "broken.vec"])
def test_an_unreadable_vectors_file_says_which_and_why(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 not vectors at all\n\xff\xfe")
    with pytest.raises(DataError, match=rf"{name} could not be read as word vectors"):
        static.load(str(path))


def test_a_file_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "vectors.npy"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"neither a fastText .bin nor a word2vec file"):
        static.load(str(path))


def test_vectors_that_know_no_token_of_a_split_stop_the_embedding(word2vec_text):
    path, _ = word2vec_text
    with pytest.raises(DataError, match=r"not one of the 2 test texts has a token with a vector"):
        embed_splits({"train": ["the moon"], "test": ["qqq", "zzz"]}, _static(vectors=str(path)), progress=False)
