"""Fixtures for the C runtime tests: the host library, built once per session."""
from __future__ import annotations

import pytest

from toolkit import runtime


@pytest.fixture(scope="session")
def rt() -> runtime.Runtime:
    return runtime.default_runtime()
