"""Query strategies behind one contract, found by name in a registry.

Modules are imported only when their strategy is used, so choosing ``random``
never imports torch. A strategy of one's own needs no registration: name it as
``strategy: my_module:MyStrategy``; ``register`` gives it a short name. Its own
settings come from params.yaml's ``strategy_args``, which it declares as a
dataclass, ``Args``, and ``cartal.testing.check_strategy`` runs the contract
tests every registered strategy passes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from cartal.errors import UnknownStrategyError
from cartal.strategies.base import PoolState, QueryStrategy, Selection, describe_args, top_b

__all__ = ["PoolState", "QueryStrategy", "Selection", "top_b", "register", "resolve", "create", "available",
           "check_fallback", "check_args", "describe_args"]


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
    """The registered strategy ``name`` (or alias), or a user's class given as "module:Class"."""
    if ":" in name:
        return _from_import_path(name)
    canonical = _ALIASES.get(name, name)
    if canonical not in _REGISTRY:
        known = ", ".join(f"{i.name}" + (f" (alias {', '.join(i.aliases)})" if i.aliases else "") for i in available())
        raise UnknownStrategyError(f"unknown strategy {name!r}; known strategies: {known} (see `cartal strategies`)")
    return _REGISTRY[canonical]


def _from_import_path(target: str) -> StrategyInfo:
    info = StrategyInfo(target, target, "user-defined", "")
    try:
        cls = info.load()
    except (ImportError, AttributeError) as exc:
        raise UnknownStrategyError(
            f"strategy {target!r} could not be imported ({exc}); give it as 'module:Class' with the module "
            "importable from the project root or the environment"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, QueryStrategy)):
        raise UnknownStrategyError(f"strategy {target!r} is not a subclass of cartal.strategies.QueryStrategy")
    return info


def check_fallback(name: str) -> StrategyInfo:
    """CAL's fallback: any known strategy but CAL itself, which could need the fallback again."""
    info = resolve(name)
    if info.name == "cartography":
        raise UnknownStrategyError(f"cal.fallback cannot be {name!r}: it is the strategy that falls back; "
                                   "use random or another strategy")
    return info


def check_args(params, source: str = "params.yaml"):
    """params.yaml's strategy_args, checked by the strategy they configure (``params.strategy``): its ``Args``,
    or None when it takes none; a ParamsError names the key and what the strategy takes."""
    return resolve(params.strategy).load().parse_args(params.strategy_args, source)


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
register("mc-max-entropy", "cartal.strategies.mc_dropout:MCMaxEntropy",
         "entropy of the mean of T dropout passes (the CAL paper's \"BALD\")",
         "Gal et al., ICML 2017; the reference code of Zhang and Plank, 2021")
register("bald", "cartal.strategies.mc_dropout:BALD",
         "mutual information between prediction and weights under T dropout passes",
         "Houlsby et al., 2011; Gal et al., ICML 2017")
register("contrastive", "cartal.strategies.contrastive:ContrastiveAL",
         "Contrastive Active Learning: predictions far (KL) from the nearest labeled neighbours' (not Cartography AL)",
         "Margatina et al., EMNLP 2021")
register("badge", "cartal.strategies.badge:Badge",
         "k-means++ seeding on gradient embeddings of the last layer", "Ash et al., ICLR 2020")
