"""The DVC workspace as a person sees it: which results are current, and `dvc repro` that reads a wait as a wait.

Files on disk can be the results of an earlier run: after `oracle: gold` became
`human`, round 4's metrics are still there although the pipeline that
params.yaml declares waits for round 0's labels. DVC knows which stages are out
of date (their own inputs, params or outputs changed); every stage downstream
of one of them is out of date too, which `dvc status` does not say.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cartal.errors import LABELS_PENDING_EXIT, ParamsError


@dataclass(frozen=True)
class PipelineState:
    """Which of the declared stages hold results of the pipeline as declared now (DVC's addressing:
    ``prepare``, ``rounds/3/dvc.yaml:train-seed``)."""

    stale: frozenset[str]  # out of date themselves, or downstream of a stage that is
    stages: frozenset[str]  # every stage declared

    def current(self, stage: str) -> bool:
        return stage in self.stages and stage not in self.stale


#: check-params writes the same bytes whatever it checks: a change it sees reruns it, and nothing downstream
CONSTANT_OUTPUT_STAGES = frozenset({"check-params"})


def pipeline_state(root: Path) -> PipelineState:
    """Ask DVC which stages are out of date, and add everything downstream of them (but of a stage whose
    output never changes)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        changed = set(repo.status())
        by_name = {stage.addressing: stage for stage in graph.nodes}
        stale = set(changed)
        for name in (changed & set(by_name)) - CONSTANT_OUTPUT_STAGES:
            stale |= {stage.addressing for stage in nx.ancestors(graph, by_name[name])}  # edges point upstream
    return PipelineState(stale=frozenset(stale), stages=frozenset(by_name))


class _LabelsPending(logging.Filter):
    """Drops DVC's "failed to reproduce" error when the stage that stopped was waiting for labels."""

    def __init__(self):
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        from dvc.stage.exceptions import StageCmdFailedError

        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, StageCmdFailedError) and str(error).endswith(f"exited with {LABELS_PENDING_EXIT}"):
                self.seen = True
                return False
            error = error.__cause__ or error.__context__
        return True


def repro(args: list[str]) -> tuple[int, bool]:
    """Run `dvc repro ARGS` in this process; return DVC's exit code and whether a stage stopped to wait
    for labels (DVC's own error line about that stop is left out: the caller says what to do)."""
    from dvc.cli import main

    waiting = _LabelsPending()
    logger = logging.getLogger("dvc.cli")  # the logger DVC's command line reports a failed command with
    logger.addFilter(waiting)
    try:
        code = main(["repro", *args])
    finally:
        logger.removeFilter(waiting)
    return code, waiting.seen


def experiment_copy(root: Path) -> Path | None:
    """The project that ``root`` is a temporary copy of, when a stage runs in a queued or temporary DVC
    experiment (`dvc exp run --queue` or `--temp`, `cartal reproduce`): DVC runs those in a copy under
    .dvc/tmp/exps and tells the stages the project's own root in DVC_ROOT. None in the workspace."""
    root = root.resolve()
    project = os.environ.get("DVC_ROOT")
    if project and Path(project).resolve() != root:
        return Path(project)
    parts = root.parts
    for i in range(len(parts) - 3):
        if parts[i:i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return None


def refuse_human_rounds_in_a_copy(root: Path, oracle: str) -> None:
    """A human round writes the batch to label into annotations/ and waits for the labels there: in a temporary
    copy of the project nobody would see the batch, and the copy is deleted when the experiment ends."""
    project = experiment_copy(root)
    if oracle == "human" and project is not None:
        raise ParamsError(f"oracle: human cannot run in a queued or temporary DVC experiment (this one runs in a copy "
                          f"of {project} that DVC deletes, with the annotation folders); human rounds run in the "
                          "workspace: `cartal repro`, or `dvc repro` / `dvc exp run` without --queue or --temp")
