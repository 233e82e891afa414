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


@app.command()
@_friendly
def prepare(params: Path = PARAMS):
    """Load and validate the dataset; write the prepared splits, the label set, L0 and U0."""
    _stage("prepare").run(_params(params))


@app.command()
@_friendly
def embed(params: Path = PARAMS):
    """Embed the prepared texts with the frozen encoder (cached per dataset and encoder)."""
    _stage("embed").run(_params(params))


@app.command("train-seed")
@_friendly
def train_seed(k: int = ROUND, params: Path = PARAMS):
    """Train a fresh seeded classifier on L_k, recording per-epoch probabilities."""
    _stage("train_seed").run(_params(params), k)


@app.command("record-dynamics")
@_friendly
def record_dynamics(k: int = ROUND, params: Path = PARAMS):
    """Write round k's tidy training dynamics and the model's hidden layer for L and U."""
    _stage("record_dynamics").run(_params(params), k)


@app.command("build-map")
@_friendly
def build_map(k: int = ROUND, params: Path = PARAMS):
    """Build round k's data map (confidence, variability, correctness, region) and plot it."""
    _stage("build_map").run(_params(params), k)


@app.command("select")
@_friendly
def select(k: int = ROUND, params: Path = PARAMS):
    """Score the pool with the configured strategy and write the batch to label."""
    _stage("select").run(_params(params), k)


@app.command("merge-labels")
@_friendly
def merge_labels(k: int = ROUND, params: Path = PARAMS):
    """Move the selected batch with its oracle labels from the pool into L (round k+1)."""
    _stage("merge_labels").run(_params(params), k)


@app.command()
@_friendly
def evaluate(k: int = ROUND, params: Path = PARAMS):
    """Test accuracy and macro-F1 of round k's model."""
    _stage("evaluate").run(_params(params), k)


@app.command()
@_friendly
def report(params: Path = PARAMS):
    """Learning curve, summary and batch-level data-map statistics of the declared rounds."""
    _stage("report").run(_params(params))


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
