"""The `cartal` command: the DVC stages call it, and people use it to steer experiments.

Stage commands import their entry module from the project's ``stages/``
folder (the folder that holds dvc.yaml), so a project's stages are part of the
project and DVC can track them as dependencies. Heavy libraries (torch,
transformers) are imported only by the commands that need them.
"""

from __future__ import annotations

import importlib
import logging
import sys
from functools import wraps
from pathlib import Path

import typer

from cartal.errors import CartalError, ProjectError

app = typer.Typer(
    help="Cartography Active Learning (Zhang and Plank, 2021) as a reproducible DVC pipeline.\n\n"
         "Run a whole experiment with `dvc repro`; the stage commands below are what dvc.yaml calls.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

PARAMS = typer.Option(Path("params.yaml"), "--params", "-p", help="The experiment's parameter file.")
ROUND = typer.Argument(..., min=0, help="The active-learning round k (0 = the seed round).")


def _friendly(command):
    """Print a CartalError as one clear line and exit 1, instead of a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        try:
            return command(*args, **kwargs)
        except CartalError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


def _stage(name: str):
    root = Path.cwd()
    if not (root / "stages" / "__init__.py").is_file():
        raise ProjectError(f"no stages/ package in {root}: run stage commands from the root of a cartal project "
                           "(the folder with dvc.yaml), as `dvc repro` does")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"stages.{name}")


def _params(path: Path):
    from cartal.params import load_params

    return load_params(path)


# (command, module in stages/, takes a round, help): the commands dvc.yaml calls, in pipeline order
STAGES = (
    ("prepare", "prepare", False, "Load and validate the dataset; write the prepared splits, the label set, L0 and U0."),
    ("embed", "embed", False, "Embed the prepared texts with the frozen encoder (cached per dataset and encoder)."),
    ("train-seed", "train_seed", True, "Train a fresh seeded classifier on L_k, recording per-epoch probabilities."),
    ("record-dynamics", "record_dynamics", True,
     "Write round k's tidy training dynamics and the model's hidden layer for L and U."),
    ("build-map", "build_map", True,
     "Build round k's data map (confidence, variability, correctness, region) and plot it."),
    ("select", "select", True, "Score the pool with the configured strategy and write the batch to label."),
    ("merge-labels", "merge_labels", True, "Move the selected batch with its oracle labels from the pool into L (round k+1)."),
    ("evaluate", "evaluate", True, "Test accuracy and macro-F1 of round k's model."),
    ("report", "report", False, "Learning curve, summary and batch-level data-map statistics of the declared rounds."),
)


def _add_stage_command(name: str, module: str, per_round: bool, help_text: str) -> None:
    if per_round:
        def command(k: int = ROUND, params: Path = PARAMS):
            _stage(module).run(_params(params), k)
    else:
        def command(params: Path = PARAMS):
            _stage(module).run(_params(params))
    command.__doc__ = help_text
    app.command(name)(_friendly(command))


for _spec in STAGES:
    _add_stage_command(*_spec)


@app.command()
@_friendly
def rounds(n: int = typer.Argument(..., min=0, help="Query rounds after the seed round."), params: Path = PARAMS):
    """Set the number of rounds: rewrites `rounds` and the `al` block that dvc.yaml expands."""
    from cartal.params import set_rounds

    set_rounds(params, n)
    typer.echo(f"{params}: rounds = {n} (rounds 0..{n} train and evaluate, 0..{n - 1} query)" if n else
               f"{params}: rounds = 0 (only the seed round)")


@app.command("strategies")
def list_strategies():
    """List the query strategies: name, aliases, what it does, where it comes from."""
    from cartal.strategies import available

    for info in available():
        aliases = f" (alias: {', '.join(info.aliases)})" if info.aliases else ""
        typer.echo(f"{info.name}{aliases}\n    {info.summary}\n    from: {info.paper}")


if __name__ == "__main__":
    app()
