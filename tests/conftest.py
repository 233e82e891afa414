"""Shared fixtures: the offline datasets beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository (TREC, AG News test); CARTAL_SHARED_DATA overrides it."""
    path = Path(os.environ.get("CARTAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (path / "trec" / "train.csv").is_file():
        pytest.fail(f"shared test data not found at {path}: the tests read TREC from ../shared/data/trec "
                    "beside the checkout; set CARTAL_SHARED_DATA to its folder")
    return path
