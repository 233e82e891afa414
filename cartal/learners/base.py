"""The learner contract: the model that active learning trains every round, whatever it is built of.

A learner fits on L and records its training dynamics while it trains (each
instance's class probabilities in each epoch, keyed by the order of L, as
allenai/cartography records them inside the training loop); it gives class
probabilities and the hidden representation the probes of CAL and DAL learn
from, for any instances; Monte Carlo dropout probabilities; and it saves
itself as safetensors (never pickle) and loads back.

What a learner reads for an instance is its ``inputs``: "features" (the rows of
data/features/<split>.parquet, a frozen encoder's vectors) or "texts" (the
prepared texts, for a model that encodes them itself). The stages hand it
those rows in the order of the ids they care about; a learner never reads
files of the pipeline itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

INPUTS = ("features", "texts")


@dataclass(frozen=True)
class Fitted:
    """What training on L leaves besides the weights.

    ``epoch_probs``: (epochs, n, classes) softmax probabilities of every instance of L in every epoch, in the
    order L was given. ``first_epoch_hidden``: (n, h) L's hidden representation in the first epoch's training
    forward passes, when asked for (CAL's ``probe_features: first-epoch``), else no rows (0, h).
    """

    epoch_probs: np.ndarray
    first_epoch_hidden: np.ndarray


class Learner(ABC):
    """A classifier trained by active learning. Register an implementation with :func:`cartal.learners.register`."""

    name: ClassVar[str]
    inputs: ClassVar[str]  # one of INPUTS
    file_format: ClassVar[str]  # the "format" its safetensors header names; load() dispatches on it

    labels: tuple[str, ...]

    @classmethod
    def check(cls, params) -> None:
        """Refuse, with a ParamsError naming the fix, what the params' types and ranges cannot show (a model
        folder without weights, a device that is not there): check-params calls it before any stage runs.
        Nothing to check by default."""
        return None  # noqa: B027 - a hook with nothing to do unless a learner needs it

    @classmethod
    @abstractmethod
    def create(cls, params, labels: tuple[str, ...], in_dim: int | None, k: int,
               previous: Path | None = None) -> Learner:
        """Round k's untrained learner: seeded from ``params.seed`` and k, or round k-1's weights from ``previous``
        (the learner's warm start option). ``in_dim``: the feature dimension for a learner of features."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, header: dict, tensors: dict[str, np.ndarray]) -> Learner:
        """The learner saved at ``path``, from its header (format, config, labels) and tensors."""

    @abstractmethod
    def fit(self, x, y: np.ndarray, *, seed: int, record_from: str = "training", first_epoch_hidden: bool = False,
            desc: str = "training") -> Fitted:
        """Train on ``x`` (the inputs of L) with targets ``y``, recording the dynamics (``record_from``: the
        training forward passes, or an evaluation pass after each epoch)."""

    @abstractmethod
    def hidden_and_proba(self, x, dropout: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(hidden representation h, class probabilities) of ``x``, dropout off; with a ``dropout`` generator,
        dropout on as in training, its masks drawn from it (the reference code's evaluation)."""

    def predict_proba(self, x, dropout: np.random.Generator | None = None) -> np.ndarray:
        return self.hidden_and_proba(x, dropout)[1]

    @abstractmethod
    def mc_dropout_proba(self, x, passes: int, seed: int) -> np.ndarray:
        """(passes, n, classes) probabilities with dropout on (Gal and Ghahramani, 2016), seeded."""

    @abstractmethod
    def save(self, path: Path) -> Path:
        """Write the learner to ``path`` as safetensors, atomically; the same weights give the same bytes."""
