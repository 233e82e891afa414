"""What every failure test checks: the command fails, says what is wrong and how to fix it, and leaves every
artifact as it was; and the edits that break a project and put it back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from projects import run, snapshot

BATCH = 6  # the waiting human round's batch size (conftest.waiting)
BATCH_FILE = "annotations/round-0/batch.csv"


def batch(repo: Path) -> pd.DataFrame:
    """Round 0's batch file, every instance labeled 2: edit it, then `answer` it."""
    frame = pd.read_csv(repo / BATCH_FILE, dtype=str, keep_default_na=False)
    return frame.assign(label="2", skip="")


def answer(repo: Path, frame: pd.DataFrame, *messages: str) -> None:
    """Write ``frame`` as round 0's answers; `dvc repro` must refuse them with ``messages``, changing nothing
    (round 1 never starts). The batch file is put back as it was, still waiting for labels."""
    path = repo / BATCH_FILE
    good = path.read_bytes()
    frame.to_csv(path, index=False)
    try:
        refused(repo, ["dvc", "repro"], *[f"{BATCH_FILE}: {m}" if i == 0 else m for i, m in enumerate(messages)])
        assert not (repo / "data/rounds/1").exists()
    finally:
        path.write_bytes(good)


def set_params(repo: Path, **changes) -> None:
    """Edit params.yaml; a key with dots ('model.dropout') sets a nested value."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = params
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def refused(repo: Path, command: list[str], *messages: str) -> str:
    """Run ``command``; it must fail, say every one of ``messages``, and leave every artifact as it was."""
    before = snapshot(repo)
    result = run(command, repo, check=False)
    assert result.returncode != 0, f"{' '.join(command)} should have failed:\n{result.stdout}\n{result.stderr}"
    for message in messages:
        assert message in result.stderr, f"{message!r} not in:\n{result.stderr}"
    after = snapshot(repo)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    assert not changed, f"{' '.join(command)} changed artifacts: {changed}"
    return result.stderr


def restore(repo: Path) -> None:
    """Back to the committed params and round files; the experiment is up to date again."""
    run(["git", "checkout", "--", "params.yaml", "rounds"], repo)
    run(["git", "clean", "-fdq", "-e", "dvc.lock", "rounds"], repo)  # the rounds' locks are not committed
