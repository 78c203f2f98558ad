"""pytest plugin (entry point `pytest11`): hardware-in-the-loop options and fixtures.

Options: --board NAME (default host-sim), --port URL (a board already running
or plugged in).  Marker: `hil`.  Fixtures are documented in docs/boards.md.
"""
from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("bnrt", "BatchNorm runtime hardware-in-the-loop")
    group.addoption("--board", action="store", default=None,
                    help="board to run hil tests on (default: host-sim; `toolkit boards` lists them)")
    group.addoption("--port", action="store", default=None,
                    help="serial URL of a running board (/dev/ttyACM0, socket://127.0.0.1:PORT)")


def pytest_configure(config):
    config.addinivalue_line("markers", "hil: hardware-in-the-loop test against --board")
