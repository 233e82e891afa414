"""One training loop for the classifier and the probes, recording training dynamics on the way."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from cartal.models.optim import AdamW
from cartal.progress import meter
from cartal.seeding import derive_seed


def fit(module: nn.Module, features: np.ndarray, targets: np.ndarray, *, epochs: int, batch_size: int,
        lr: float, seed: int, weight_decay: float = 0.01, record: bool = False, record_from: str = "training",
        class_weights: np.ndarray | None = None, progress: bool = False, desc: str = "training",
        threads: int | None = 1, shuffle: bool = True, optimiser: AdamW | None = None,
        on_hidden: Callable[[int, np.ndarray, torch.Tensor], None] | None = None) -> np.ndarray | None:
    """Train ``module`` with AdamW and cross-entropy on mini-batches, shuffled every epoch unless ``shuffle`` is off.

    The order of every epoch and every dropout mask come from generators seeded
    by ``seed``; without ``shuffle`` every epoch visits the instances in the
    order of ``features`` (the reference code's behaviour). ``optimiser``: an
    AdamW over ``module``'s parameters to continue with (its moments and step
    counts, a warm start); None = a new one. ``on_hidden(epoch, index, h)`` is
    called with each training batch's hidden representation (a module with
    ``hidden`` and ``head``, such as MLPClassifier; epochs count from 0). With
    ``record``, return the (epochs, n, classes) softmax probabilities of each
    instance in each epoch: the training dynamics of Swayamdipta et al. (2020),
    read off the training forward pass (dropout on, weights changing within the
    epoch; ``record_from="training"``, as the paper) or off a separate
    evaluation pass over all instances at the end of each epoch
    (``record_from="evaluation"``). ``class_weights``
    weight the loss per class (for imbalanced probe targets such as L vs. U).

    ``threads``: torch's CPU threads while training (None = leave torch's
    setting). One is as fast for mini-batches of 16 through this small MLP,
    and several slow training down many times over once anything else wants
    the cores (queue workers, Arrow's thread pool); bench/results.md, section 1,
    has what one thread takes (bench/floor.py).
    """
    if record_from not in ("training", "evaluation"):
        raise ValueError(f"record_from must be 'training' or 'evaluation', got {record_from!r}")
    x = torch.tensor(features, dtype=torch.float32)  # a copy: Arrow-backed arrays are read-only
    y = torch.tensor(targets, dtype=torch.long)
    n = len(x)
    order = torch.Generator().manual_seed(derive_seed(seed, "order"))
    optimiser = optimiser or AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    dynamics = None
    module.train()
    with _torch_threads(threads), torch.random.fork_rng():
        torch.manual_seed(derive_seed(seed, "dropout"))
        for epoch in meter(range(epochs), desc=desc, unit="epoch", enabled=progress):
            permutation = torch.randperm(n, generator=order) if shuffle else torch.arange(n)
            for start in range(0, n, batch_size):
                index = permutation[start:start + batch_size]
                if on_hidden is None:
                    logits = module(x[index])
                else:  # the same arithmetic as forward, with h kept
                    hidden = module.hidden(x[index])
                    on_hidden(epoch, index.numpy(), hidden.detach())
                    logits = module.head(hidden)
                loss = loss_fn(logits, y[index])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                if record and record_from == "training":
                    if dynamics is None:
                        dynamics = np.empty((epochs, n, logits.shape[1]), dtype=np.float32)
                    dynamics[epoch, index.numpy()] = torch.softmax(logits.detach(), dim=1).numpy()
            if record and record_from == "evaluation":
                probs = predict_proba(module, features)  # leaves the module in eval mode
                module.train()
                if dynamics is None:
                    dynamics = np.empty((epochs, n, probs.shape[1]), dtype=np.float32)
                dynamics[epoch] = probs
    module.eval()
    return dynamics


@contextmanager
def _torch_threads(count: int | None):
    """torch's CPU threads set to ``count`` (None: untouched) inside the block, restored after it."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@torch.inference_mode()
def predict_proba(module: nn.Module, features: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Softmax probabilities in evaluation mode (dropout off)."""
    module.eval()
    x = torch.as_tensor(features, dtype=torch.float32)
    chunks = [torch.softmax(module(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
    return torch.cat(chunks).numpy() if chunks else np.empty((0, 0), dtype=np.float32)


@torch.inference_mode()
def mc_dropout_proba(module: nn.Module, features: np.ndarray, passes: int, seed: int,
                     batch_size: int = 8192) -> np.ndarray:
    """(passes, n, classes) softmax probabilities with dropout on (Gal and Ghahramani, 2016), seeded."""
    x = torch.as_tensor(features, dtype=torch.float32)
    out = []
    module.train()  # dropout on; nothing is updated under inference_mode
    with torch.random.fork_rng():
        torch.manual_seed(derive_seed(seed, "mc-dropout"))
        for _ in range(passes):
            chunks = [torch.softmax(module(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
            out.append(torch.cat(chunks) if chunks else torch.empty(0, module.config["n_classes"]))
    module.eval()
    return torch.stack(out).numpy()
