"""Query strategies behind one contract, found by name in a registry.

Modules are imported only when their strategy is used, so choosing ``random``
never imports torch. ``register`` adds a strategy from any importable module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from cartal.errors import UnknownStrategyError
from cartal.strategies.base import PoolState, QueryStrategy, Selection, top_b

__all__ = ["PoolState", "QueryStrategy", "Selection", "top_b", "register", "resolve", "create", "available"]


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    target: str  # "module:Class"
    summary: str
    paper: str
    aliases: tuple[str, ...] = ()

    def load(self) -> type[QueryStrategy]:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


_REGISTRY: dict[str, StrategyInfo] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, target: str, summary: str, paper: str = "", aliases: tuple[str, ...] = ()) -> None:
    """Make ``target`` ("package.module:Class") selectable as ``strategy: name``."""
    _REGISTRY[name] = StrategyInfo(name, target, summary, paper, tuple(aliases))
    for alias in aliases:
        _ALIASES[alias] = name


def available() -> list[StrategyInfo]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def resolve(name: str) -> StrategyInfo:
    canonical = _ALIASES.get(name, name)
    if canonical not in _REGISTRY:
        known = ", ".join(f"{i.name}" + (f" (alias {', '.join(i.aliases)})" if i.aliases else "") for i in available())
        raise UnknownStrategyError(f"unknown strategy {name!r}; known strategies: {known} (see `cartal strategies`)")
    return _REGISTRY[canonical]


def create(name: str, params=None) -> QueryStrategy:
    """An instance of the strategy ``name``, configured from ``params`` when given."""
    cls = resolve(name).load()
    return cls.from_params(params) if params is not None else cls()


register("random", "cartal.strategies.random:RandomSampling",
         "uniform sample of the pool", "baseline")
register("cartography", "cartal.strategies.cartography:Cartography",
         "Cartography Active Learning: probe on training dynamics, boundary of hard-to-learn",
         "Zhang and Plank, Findings of EMNLP 2021", aliases=("cal",))
register("entropy", "cartal.strategies.uncertainty:Entropy",
         "largest predictive entropy of the softmax", "Settles, 2009 (a baseline of the CAL paper)")
register("least-confidence", "cartal.strategies.uncertainty:LeastConfidence",
         "smallest maximum class probability", "Lewis and Gale, 1994 (a baseline of the CAL paper)")
register("margin", "cartal.strategies.uncertainty:Margin",
         "smallest gap between the two most probable classes", "Scheffer et al., 2001")
register("coreset", "cartal.strategies.coreset:CoreSet",
         "greedy k-center on the model's hidden representations", "Sener and Savarese, ICLR 2018")
register("dal", "cartal.strategies.dal:DiscriminativeAL",
         "probe on the hidden layer tells L from U; picks what looks least like L",
         "Gissin and Shalev-Shwartz, 2019 (a baseline of the CAL paper)")
