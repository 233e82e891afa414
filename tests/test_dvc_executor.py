"""The queue workers' DVC: the same files staged after each stage as DVC's own lookup, found without
rebuilding the index, and a `dvc` on the workers' PATH that installs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dvc.repo import Repo

from cartal.experiments import dvc_executor
from cartal.experiments.dvc_queue import executor_path
from projects import new_project, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data):
    return new_project(tmp_path_factory.mktemp("executor"), shared_data, rounds=2, epochs=2)


def staged_files(project: Path) -> list[tuple[str, list[str], list[str]]]:
    """For every stage: its address, what DVC's own lookup stages, what ``stage_files`` stages."""
    from dvc.stage.utils import _get_stage_files

    dvc_executor._outputs.clear()
    repo = Repo(str(project))
    return [(stage.addressing, _get_stage_files(stage), dvc_executor.stage_files(stage))
            for stage in repo.index.stages]


def test_every_stage_stages_the_same_files_as_dvcs_own_lookup_before_and_after_a_run(project, monkeypatch):
    monkeypatch.chdir(project)
    before = staged_files(project)
    assert len(before) == 4 + 6 + 6 + 4  # check-params, prepare, embed, report; rounds 0 and 1; the last round
    assert all(ours == dvcs for _, dvcs, ours in before)
    run(["dvc", "repro", "-q"], project)
    after = staged_files(project)
    assert all(ours == dvcs for _, dvcs, ours in after)
    # what DVC caches is left out, what git keeps (a stage's module, a `cache: false` output) is staged
    staged = {name: ours for name, _, ours in after}
    assert "stages/prepare.py" in staged["prepare"] and "data/params-checked.json" in staged["prepare"]
    select = staged["rounds/0/dvc.yaml:select"]
    assert select == ["rounds/0/dvc.yaml", "rounds/0/dvc.lock", "stages/select.py", "params.yaml"]


def test_install_replaces_dvcs_lookup_unless_turned_off(monkeypatch):
    import dvc.stage.utils

    original = dvc.stage.utils._get_stage_files
    try:
        monkeypatch.setenv("CARTAL_PATCH_DVC_EXECUTOR", "0")
        assert dvc_executor.install() is False and dvc.stage.utils._get_stage_files is original
        monkeypatch.delenv("CARTAL_PATCH_DVC_EXECUTOR")
        assert dvc_executor.install() is True and dvc.stage.utils._get_stage_files is dvc_executor.stage_files
    finally:
        dvc.stage.utils._get_stage_files = original


def test_a_dvc_without_the_function_is_left_as_it_is_and_says_so(monkeypatch):
    import dvc.stage.utils

    monkeypatch.delattr(dvc.stage.utils, "_get_stage_files")
    monkeypatch.delenv("CARTAL_PATCH_DVC_EXECUTOR", raising=False)
    with pytest.warns(RuntimeWarning, match=r"has no dvc.stage.utils._get_stage_files, so cartal's faster stage-file "
                                            r"lookup is off"):
        assert dvc_executor.install() is False
    assert not hasattr(dvc.stage.utils, "_get_stage_files")


def test_an_experiment_run_calls_the_replacement_for_every_stage(tmp_path, monkeypatch):
    """DVC's experiment executor (the same `BaseExecutor.reproduce` for the workspace as for a queue worker's
    temporary copy) must call the function that ``install`` replaces: if a DVC stops calling it, the replacement
    is dead code and this fails, whatever the function returns."""
    import dvc.stage.utils
    from dvc.cli import main as dvc_main

    for command in (["git", "init", "-q"], ["git", "config", "user.email", "test@example.com"],
                    ["git", "config", "user.name", "test"], ["dvc", "init", "-q"]):
        run(command, tmp_path)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  first:\n    cmd: echo one > one.txt\n    outs: [one.txt]\n"
        "  second:\n    cmd: cat one.txt > two.txt\n    deps: [one.txt]\n    outs: [two.txt]\n")
    run(["git", "add", "-A"], tmp_path)
    run(["git", "commit", "-qm", "pipeline"], tmp_path)
    called = []

    def counted(stage):
        called.append(stage.addressing)
        return replacement(stage)

    replacement = dvc_executor.stage_files
    monkeypatch.setattr(dvc_executor, "stage_files", counted)
    monkeypatch.delenv("CARTAL_PATCH_DVC_EXECUTOR", raising=False)
    monkeypatch.setattr(dvc.stage.utils, "_get_stage_files", dvc.stage.utils._get_stage_files)  # put back after
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    assert dvc_executor.install() is True
    assert dvc_main(["exp", "run", "-q", "-n", "counted"]) == 0
    assert called == ["first", "second"]
    assert (tmp_path / "two.txt").read_text() == "one\n"


def test_the_workers_dvc_is_dvc_with_the_replacement(project):
    path = executor_path(project)["PATH"]
    folder = path.split(os.pathsep)[0]
    assert folder.startswith(str(project / ".dvc" / "tmp"))
    version = subprocess.run(["dvc", "version"], cwd=project, env={"PATH": path, "DVC_NO_ANALYTICS": "1"},
                             capture_output=True, text=True)
    assert version.returncode == 0 and "DVC version" in version.stdout
    # the script is not part of any experiment's commit
    assert ".dvc/" not in run(["git", "status", "--porcelain"], project).stdout
