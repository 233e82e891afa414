"""Inference with a trained MLPClassifier in numpy, dropout off (or on, seeded): what evaluate and record-dynamics need.

The same arithmetic as ``MLPClassifier`` in eval mode (tests/test_models.py
checks the two agree), without importing torch.
"""

from __future__ import annotations

import numpy as np

LAYERS = ("body.0", "body.3")  # the two hidden Linear layers of MLPClassifier.body; "head" is the output


class FrozenMLP:
    def __init__(self, tensors: dict[str, np.ndarray], config: dict):
        self.config = config
        self.hidden_layers = [(tensors[f"{name}.weight"].T.copy(), tensors[f"{name}.bias"]) for name in LAYERS]
        self.head = (tensors["head.weight"].T.copy(), tensors["head.bias"])
        if self.head[0].shape[1] != config["n_classes"]:
            raise ValueError(f"the output layer has {self.head[0].shape[1]} classes, the config {config['n_classes']}")

    def hidden(self, features: np.ndarray, dropout: np.random.Generator | None = None) -> np.ndarray:
        """h, dropout off; with a ``dropout`` generator, dropout on as in training (the reference code's evaluation).

        Inverted dropout as torch's: each unit kept with probability 1 - p and scaled by 1 / (1 - p).
        """
        h = np.asarray(features, dtype=np.float32)
        p = float(self.config.get("dropout", 0.0))
        for weight, bias in self.hidden_layers:
            h = np.maximum(h @ weight + bias, 0.0)
            if dropout is not None and p > 0:
                h = h * (dropout.random(h.shape, dtype=np.float32) >= p) / np.float32(1 - p)
        return h

    def proba_from_hidden(self, hidden: np.ndarray) -> np.ndarray:
        logits = hidden @ self.head[0] + self.head[1]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)

    def hidden_and_proba(self, features: np.ndarray,
                         dropout: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        hidden = self.hidden(features, dropout)
        return hidden, self.proba_from_hidden(hidden)

    def predict_proba(self, features: np.ndarray, dropout: np.random.Generator | None = None) -> np.ndarray:
        return self.proba_from_hidden(self.hidden(features, dropout))
