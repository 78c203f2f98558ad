"""Fixtures for the train-mode BN tests: one host simulator for the module."""
from __future__ import annotations

import pytest

from toolkit.boards import get_board, start_board
from toolkit.protocol.client import Client


@pytest.fixture(scope="module")
def sim():
    with start_board(get_board("host-sim")) as session:
        yield session


@pytest.fixture
def client(sim):
    with Client(sim.url, timeout=2.0) as c:
        yield c
