"""What `cartal reproduce` changes in the workspace while it queues experiments, kept where the next run finds it.

A queued experiment runs the workspace as it was when it was queued, and `-S` changes params but not files: so
while the grid's experiments are queued, params.yaml and rounds/ hold the round pipelines of the grid's number
of rounds, and rounds/ is staged in git (DVC leaves untracked files out of a queued experiment).

Before anything is touched, ``hold`` copies params.yaml, rounds/ and the git index's entries under rounds/ to
``.dvc/tmp/cartal-reproduce/`` (git ignores .dvc/tmp), beside the versions the queue needs, and writes
``backup.json`` last: a folder without it is a backup that was never used. Afterwards the originals are put
back; if the process was killed first, the next `cartal reproduce`, `cartal ablate`, `cartal rounds` or
`cartal repro` puts them back before anything else (``restore``), and every stage command refuses to run on
the queue's files meanwhile. A file changed since by someone else is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cartal import layout
from cartal.errors import ProjectError

log = logging.getLogger(__name__)

FOLDER = Path(".dvc") / "tmp" / "cartal-reproduce"
MARKER = "backup.json"
PARAMS, ROUNDS = "params.yaml", layout.ROUND_PIPELINES.as_posix()


def pending(root: Path) -> Path | None:
    """The marker of a backup whose files are not back in the workspace, if there is one."""
    marker = root / FOLDER / MARKER
    return marker if marker.is_file() else None


def refuse_if_pending(root: Path) -> None:
    """Stop a stage that would run on the files an interrupted `cartal reproduce` left for its queue."""
    if pending(root):
        raise ProjectError(f"params.yaml and rounds/ hold the round pipelines an interrupted `cartal reproduce` wrote "
                           f"for its queue (yours are in {FOLDER}/original/): run `cartal repro` or `cartal reproduce` "
                           "again, which put yours back first")


@contextmanager
def hold(root: Path, rounds: int) -> Iterator[None]:
    """While the block runs, the workspace holds params.yaml and rounds/ of ``rounds`` rounds (rounds/ staged);
    afterwards, or on the next run after a kill, they are back as they were."""
    restore(root)
    folder = root / FOLDER
    shutil.rmtree(folder, ignore_errors=True)  # a backup never used: the workspace was not touched
    original, queue = folder / "original", folder / "queue"
    original.mkdir(parents=True)
    _copy(root, original)
    index = _git(root, "ls-files", "-s", "-z", "--", ROUNDS).stdout
    (original / "index").write_bytes(index)
    _copy(root, queue)
    _cartal_rounds(root, queue / PARAMS, rounds)
    _write(folder / MARKER, json.dumps({"original": _fingerprint(original), "queue": _fingerprint(queue)},
                                       indent=1).encode())
    try:
        _put(queue, root)
        _git(root, "add", "-A", "--", ROUNDS)
        yield
    finally:
        restore(root, interrupted=False)


def restore(root: Path, interrupted: bool = True) -> bool:
    """Put params.yaml, rounds/ and git's index of rounds/ back as they were before `cartal reproduce` queued its
    experiments, if a backup waits; True if one did. Refuses (nothing changed) when one of those files was
    changed since by someone else."""
    folder = root / FOLDER
    marker = pending(root)
    if marker is None:
        shutil.rmtree(folder, ignore_errors=True)
        return False
    saved = json.loads(marker.read_text())
    now = _fingerprint(root)
    for path in sorted(set(now) | set(saved["original"]) | set(saved["queue"])):
        if now.get(path) not in (saved["original"].get(path), saved["queue"].get(path)):
            raise ProjectError(f"{path} changed after a `cartal reproduce` that was interrupted while it queued "
                               f"experiments; the files from before it are in {FOLDER}/original/: put back what you "
                               f"need, then delete {FOLDER}/")
    _put(folder / "original", root)
    _git(root, "rm", "-r", "-q", "-f", "--cached", "--ignore-unmatch", "--", ROUNDS)  # the files stay
    entries = (folder / "original" / "index").read_bytes()
    if entries:
        _git(root, "update-index", "-z", "--index-info", input=entries)
    marker.unlink()
    shutil.rmtree(folder)
    if interrupted:
        log.warning("an earlier `cartal reproduce` was stopped while it queued experiments: params.yaml, rounds/ "
                    "and git's index of rounds/ are back as they were before it")
    return True


def _copy(root: Path, to: Path) -> None:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / PARAMS, to / PARAMS)
    if (root / ROUNDS).is_dir():
        shutil.copytree(root / ROUNDS, to / ROUNDS, symlinks=True)


def _put(source: Path, root: Path) -> None:
    """Make params.yaml and rounds/ under ``root`` those under ``source`` (rounds/ absent if absent there)."""
    _write(root / PARAMS, (source / PARAMS).read_bytes())
    shutil.rmtree(root / ROUNDS, ignore_errors=True)
    if (source / ROUNDS).is_dir():
        shutil.copytree(source / ROUNDS, root / ROUNDS, symlinks=True)


def _fingerprint(root: Path) -> dict[str, str]:
    """sha256 of params.yaml and of every file under rounds/, by path relative to ``root``."""
    files = [root / PARAMS, *sorted((root / ROUNDS).rglob("*"))]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files if p.is_file() and not p.is_symlink()}


def _write(path: Path, data: bytes) -> None:
    """The new bytes or the old ones, never half of them."""
    tmp = path.with_name(f".{path.name}.cartal-tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _cartal_rounds(root: Path, params: Path, rounds: int) -> None:
    result = subprocess.run(["cartal", "rounds", str(rounds), "--params", str(params)], cwd=root,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise ProjectError(f"`cartal rounds {rounds}` for the queue failed: {(result.stdout + result.stderr).strip()}")


def _git(root: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=root, input=input, capture_output=True)
    if result.returncode != 0:
        raise ProjectError(f"`git {' '.join(args)}` failed in {root}: {result.stderr.decode(errors='replace').strip()}")
    return result
