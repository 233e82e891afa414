"""Every module of cartal/ imports on its own, in a fresh interpreter: an import circle fails here.

A circle often passes inside one process, where whichever module happens to come first decides the
order; a fresh interpreter per module tries every starting point.
"""

import subprocess
import sys
from pathlib import Path

import pytest

import cartal

pytestmark = pytest.mark.integration  # an interpreter per module

PACKAGE = Path(cartal.__file__).parent
MODULES = sorted(
    ".".join(("cartal", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
)


def test_the_package_has_modules_to_import():
    assert "cartal.data.frames" in MODULES and "cartal.strategies.base" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_on_its_own(module):
    run = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr.strip().splitlines()[-1]
