"""What `cartal reproduce --ray` needs before any task runs: a git remote holding HEAD and a DVC remote, each
missing one named with the command that adds it; the experiments a remote holds, by name."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from cartal.errors import ProjectError
from cartal.experiments import remotes
from cartal.experiments.ray_executor import resources
from cartal.params import Params

pytestmark = pytest.mark.integration  # git and DVC


def sh(args: list[str], cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    sh(["git", "init", "-q"], repo)
    sh(["git", "config", "user.email", "test@example.com"], repo)
    sh(["git", "config", "user.name", "test"], repo)
    sh(["dvc", "init", "-q"], repo)
    sh(["git", "commit", "-qm", "init"], repo)
    return repo


def test_missing_remotes_are_named_with_the_command_that_adds_them(repo):
    with pytest.raises(ProjectError, match=r"no git remote 'origin'.*git remote add origin URL"):
        remotes.resolve(repo)
    sh(["git", "remote", "add", "origin", "../remote.git"], repo)
    with pytest.raises(ProjectError, match=r"no default one.*dvc remote add -d storage"):
        remotes.resolve(repo)
    with pytest.raises(ProjectError, match=r"no DVC remote 'elsewhere' \(configured: none\)"):
        remotes.resolve(repo, dvc_remote="elsewhere")


def test_remotes_resolve_to_urls_a_task_can_use_from_its_own_clone(repo, tmp_path):
    sh(["git", "remote", "add", "origin", "../remote.git"], repo)
    sh(["dvc", "remote", "add", "--local", "-d", "storage", "../storage"], repo)
    where = remotes.resolve(repo)
    assert where == remotes.Remotes(str(tmp_path / "remote.git"), "storage", str(tmp_path / "storage"))
    assert remotes.resolve(repo, git_remote="ssh://host/srv/x.git").git_url == "ssh://host/srv/x.git"


def test_a_commit_not_on_the_git_remote_is_refused_and_experiments_are_listed_by_name(repo, tmp_path):
    sh(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], tmp_path)
    url = str(tmp_path / "remote.git")
    head = sh(["git", "rev-parse", "HEAD"], repo)
    with pytest.raises(ProjectError, match=r"is not on the git remote .*git push origin HEAD"):
        remotes.check_commit_pushed(repo, url, head)
    sh(["git", "push", "-q", url, "HEAD:refs/heads/main"], repo)
    remotes.check_commit_pushed(repo, url, head)
    (repo / "later.txt").write_text("later\n")
    sh(["git", "add", "later.txt"], repo)
    sh(["git", "commit", "-qm", "later"], repo)
    sh(["git", "push", "-q", url, "HEAD:refs/heads/main"], repo)
    remotes.check_commit_pushed(repo, url, head)  # an ancestor of what the remote holds
    sh(["git", "push", "-q", url, f"HEAD:refs/exps/{head[:2]}/{head[2:]}/trec-random-11-abc123"], repo)
    assert remotes.experiments_on(repo, url, head) == {"trec-random-11-abc123": sh(["git", "rev-parse", "HEAD"],
                                                                                    repo)}


def test_a_task_asks_for_a_gpu_only_where_the_params_run_on_cuda():
    params = Params()
    assert resources(params) == {"num_cpus": 1, "num_gpus": 0}
    params = replace(params, transformer=replace(params.transformer, device="cuda"))
    assert resources(params)["num_gpus"] == 0  # the MLP learner: the transformer block is unused
    assert resources(replace(params, learner="transformer"))["num_gpus"] == 1
    assert resources(replace(Params(), encoder=replace(Params().encoder, device="cuda:1")))["num_gpus"] == 1
