"""paced:// (toolkit/serial_handlers/protocol_paced.py): socket:// whose writes
leave in pieces with gaps, for boards whose receive ring is smaller than a frame."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import serial

from toolkit.serial_handlers import register


def test_writes_arrive_whole_in_pieces_with_gaps():
    register()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    got = bytearray()

    def receive():
        conn, _ = server.accept()
        with conn:
            while len(got) < 100:
                data = conn.recv(1000)
                if not data:
                    break
                got.extend(data)

    t = threading.Thread(target=receive)
    t.start()
    link = serial.serial_for_url(f"paced://127.0.0.1:{port}?chunk=10&gap_ms=20", timeout=1)
    t0 = time.monotonic()
    assert link.write(bytes(range(100))) == 100
    elapsed = time.monotonic() - t0
    t.join(5)
    link.close()
    server.close()
    assert bytes(got) == bytes(range(100))
    assert elapsed >= 10 * 0.02 * 0.9                # ten pieces, a gap after each


def test_unknown_option_is_refused():
    register()
    with pytest.raises(serial.SerialException, match="unknown option"):
        serial.serial_for_url("paced://127.0.0.1:9?speed=3", do_not_open=True).open()
