"""pyproject.toml's version ranges admit no version that lacks what cartal relies on, or that does what cartal
must not (run a hub dataset's loading script), and they admit the versions installed here, which the tests run."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def requirement(name: str) -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, dependencies) if r.name == name)


@pytest.mark.parametrize(("name", "too_old", "first_good"), [
    ("torch", "2.3.1", "2.4.0"),  # torch._fused_adamw_ (cartal.models.optim) has a CPU kernel from 2.4
    ("datasets", "3.6.0", "4.0.0"),  # 4.0 no longer runs Python loading scripts from the hub
])
def test_the_floor_excludes_versions_without_what_cartal_needs(name, too_old, first_good):
    spec = requirement(name).specifier
    assert not spec.contains(too_old) and spec.contains(first_good)


@pytest.mark.parametrize("name", ["torch", "datasets", "dvc"])
def test_the_installed_version_is_in_range(name):
    installed = Version(version(name)).base_version  # torch's local label (+cpu) aside
    assert requirement(name).specifier.contains(installed)


def test_dvc_is_bounded_by_the_versions_the_executor_replacement_was_tested_on():
    """cartal.experiments.dvc_executor replaces a private function of DVC: a new DVC may stop calling it (or drop
    it), so the range ends at the newest version tests/test_dvc_executor.py has run on."""
    spec = requirement("dvc").specifier
    assert any(s.operator in ("<", "<=", "==", "~=") for s in spec), f"dvc{spec} has no upper bound"
    assert spec.contains("3.67.1") and not spec.contains("3.68.0")
