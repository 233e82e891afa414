"""The git and DVC remotes a grid on Ray shares: where its tasks clone the commit from and push experiments to.

Tasks run on other machines, so they cannot read the user's repository: they clone the commit from a git remote
and push each experiment there (its git ref) and to a DVC remote (its outputs). Both default to the repository's
own configured remotes (git's ``origin``, DVC's default remote); this module resolves them to URLs a task can
use anywhere, and says how to configure them where they are missing.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cartal.errors import ProjectError

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@host:path


@dataclass(frozen=True)
class Remotes:
    """The git remote's URL and the DVC remote's name and URL (the name is the user repository's, where the
    driver pulls from; tasks add the same name to their clone's local config with this URL)."""

    git_url: str
    dvc_name: str
    dvc_url: str


def resolve(root: Path, git_remote: str | None = None, dvc_remote: str | None = None) -> Remotes:
    """The remotes named (default: git's origin, DVC's default remote), as URLs; relative local paths made
    absolute, since a task resolves them in its own clone."""
    git_url = _git_url(root, git_remote or "origin")
    return Remotes(git_url, *_dvc_remote(root, dvc_remote))


def _git_url(root: Path, remote: str) -> str:
    if _is_url(remote) or Path(remote).is_absolute():
        return remote
    result = _git(root, "remote", "get-url", remote, check=False)
    if result.returncode != 0:
        raise ProjectError(f"the Ray grid needs a git remote its machines clone the commit from and push experiments "
                           f"to, and this repository has no git remote {remote!r}: add one with `git remote add "
                           f"{remote} URL` (a bare repository every machine reaches: `git init --bare PATH` on a "
                           "shared disk, or a git server), then `git push`; or name one with --git-remote")
    url = result.stdout.strip()
    return url if _is_url(url) or Path(url).is_absolute() else str((root / url).resolve())


def _dvc_remote(root: Path, name: str | None) -> tuple[str, str]:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        config = repo.config
        name = name or config["core"].get("remote")
        if not name:
            raise ProjectError("the Ray grid needs a DVC remote that every machine reaches, where each experiment's "
                               "outputs go, and this project has no default one: add it with `dvc remote add -d "
                               "storage s3://bucket/path` (or ssh://host/path, or a folder on a shared disk), or name "
                               "one with --dvc-remote")
        if name not in config["remote"]:
            known = ", ".join(config["remote"]) or "none"
            raise ProjectError(f"this project has no DVC remote {name!r} (configured: {known}); add it with "
                               f"`dvc remote add {name} URL`")
        url = str(config["remote"][name]["url"])
    return name, url if _is_url(url) or Path(url).is_absolute() else str((root / ".dvc" / url).resolve())


def _is_url(text: str) -> bool:
    return bool(_SCHEME.match(text) or _SCP_LIKE.match(text))


def head(root: Path) -> str:
    """The commit the grid's experiments are based on (HEAD), which the tasks clone."""
    return _git(root, "rev-parse", "HEAD").stdout.strip()


def check_commit_pushed(root: Path, git_url: str, commit: str) -> None:
    """Tasks clone ``commit`` from the git remote: refuse before anything runs when the remote does not hold it."""
    listing = _git(root, "ls-remote", "--heads", "--tags", git_url, check=False)  # not refs/exps: many, no use
    if listing.returncode != 0:
        raise ProjectError(f"cannot read the git remote {git_url}: {listing.stderr.strip()}")
    tips = {line.split()[0] for line in listing.stdout.splitlines() if line.strip()}
    if commit in tips or any(_git(root, "merge-base", "--is-ancestor", commit, tip, check=False).returncode == 0
                             for tip in tips):
        return
    raise ProjectError(f"commit {commit[:7]} (HEAD) is not on the git remote {git_url}, where the Ray grid's machines "
                       "clone it from: push it first (`git push origin HEAD`, or to the remote of --git-remote)")


def experiments_on(root: Path, git_url: str, commit: str) -> dict[str, str]:
    """Experiment name -> commit of every experiment of baseline ``commit`` that the git remote holds."""
    prefix = f"refs/exps/{commit[:2]}/{commit[2:]}/"
    listing = _git(root, "ls-remote", git_url, f"{prefix}*").stdout
    refs = (line.split() for line in listing.splitlines() if line.strip())
    return {ref[len(prefix):]: sha for sha, ref in refs if ref.startswith(prefix)}


def pull(root: Path, remotes: Remotes, names: list[str]) -> None:
    """Bring experiments from the remotes into the repository: their git refs and, from the DVC remote, their
    outputs into the cache (the workspace is not touched), so that `dvc exp show` lists them and they are read
    like the queue's."""
    if not names:
        return
    args = ["dvc", "exp", "pull", "-r", remotes.dvc_name, remotes.git_url, *names]
    result = subprocess.run(args, cwd=root, capture_output=True, text=True,
                            env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    if result.returncode != 0:
        raise ProjectError(f"`{' '.join(args)}` failed (exit {result.returncode}):\n"
                           f"{(result.stdout + result.stderr).strip()[-3000:]}")


def author(root: Path) -> tuple[str, str] | None:
    """The repository's git identity, for the experiment commits made in the tasks' clones."""
    values = [_git(root, "config", key, check=False).stdout.strip() for key in ("user.name", "user.email")]
    return (values[0], values[1]) if all(values) else None


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ProjectError(f"`git {' '.join(args)}` failed in {root}: {result.stderr.strip()}")
    return result
