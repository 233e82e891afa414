"""One finished experiment, copied for each failure test: a failure must leave every artifact as it was.

Each test module gets its own copy of the finished project (git repo, DVC cache and all), breaks one thing,
checks the message names the problem and the fix, and checks that no artifact under data/ or metrics/
changed (the user's inputs in data/raw/ aside).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from projects import new_project, run


@pytest.fixture(scope="session")
def finished(tmp_path_factory, shared_data) -> Path:
    """TREC cut small, 1 query round, 2 epochs, gold oracle: `dvc repro` done."""
    repo = new_project(tmp_path_factory.mktemp("finished"), shared_data, rounds=1, epochs=2, batch_size=20,
                       seed_size=40)
    run(["dvc", "repro"], repo)
    return repo


@pytest.fixture(scope="module")
def project(finished, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("failure") / "project"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


def snapshot(repo: Path) -> dict[str, str]:
    """md5 of every artifact under data/ and metrics/, the user's inputs in data/raw/ aside."""
    return {str(p.relative_to(repo)): hashlib.md5(p.read_bytes()).hexdigest()
            for folder in ("data", "metrics") for p in sorted((repo / folder).rglob("*"))
            if p.is_file() and "raw" not in p.relative_to(repo).parts}


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
