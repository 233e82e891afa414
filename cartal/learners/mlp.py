"""The paper's learner: an MLP on a frozen encoder's features (cartal.models.mlp), trained by cartal's loop.

Inference runs in numpy (cartal.models.inference), so the stages that only
score instances never import torch; training, Monte Carlo dropout and a warm
start build the torch module.
"""

from __future__ import annotations

import logging

import numpy as np

from cartal.errors import ArtifactError
from cartal.learners.base import Fitted, Learner
from cartal.models.inference import FrozenMLP

log = logging.getLogger(__name__)


class MLPLearner(Learner):
    name = "mlp"
    inputs = "features"
    file_format = "cartal-mlp-1"

    def __init__(self, labels: tuple[str, ...], config: dict, tensors: dict[str, np.ndarray] | None = None,
                 module=None, optimiser=None, settings=None):
        self.labels, self.config = tuple(labels), config
        self._tensors, self._module, self.optimiser, self.settings = tensors, module, optimiser, settings
        self._frozen = None

    @classmethod
    def create(cls, params, labels, in_dim, k, previous=None):
        from cartal.models.mlp import MLPClassifier, seeded
        from cartal.models.optim import AdamW

        m = params.model
        if previous is None or not m.warm_start:
            module = seeded(lambda: MLPClassifier(in_dim, len(labels), m.hidden_dim, m.dropout), params.seed, k,
                            "classifier")
            # built here rather than in fit only so that its state can be saved for round k+1
            optimiser = AdamW(module.parameters(), lr=m.lr, weight_decay=m.weight_decay) \
                if m.warm_start_optimizer else None
            return cls(labels, module.config, module=module, optimiser=optimiser, settings=m)
        from cartal.models.files import load_classifier, load_optimiser_state

        module, _ = load_classifier(previous)
        if module.config["in_dim"] != in_dim or module.config["n_classes"] != len(labels):
            raise ArtifactError(f"{previous}: round {k - 1}'s model takes {module.config['in_dim']}-d features and "
                                f"{module.config['n_classes']} classes, but the features are {in_dim}-d with "
                                f"{len(labels)} classes (the encoder changed?); rerun from round 0 with `dvc repro` "
                                "(model.warm_start reads the previous round's weights)")
        optimiser = None
        if m.warm_start_optimizer:
            optimiser = AdamW(module.parameters(), lr=m.lr, weight_decay=m.weight_decay)
            try:
                optimiser.load_state_tensors(load_optimiser_state(previous))
            except ValueError as exc:
                raise ArtifactError(f"{previous}: {exc}; rerun `dvc repro`") from exc
        log.info("round %d: warm start from round %d's weights%s", k, k - 1,
                 " and optimiser state" if optimiser else "")
        return cls(labels, module.config, module=module, optimiser=optimiser, settings=m)

    @classmethod
    def load(cls, path, header, tensors):
        from cartal.models.files import frozen_mlp

        learner = cls(header["labels"], header["config"], tensors=tensors)
        learner._frozen = frozen_mlp(path, header["config"], tensors)
        return learner

    def fit(self, x, y, *, seed, record_from="training", first_epoch_hidden=False, desc="training"):
        from cartal.models.training import fit

        m = self.settings
        kept = np.zeros((len(y) if first_epoch_hidden else 0, self.config["hidden_dim"]), dtype=np.float32)
        on_hidden = None
        if first_epoch_hidden:
            def on_hidden(epoch, index, hidden):
                if epoch == 0:
                    kept[index] = hidden.numpy()
        epoch_probs = fit(self.module, x, y, epochs=m.epochs, batch_size=m.batch_size, lr=m.lr,
                          weight_decay=m.weight_decay, seed=seed, record=True, record_from=record_from,
                          progress=True, desc=desc, shuffle=m.shuffle, optimiser=self.optimiser, on_hidden=on_hidden)
        self._frozen = None  # the weights changed
        return Fitted(epoch_probs, kept)

    @property
    def module(self):
        """The torch MLPClassifier, built from the saved tensors when the learner was loaded."""
        if self._module is None:
            import torch

            from cartal.models.files import OPTIMISER
            from cartal.models.mlp import MLPClassifier

            self._module = MLPClassifier(**self.config)
            self._module.load_state_dict({name: torch.from_numpy(array) for name, array in self._tensors.items()
                                          if not name.startswith(OPTIMISER)})
            self._module.eval()
        return self._module

    def _inference(self) -> FrozenMLP:
        if self._frozen is None:
            state = {name: value.detach().numpy() for name, value in self.module.state_dict().items()}
            self._frozen = FrozenMLP(state, self.config)
        return self._frozen

    def hidden_and_proba(self, x, dropout=None):
        return self._inference().hidden_and_proba(x, dropout)

    def mc_dropout_proba(self, x, passes, seed):
        from cartal.models.training import mc_dropout_proba

        return mc_dropout_proba(self.module, x, passes, seed=seed)

    def save(self, path):
        from cartal.models.files import save_classifier

        return save_classifier(self.module, self.labels, path, optimiser=self.optimiser)
