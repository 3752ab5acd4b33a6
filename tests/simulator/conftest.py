"""Fixtures for the engine-independent simulator tests (no chain needed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

MINIMAL: dict[str, Any] = {
    "name": "tiny",
    "seed": 3,
    "steps": 20,
    "traders": {"kind": "random", "count": 50, "long_share": 0.7},
    "price_path": {"kind": "gbm", "start_price_usd": 100.0, "vol_per_year": 0.8},
}


@pytest.fixture
def minimal() -> dict[str, Any]:
    """A small valid scenario as plain data (a fresh copy per test)."""
    return copy.deepcopy(MINIMAL)


@pytest.fixture
def write(tmp_path):
    """Write a text file under the test's tmp folder and return its path."""

    def _write(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write
