"""Fixtures of the reliability tests (docs/reliability.md); helpers live in
rel_helpers.py."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def host_sim():
    """One host simulator for the session; yields its URL."""
    from toolkit.boards import get_board, start_board

    with start_board(get_board("host-sim")) as session:
        yield session.url
