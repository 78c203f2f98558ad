"""Launcher for `kind = "sim"` boards: the firmware built for this computer
(firmware/ports/host), serving the protocol on a pseudo-terminal or, with
`tcp=PORT`, on socket://127.0.0.1:PORT."""
from __future__ import annotations

import os
import selectors
import subprocess
import time
from pathlib import Path

from ..errors import BoardError, BuildFailed, ToolMissing, first_error
from ..fsutil import locked
from ..resources import build_dir, firmware_dir
from . import BaseSession, die_with_parent, stop_process

def binary_path() -> Path:
    return build_dir() / "host" / "bnrt-sim"


def build() -> Path:
    """`make -C firmware sim` (a no-op when up to date); returns the binary."""
    try:
        with locked(build_dir() / "host"):
            r = subprocess.run(["make", "-s", "-C", str(firmware_dir()), "sim", f"BUILD={build_dir()}"],
                               capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise ToolMissing("`make` is not installed", "install make and gcc "
                          "(scripts/setup-and-test.sh)") from None
    except subprocess.TimeoutExpired:
        raise BuildFailed("building the host simulator took over 5 minutes",
                          "run `make -C firmware sim` by hand to see why") from None
    if r.returncode != 0:
        output = r.stderr + r.stdout
        raise BuildFailed(f"building the host simulator failed: {first_error(output)}",
                          "run `make -C firmware sim` to see the full error", output)
    return binary_path()


class Session(BaseSession):
    """A running simulator.  `url` is for serial.serial_for_url."""

    def __init__(self, board, proc: subprocess.Popen, url: str):
        self.board, self.proc, self.url = board, proc, url

    def stop(self) -> None:
        stop_process(self.proc)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __del__(self):
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    line, deadline = b"", time.monotonic() + timeout
    try:
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return ""
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                return ""
            line += chunk
    finally:
        sel.close()
    return line.decode().strip()


def start(board, *, tcp: int | None = None, timeout: float = 10.0, binary: Path | str | None = None,
          **options) -> Session:
    """Build the simulator if needed (or run `binary`, e.g. a user-kernel
    harness), start it and wait (up to `timeout` s) for the URL it serves on.
    `tcp=0` picks a free TCP port."""
    binary = build() if binary is None else Path(binary)
    args = [str(binary)] + (["--tcp", str(int(tcp))] if tcp is not None else [])
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=die_with_parent)
    session = Session(board, proc, "")
    url = _first_line(proc, timeout)
    if not url:
        session.stop()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr and not proc.stderr.closed else ""
        raise BoardError(f"the host simulator did not start within {timeout:g} s"
                         + (f": {err}" if err else ""), f"run {binary_path()} by hand to see why")
    session.url = url
    return session
