"""toolkit.launchers.sim: TCP mode, and the simulator never outlives its session."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from toolkit.boards import get_board, start_board
from toolkit.protocol.client import Client


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state      # a zombie has already died


def test_tcp_mode_and_stop():
    with start_board(get_board("host-sim"), tcp=0) as s:
        assert s.url.startswith("socket://127.0.0.1:")
        with Client(s.url) as c:
            assert c.info().name == "host-sim"
            assert c._ser._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with Client(s.url) as c:                        # the next client is accepted too
            assert c.info().name == "host-sim"
    assert not _alive(s.proc.pid)


def test_simulator_dies_with_its_parent():
    code = ("import time; from toolkit.boards import get_board, start_board; "
            "s = start_board(get_board('host-sim')); print(s.proc.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert _alive(pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)
