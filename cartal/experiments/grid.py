"""The experiments of a reproduction: one per strategy and seed, each a set of params overrides."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cartal.errors import ParamsError

PAPER_STRATEGIES = ("random", "entropy", "least-confidence", "mc-max-entropy", "dal", "cartography")
PAPER_SEEDS = (398048, 127003, 259479, 869323, 570852)
PRESETS = {
    # the reference code's behaviour (../shared/docs/paper-protocol.md, "Quirks"), each also a param of its own
    "reference": ("model.warm_start=true", "model.warm_start_optimizer=true", "model.shuffle=false",
                  "model.eval_dropout=true", "cal.probe_features=first-epoch", "data.shared_seed_set=true"),
}
_SETTING = re.compile(r"^[A-Za-z_][\w.]*=.*$")


@dataclass(frozen=True)
class Experiment:
    """One DVC experiment of the grid: its name and the ``-S`` overrides that define it."""

    name: str
    strategy: str
    seed: int
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Grid:
    """Strategies x seeds on one dataset with one budget; ``settings`` are further ``key=value`` overrides."""

    dataset: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    seed_size: int
    batch_size: int
    rounds: int
    settings: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.strategies or not self.seeds:
            raise ParamsError("a reproduction needs at least one strategy and one seed")
        for name, values in (("strategies", self.strategies), ("seeds", self.seeds)):
            if len(set(values)) != len(values):
                raise ParamsError(f"{name} are listed twice: {', '.join(map(str, values))}")
        if min(self.seed_size, self.batch_size) < 1 or self.rounds < 1:
            raise ParamsError("seed_size and batch_size must be at least 1 and rounds at least 1")
        safe = [_ref_safe(name) for name in self.strategies]
        if len(set(safe)) != len(safe):
            raise ParamsError(f"strategies {', '.join(self.strategies)} would share experiment names "
                              "(':' and other characters git refuses become '-'); rename one")
        for setting in self.settings:
            if not _SETTING.match(setting):
                raise ParamsError(f"setting {setting!r} must look like key=value, e.g. model.epochs=20")
            key = setting.split("=", 1)[0]
            if key.split(".")[0] in ("strategy", "seed", "dataset", "seed_size", "batch_size", "rounds", "oracle"):
                raise ParamsError(f"setting {setting!r}: '{key}' is set by the grid itself; use its own option")

    @property
    def shared_overrides(self) -> tuple[str, ...]:
        """What every experiment of the grid sets: the dataset, the budget, the gold oracle, the settings."""
        return (
            f"dataset={self.dataset}", f"seed_size={self.seed_size}", f"batch_size={self.batch_size}",
            f"rounds={self.rounds}", "oracle=gold", *self.settings,
        )

    @property
    def tag(self) -> str:
        """Six hex digits that tell grids with other budgets or settings apart in experiment names."""
        return hashlib.sha256("\n".join(self.shared_overrides).encode()).hexdigest()[:6]

    @property
    def labeled_sizes(self) -> list[int]:
        """|L| at each evaluated round, 0..rounds."""
        return [self.seed_size + k * self.batch_size for k in range(self.rounds + 1)]

    def experiments(self) -> list[Experiment]:
        return [
            Experiment(name=f"{self.dataset}-{_ref_safe(strategy)}-{seed}-{self.tag}", strategy=strategy, seed=seed,
                       overrides=(*self.shared_overrides, f"strategy={strategy}", f"seed={seed}"))
            for strategy in self.strategies for seed in self.seeds
        ]


def _ref_safe(name: str) -> str:
    """A user's strategy is "module:Class"; git ref names (DVC experiment names) allow no ':'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
