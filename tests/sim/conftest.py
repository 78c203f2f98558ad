"""Fixtures for tests against the real firmware built for the host (bnrt-sim)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import serial

from toolkit.boards import get_board, start_board
from toolkit.format.writer import write_model
from toolkit.protocol.client import Client
from toolkit.protocol.framing import FrameSplitter, build_frame, decode_frame

from sim_helpers import random_layer


@pytest.fixture(scope="session")
def sim():
    """One simulator for the session (tests that need a fresh one start their own)."""
    with start_board(get_board("host-sim")) as session:
        yield session


@pytest.fixture
def client(sim):
    with Client(sim.url, timeout=2.0) as c:
        yield c


class Raw:
    """Bytes straight onto the link, frames straight off it."""

    def __init__(self, url):
        self.ser = serial.serial_for_url(url, timeout=0.05)
        self.splitter = FrameSplitter()
        self.pending = []

    def send(self, data: bytes) -> None:
        self.ser.write(data)

    def frame(self, cmd, seq, payload=b"", status=0, flags=0) -> None:
        self.send(build_frame(cmd, seq, payload, status, flags))

    def recv(self, timeout=2.0):
        deadline = time.monotonic() + timeout
        while not self.pending and time.monotonic() < deadline:
            self.pending += self.splitter.feed(self.ser.read(max(1, self.ser.in_waiting)))
        return decode_frame(self.pending.pop(0)) if self.pending else None


@pytest.fixture
def raw(sim):
    r = Raw(sim.url)
    r.send(b"\x00")
    yield r
    r.ser.close()


@pytest.fixture
def model_a():
    """A small f32 model and its blob."""
    rng = np.random.default_rng(1)
    layer = random_layer(rng, "f32", "nchw", 4, name="a")
    return layer, write_model([layer])
