"""An ablation of the reference code's behaviours: one grid per behaviour, each compared with the baseline.

Each variant is a grid of its own (written to metrics/reproduce/NAME-VARIANT/ by
`cartal reproduce`'s machinery); ``compare`` reads their strategies.csv files
back and puts AULC and final accuracy side by side, with the change against
the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cartal.experiments.grid import PRESETS

BASELINE = "baseline"


@dataclass(frozen=True)
class Variant:
    name: str
    settings: tuple[str, ...]
    says: str
    only: tuple[str, ...] | None = None  # the strategies it changes; None = all


VARIANTS = (
    Variant(BASELINE, (), "params.yaml's defaults: a fresh model and optimiser each round, shuffled epochs, "
                          "dropout off at evaluation, the probe on the trained model, a seed set per seed"),
    Variant("warm-start", ("model.warm_start=true", "model.warm_start_optimizer=true"),
            "round k starts from round k-1's weights and AdamW state"),
    Variant("no-shuffle", ("model.shuffle=false",), "every epoch visits L in its stored order"),
    Variant("eval-dropout", ("model.eval_dropout=true",), "dropout stays on when the model scores test, L and U"),
    Variant("probe-first-epoch", ("cal.probe_features=first-epoch",),
            "CAL's probe learns the first epoch's hidden layer", only=("cartography",)),
    Variant("shared-seed-set", ("data.shared_seed_set=true",), "one seed set for every experiment seed"),
    Variant("reference", PRESETS["reference"], "all of the above together (--preset reference)"),
)


def variant_name(name: str, variant: Variant) -> str:
    return f"{name}-{variant.name}"


def strategies_of(variant: Variant, strategies: tuple[str, ...]) -> tuple[str, ...]:
    """The grid's strategies that the variant changes (a CAL-only option runs CAL only)."""
    return tuple(s for s in strategies if variant.only is None or s in variant.only)


def compare(root: Path, name: str, variants=VARIANTS) -> pd.DataFrame:
    """variant, strategy, seeds, AULC and final accuracy (mean, std) and their change against the baseline."""
    from cartal.experiments.outputs import output_dir

    frames = []
    for variant in variants:
        table = pd.read_csv(output_dir(root, variant_name(name, variant)) / "strategies.csv")
        frames.append(table[["strategy", "seeds", "aulc", "aulc_std", "final_accuracy"]].assign(variant=variant.name))
    frame = pd.concat(frames, ignore_index=True)
    baseline = frame[frame["variant"] == BASELINE].set_index("strategy")
    frame["aulc_change"] = frame["aulc"] - frame["strategy"].map(baseline["aulc"])
    frame["final_change"] = frame["final_accuracy"] - frame["strategy"].map(baseline["final_accuracy"])
    order = {variant.name: i for i, variant in enumerate(variants)}
    frame = frame.sort_values(["variant", "strategy"], key=lambda c: c.map(order) if c.name == "variant" else c)
    return frame[["variant", "strategy", "seeds", "aulc", "aulc_std", "aulc_change", "final_accuracy",
                  "final_change"]].reset_index(drop=True)


def markdown(frame: pd.DataFrame, variants=VARIANTS) -> str:
    says = {variant.name: variant.says for variant in variants}
    cells = frame.assign(
        AULC=[f"{m:.4f} ({s:.4f})" for m, s in zip(frame["aulc"], frame["aulc_std"])],
        change=[f"{c:+.4f}" for c in frame["aulc_change"]],
        final=[f"{f:.3f} ({c:+.3f})" for f, c in zip(frame["final_accuracy"], frame["final_change"])])
    table = cells[["variant", "strategy", "seeds", "AULC", "change", "final"]].rename(columns={
        "AULC": "AULC (std)", "change": "AULC vs baseline", "final": "final accuracy (vs baseline)"})
    legend = "\n".join(f"- **{name}**: {text}" for name, text in says.items() if name in set(frame["variant"]))
    return legend + "\n\n" + table.to_markdown(index=False) + "\n"


def write_ablation(root: Path, name: str, title: str, variants=VARIANTS) -> Path:
    """ablation.csv, ablation.md and ablation.png under metrics/reproduce/NAME/; returns that folder."""
    from cartal.experiments.outputs import output_dir
    from cartal.io.artifacts import atomic_path
    from cartal.plots import plot_ablation

    frame = compare(root, name, variants)
    out = output_dir(root, name)
    with atomic_path(out / "ablation.csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(out / "ablation.md") as tmp:
        tmp.write_text(f"# Ablation: {title}\n\nEach variant's grid is in metrics/reproduce/{name}-VARIANT/. "
                       "AULC: mean over seeds (std); the change is against the baseline's mean.\n\n"
                       + markdown(frame, variants) + "\n![ablation](ablation.png)\n")
    plot_ablation(frame, out / "ablation.png", title)
    return out
