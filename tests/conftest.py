"""Shared fixtures: the offline datasets beside the checkout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from label_studio_server import label_studio, label_studio_for_module  # noqa: F401  (fixtures, for every module)
from warm_workers import stop_workers


def pytest_collection_modifyitems(items):
    """A slow test runs `dvc repro`, a label_studio test a server: both are integration tests, so that
    `-m 'not integration'` leaves the unit tests (the library, no DVC, no other process) and nothing else."""
    for item in items:
        if item.get_closest_marker("slow") or item.get_closest_marker("label_studio"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository (TREC, AG News test); CARTAL_SHARED_DATA overrides it."""
    path = Path(os.environ.get("CARTAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (path / "trec" / "train.csv").is_file():
        pytest.fail(f"shared test data not found at {path}: the tests read TREC from ../shared/data/trec "
                    "beside the checkout; set CARTAL_SHARED_DATA to its folder")
    return path


@pytest.fixture(scope="session", autouse=True)
def feature_cache(tmp_path_factory) -> Path:
    """The tests' own feature cache, empty at the start of the session: a test never reads the user's cache,
    and the stage commands of the tests' projects inherit it through the environment."""
    from cartal.encoders import cache

    folder = tmp_path_factory.mktemp("feature-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(cache.ENV, str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def warm_workers():
    """Stage commands in the tests' projects use warm workers of the tests' own (cartal.warm); stop them after."""
    import tempfile

    from cartal import warm

    folder = Path(tempfile.mkdtemp(prefix="cartal-warm-tests-"))  # short: a socket's path has 107 bytes at most
    saved = {name: os.environ.get(name) for name in (warm.DIR_ENV, warm.IDLE_ENV)}
    os.environ[warm.DIR_ENV], os.environ[warm.IDLE_ENV] = str(folder), "60"
    yield folder
    stop_workers(folder)
    shutil.rmtree(folder, ignore_errors=True)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
