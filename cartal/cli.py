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

from cartal import layout
from cartal.data import registry
from cartal.errors import LABELS_PENDING_EXIT, CartalError, LabelsPendingError, ParamsError, ProjectError
from cartal.profiling import stage_profile

app = typer.Typer(
    help="Cartography Active Learning (Zhang and Plank, 2021) as a reproducible DVC pipeline.\n\n"
         "Run a whole experiment with `dvc repro`; the stage commands below are what dvc.yaml calls.",
    epilog=f"Exit codes: 0 done; 1 an error, said in one line that names the problem and the fix; 2 a wrong option "
           f"or argument; {LABELS_PENDING_EXIT} a human round's batch waits for labels (the merge-labels stage, and "
           f"`cartal repro`, which runs it; plain `dvc repro` reports that stage's {LABELS_PENDING_EXIT} as its own "
           "failure, 255).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

DATASET_HELP = (f"{' or '.join(registry.the_papers())} (the paper's), or "
                f"{', '.join(n for n in registry.names() if n not in registry.the_papers())}.")
PARAMS = typer.Option(Path("params.yaml"), "--params", "-p", help="The experiment's parameter file.")
ROUND = typer.Argument(..., min=0, help="The active-learning round k (0 = the seed round).")


def _friendly(command):
    """Print a CartalError as one clear line and exit 1, instead of a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        try:
            return command(*args, **kwargs)
        except LabelsPendingError as exc:  # not a failure, but the pipeline must stop here
            typer.secho(f"waiting for labels: {exc}", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(LABELS_PENDING_EXIT) from None
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


def _stage_params(path: Path):
    """A stage's params, checked against the round pipelines DVC runs (rounds/<k>/dvc.yaml) and against where it
    runs (no human rounds in a queued experiment's copy, no stage on the files an interrupted reproduction left)."""
    from cartal.experiments import backup

    from cartal.experiments.workspace import refuse_human_rounds_in_a_copy

    backup.refuse_if_pending(Path.cwd())
    loaded = _params(path)
    refuse_human_rounds_in_a_copy(Path.cwd(), loaded.oracle)
    _stage("pipeline").check_round_pipelines(Path.cwd(), loaded, source=str(path))
    return loaded


def _restore_workspace(params: Path) -> None:
    """Put back params.yaml and rounds/ that a `cartal reproduce` killed while it queued experiments left."""
    from cartal.experiments import backup

    backup.restore(params.resolve().parent)


# (command, module in stages/, takes a round, help): the commands dvc.yaml calls, in pipeline order
STAGES = (
    ("check-params", "check_params", False,
     "Check every param (types, ranges, strategy, round files) before any other stage runs."),
    ("prepare", "prepare", False, "Load and validate the dataset; write the prepared splits, the label set, L0 and U0."),
    ("embed", "embed", False, "Embed the prepared texts with the frozen encoder (each text once per encoder: a per-user feature cache)."),
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
            stage, loaded = _stage(module), _stage_params(params)  # imports count as start-up in the profile
            with stage_profile(f"{name}@{k}"):
                stage.run(loaded, k)
    else:
        def command(params: Path = PARAMS):
            stage, loaded = _stage(module), _stage_params(params)
            with stage_profile(name):
                stage.run(loaded)
    command.__doc__ = help_text
    app.command(name)(_friendly(command))


for _spec in STAGES:
    _add_stage_command(*_spec)


@app.command()
@_friendly
def rounds(n: int = typer.Argument(..., min=0, help="Query rounds after the seed round."), params: Path = PARAMS):
    """Set the number of rounds: rewrites `rounds` in params.yaml and writes rounds/0..N/dvc.yaml, one
    pipeline per round (N + 1 rounds train and are evaluated, the first N also query). Run it again after
    changing `oracle`: a human oracle's rounds read their labels from annotations/round-k/."""
    from cartal.params import set_rounds

    _restore_workspace(params)
    written = set_rounds(params, n)
    _stage("pipeline").write_round_pipelines(params.resolve().parent, n, written.oracle)
    typer.echo(f"{params}: rounds = {n}; rounds/0..{n}/dvc.yaml written (rounds 0..{n} train and evaluate, "
               f"0..{n - 1} query, oracle {written.oracle})" if n else
               f"{params}: rounds = 0; rounds/0/dvc.yaml written (only the seed round)")


@app.command()
@_friendly
def reproduce(
    dataset: str = typer.Option("trec", help=DATASET_HELP),
    data_dir: Path = typer.Option(None, help="Folder with the dataset's train.csv and test.csv (made absolute; "
                                             "default: params.yaml's data.trec_dir / data.agnews_dir, else the hub)."),
    strategy: list[str] = typer.Option(None, "--strategy", "-s", help="Repeat for several; default: the paper's six."),
    seed: list[int] = typer.Option(None, "--seed", help="Repeat for several; default: the paper's five."),
    seed_size: int = typer.Option(None, min=1, help="|L0|; default: the paper's (500 TREC, 1000 AG News)."),
    batch_size: int = typer.Option(None, min=1, help="Labels per round; default 50."),
    rounds: int = typer.Option(None, min=1, help="Query rounds after round 0; default 30."),
    setting: list[str] = typer.Option(None, "--set", "-S", help="Any other param as key=value, e.g. -S model.epochs=20."),
    preset: str = typer.Option(None, help="Settings by name, before any -S: 'reference' = the reference code's "
                                          "behaviour (warm start with the optimiser, no shuffling, dropout at "
                                          "evaluation, the probe on the first epoch, one shared seed set)."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Experiments run in parallel (DVC queue workers; with --ray auto, the local Ray's CPUs); then the processes of the significance tests, at most this machine's cores."),
    check: bool = typer.Option(False, help="Then check the aggregate is whole; exit 1 if not (CI)."),
    findings: Path = typer.Option(None, help="With --check: a YAML file of claims the aggregate must show "
                                             "(e.g. docs/findings/trec.yaml); exit 1 when one stops holding."),
    significance_samples: int = typer.Option(1000, min=50, help="Bootstrap iterations of each significance test "
                                                                "(ASO: about 7 s per 1000 here; fewer = faster, coarser)."),
    name: str = typer.Option(None, help="Write the aggregate to metrics/reproduce/NAME/ (default: the dataset), "
                                        "e.g. to keep a reduced grid beside the full one."),
    ray: str = typer.Option(None, "--ray", metavar="auto|ADDRESS",
                            help="Run the experiments as Ray tasks instead of DVC's queue: 'auto' starts Ray here "
                                 "with --jobs CPUs, ADDRESS joins a cluster (e.g. 10.0.0.5:6379). Each task clones "
                                 "HEAD from the git remote and pushes its experiment there and to the DVC remote; "
                                 "see docs/ray.md."),
    git_remote: str = typer.Option(None, help="With --ray: the git remote (name or URL) tasks clone from and push "
                                              "to (default: origin)."),
    dvc_remote: str = typer.Option(None, help="With --ray: the DVC remote (name) tasks push outputs to "
                                              "(default: the project's default remote)."),
):
    """Run the paper's protocol: one DVC experiment per strategy and seed, queued, then aggregated.

    Writes learning curves, a table per strategy, significance (ASO), batch
    statistics, selection overlap and data maps to metrics/reproduce/DATASET/
    (results.md shows them all). Experiments that already finished on this commit
    are not run again, so an interrupted reproduction resumes where it stopped.
    """
    from cartal.experiments.findings import judge, read_findings
    from cartal.experiments.grid import PRESETS
    from cartal.experiments.outputs import check_reproduction, output_dir
    from cartal.experiments.reproduce import reproduce as run_grid

    if preset is not None and preset not in PRESETS:
        raise ParamsError(f"--preset {preset!r} is not one of {', '.join(PRESETS)}")
    if findings is not None and not check:
        raise ParamsError("--findings is judged by --check; add --check")
    claims = read_findings(findings) if findings is not None else []  # a bad file fails before hours of work
    _check_name(name)
    grid = _grid(dataset, data_dir, strategy, seed, seed_size, batch_size, rounds,
                 [*PRESETS.get(preset, ()), *(setting or [])])
    if ray is None and (git_remote or dvc_remote):
        raise ParamsError("--git-remote and --dvc-remote are where --ray's tasks clone and push; add --ray")
    out = run_grid(Path.cwd(), grid, jobs=jobs, significance_samples=significance_samples, name=name, ray=ray,
                   git_remote=git_remote, dvc_remote=dvc_remote)
    typer.echo(f"aggregate written to {out}/ (see results.md there)")
    if check:
        problems = check_reproduction(Path.cwd(), grid, name)
        if claims and not problems:
            problems = judge(claims, output_dir(Path.cwd(), name or grid.dataset))
        for problem in problems:
            typer.secho(f"check: {problem}", fg=typer.colors.RED, err=True)
        if problems:
            raise typer.Exit(1)
        typer.echo("check: every experiment finished, every curve has every point, every statistic is in range"
                   + (f"; the {len(claims)} findings of {findings} hold" if claims else ""))


def _grid(dataset: str, data_dir: Path | None, strategies: list[str] | None, seeds: list[int] | None,
          seed_size: int | None, batch_size: int | None, rounds: int | None, settings: list[str],
          default_strategies: tuple[str, ...] | None = None, default_rounds: int | None = None):
    """The grid the reproduce and ablate options describe (the paper's budget where they are silent), announced."""
    from cartal.experiments.grid import PAPER_SEEDS, PAPER_STRATEGIES, Grid
    from cartal.strategies import resolve

    source = registry.resolve(dataset)
    size, batch, count = source.paper_budget or (100, 50, 30)
    settings = list(settings)
    if data_dir is not None:
        if source.folder_key is None:
            with_folders = " and ".join(s.name for s in registry.with_folders())
            raise ProjectError(f"--data-dir is for {with_folders}; {dataset!r} has no such folder")
        settings.append(f"data.{source.folder_key}={data_dir.resolve()}")
    names = [name if ":" in name else resolve(name).name
             for name in (strategies or default_strategies or PAPER_STRATEGIES)]
    grid = Grid(dataset=dataset, strategies=tuple(dict.fromkeys(names)), seeds=tuple(seeds or PAPER_SEEDS),
                seed_size=seed_size or size, batch_size=batch_size or batch,
                rounds=rounds or default_rounds or count, settings=tuple(settings))
    typer.echo(f"{len(grid.experiments())} experiments: {', '.join(grid.strategies)} x seeds "
               f"{', '.join(map(str, grid.seeds))}; |L0| = {grid.seed_size}, {grid.rounds} rounds of {grid.batch_size}")
    return grid


def _check_name(name: str | None) -> None:
    if name is not None and (not name or "/" in name or name.startswith(".")):
        raise ProjectError(f"--name {name!r} must be a plain folder name, such as trec-paper")


@app.command()
@_friendly
def ablate(
    dataset: str = typer.Option("trec", help=DATASET_HELP),
    data_dir: Path = typer.Option(None, help="Folder with the dataset's train.csv and test.csv (made absolute)."),
    strategy: list[str] = typer.Option(None, "--strategy", "-s", help="Repeat for several; default: random, "
                                                                         "least-confidence, cartography."),
    seed: list[int] = typer.Option(None, "--seed", help="Repeat for several; default: the paper's first three."),
    seed_size: int = typer.Option(None, min=1, help="|L0|; default: the paper's (500 TREC, 1000 AG News)."),
    batch_size: int = typer.Option(None, min=1, help="Labels per round; default 50."),
    rounds: int = typer.Option(10, min=1, help="Query rounds after round 0."),
    setting: list[str] = typer.Option(None, "--set", "-S", help="Params every variant shares, e.g. "
                                                                "-S encoder.kind=static."),
    variant: list[str] = typer.Option(None, "--variant", "-v", help="Repeat for several; default: all "
                                                                     "(`cartal ablate --help` lists them)."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Experiments run in parallel (DVC queue workers; with --ray auto, the local Ray's CPUs); then the processes of the significance tests, at most this machine's cores."),
    significance_samples: int = typer.Option(1000, min=50, help="Bootstrap iterations of each significance test."),
    name: str = typer.Option(None, help="The ablation's folder, metrics/reproduce/NAME/ (default DATASET-ablation); "
                                        "each variant's grid goes to metrics/reproduce/NAME-VARIANT/."),
):
    """The reference code's behaviours one at a time, and all together, against the baseline.

    Variants: baseline (params.yaml's defaults), warm-start (weights and AdamW
    state carried across rounds), no-shuffle, eval-dropout, probe-first-epoch
    (CAL only), shared-seed-set, reference (all of them). Each is a grid as
    `cartal reproduce` runs it, resumable the same way; then ablation.csv,
    ablation.md and ablation.png compare their AULC and final accuracy.
    """
    import dataclasses

    from cartal.experiments.ablation import BASELINE, VARIANTS, strategies_of, variant_name, write_ablation
    from cartal.experiments.grid import PAPER_SEEDS
    from cartal.experiments.reproduce import reproduce as run_grid

    known = {v.name: v for v in VARIANTS}
    unknown = [v for v in (variant or []) if v not in known]
    if unknown:
        raise ParamsError(f"--variant {', '.join(unknown)}: not one of {', '.join(known)}")
    chosen = [v for v in VARIANTS if not variant or v.name in variant or v.name == BASELINE]
    name = name or f"{dataset}-ablation"
    _check_name(name)
    for v in chosen:
        typer.echo(f"variant {v.name}: {v.says}")
        base = _grid(dataset, data_dir, strategy, seed or list(PAPER_SEEDS[:3]), seed_size, batch_size, rounds,
                     [*(setting or []), *v.settings], default_strategies=("random", "least-confidence", "cartography"))
        kept = strategies_of(v, base.strategies)
        if not kept:
            typer.echo(f"variant {v.name}: changes only {', '.join(v.only)}, which the grid does not run; skipped")
            continue
        grid = dataclasses.replace(base, strategies=kept)
        run_grid(Path.cwd(), grid, jobs=jobs, significance_samples=significance_samples,
                 name=variant_name(name, v))
    ran = [v for v in chosen if strategies_of(v, base.strategies)]
    out = write_ablation(Path.cwd(), name, f"{dataset}, {', '.join(setting or []) or 'params.yaml'}, "
                                           f"{len(base.seeds)} seeds, {base.rounds} rounds", ran)
    typer.echo(f"ablation written to {out}/ (see ablation.md there)")


@app.command()
@_friendly
def status(params: Path = PARAMS, as_json: bool = typer.Option(False, "--json", help="Print it as JSON.")):
    """Where the pipeline that params.yaml declares stands: rounds evaluated, labeled and pool sizes, a batch
    waiting for labels, the latest accuracy, whether the stopping criteria say to stop labeling; results an
    earlier run left are named as out of date."""
    import json

    state = _run_state(params)
    if as_json:
        typer.echo(json.dumps(state, indent=2))
        return
    for line, colour in _describe(state):
        typer.secho(line, fg=colour)


def _run_state(params: Path) -> dict:
    """stages/status.py's account of the run, with only the results of the pipeline as declared now."""
    loaded = _params(params)
    try:
        from cartal.experiments.workspace import pipeline_state

        current = pipeline_state(params.resolve().parent).current
    except Exception as exc:  # not a DVC repository, or DVC cannot read it: say so, and count the files
        logging.getLogger(__name__).warning("DVC could not tell which results are current (%s); "
                                            "every file on disk is counted", exc)
        current = lambda stage: True  # noqa: E731
    return _stage("status").status(loaded, current)


def _describe(state: dict) -> list[tuple[str, str | None]]:
    """`cartal status` in words: (line, colour) pairs."""
    done, rerun = state["rounds_evaluated"], "`cartal repro`" if state["oracle"] == "human" else "`dvc repro`"
    lines = [(f"{state['dataset']}, strategy {state['strategy']}, oracle {state['oracle']}: "
              f"{done} of {state['rounds'] + 1} rounds evaluated", None)]
    latest = state["latest"]
    if latest is None:
        lines.append((f"nothing of this pipeline has run yet: {rerun} starts it", None))
    else:
        pool = "?" if latest["pool"] is None else latest["pool"]
        lines.append((f"round {latest['round']}: {latest['labeled']} labeled, {pool} in the pool, "
                      f"{state['skipped']} skipped on purpose so far", None))
    scored = state["latest_evaluated"]
    if scored:
        lines.append((f"latest test accuracy {scored['accuracy']:.4f}, macro-F1 {scored['macro_f1']:.4f} "
                      f"(round {scored['round']}, {scored['labeled']} labeled)", None))
    said = state.get("stopping")
    if said:
        lines.append((f"stopping (after round {said['round']}): {said['verdict']}",
                      typer.colors.GREEN if said["stop"] else None))
    stale = state["out_of_date_rounds"]
    if stale:
        which = f"round {stale[0]}" if len(stale) == 1 else f"rounds {_spans(stale)}"
        lines.append((f"{which}: files of an earlier run, out of date for params.yaml and the inputs as they are "
                      f"now (not counted above); {rerun} recomputes them", None))
    waiting = state["waiting"]
    live = (waiting or {}).get("label_studio")
    if live:
        where = f"Label Studio project {live['project']!r} at {live['url']}"
        if "error" in live:
            lines.append((f"round {waiting['round']}'s batch in {where}: not read ({live['error']})", typer.colors.RED))
        elif live["labeled"] + live["skipped"] == waiting["size"]:
            lines.append((f"round {waiting['round']}'s batch is answered in {where} ({live['labeled']} labeled, "
                          f"{live['skipped']} skipped): `cartal repro` goes on", None))
        else:
            pushed = "" if live["tasks"] == waiting["size"] else (f" ({live['tasks']} of them pushed so far: "
                                                                  "`cartal repro` pushes the batch)")
            lines.append((f"waiting for labels: {waiting['size']} instances in {where}{pushed}, {live['labeled']} "
                          f"labeled and {live['skipped']} skipped so far; then `cartal repro`", typer.colors.YELLOW))
    elif waiting:
        batch = f"{waiting['folder']}/batch.csv"
        if waiting["answered"] == waiting["size"]:
            lines.append((f"round {waiting['round']}'s batch is answered in {batch}: `cartal repro` goes on", None))
        else:
            given = "" if waiting["answered"] is None else f", {waiting['answered']} answered so far"
            lines.append((f"waiting for labels: {waiting['size']} instances in {batch}{given} (or its Label Studio "
                          f"export as {waiting['folder']}/export.json); then `cartal repro`", typer.colors.YELLOW))
    elif state["finished"]:
        summary = state["summary"]
        scores = ("" if summary is None else f"final test accuracy {summary['final_accuracy']:.4f} with "
                  f"{summary['final_labeled']} labeled, area under the learning curve {summary['aulc_accuracy']:.4f}; ")
        files = ", ".join(path.as_posix() for path in (layout.SUMMARY, layout.CURVE_PNG, layout.DATA_MAPS_PNG))
        lines.append((f"finished: {scores}{files}; `cartal compare` sets it beside other experiments", None))
    elif latest is not None:
        lines.append((f"not finished: {rerun} runs what is left", None))
    return lines


def _spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1 to 3, 5"."""
    spans, start = [], numbers[0]
    for previous, number in zip(numbers, [*numbers[1:], None]):
        if number != previous + 1:
            spans.append(str(start) if start == previous else f"{start} to {previous}")
            start = number
    return ", ".join(spans)


@app.command()
@_friendly
def compare(params: Path = PARAMS, as_csv: bool = typer.Option(False, "--csv", help="Print it as CSV.")):
    """The experiments of this commit side by side (the workspace, the commit, `dvc exp show`'s experiments):
    the params that differ between them, final accuracy and macro-F1, labeled-set size and the area under the
    learning curve. `dvc plots diff A B` draws their learning curves."""
    from cartal.experiments.compare import comparison

    table = comparison(params.resolve().parent)
    if as_csv:
        typer.echo(table.to_csv(index=False), nl=False)
        return
    shown = table.astype(object).where(table.notna(), "-")
    for name in ("final_accuracy", "final_macro_f1", "aulc_accuracy"):
        shown[name] = [v if v == "-" else f"{v:.4f}" for v in shown[name]]
    shown["final_labeled"] = [v if v == "-" else f"{v:.0f}" for v in shown["final_labeled"]]
    typer.echo(shown.to_string(index=False))
    if (table["final_accuracy"].isna()).any():
        typer.echo("(- : no results in that commit or experiment)")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def repro(ctx: typer.Context, params: Path = PARAMS):
    """`dvc repro` (its options pass through: `cartal repro -f`, `cartal repro rounds/2/dvc.yaml`), then where the
    run stands, last: the summary when it finished; when a batch waits for labels, which file to fill, exit code 3
    (DVC alone reports that wait as a failed stage, exit 255)."""
    from cartal.experiments.workspace import repro as dvc_repro

    try:
        _restore_workspace(params)
    except CartalError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    code, waiting = dvc_repro(list(ctx.args))
    if code and not waiting:
        raise typer.Exit(code)
    try:
        state = _run_state(params)
    except CartalError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo("")
    for line, colour in _describe(state):
        typer.secho(line, fg=colour)
    if waiting:
        raise typer.Exit(LABELS_PENDING_EXIT)


@app.command("strategies")
def list_strategies():
    """List the query strategies: name, aliases, what it does, where it comes from."""
    from cartal.strategies import available

    for info in available():
        aliases = f" (alias: {', '.join(info.aliases)})" if info.aliases else ""
        typer.echo(f"{info.name}{aliases}\n    {info.summary}\n    from: {info.paper}")


@app.command("learners")
def list_learners():
    """List the learners params.yaml's `learner` can name: what each trains and what it reads."""
    from cartal.learners import available

    for info in available():
        typer.echo(f"{info.name}\n    {info.summary}\n    reads: {info.load().inputs}")


if __name__ == "__main__":
    app()
