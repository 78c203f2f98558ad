"""Launcher for `kind = "serial"` boards: real hardware that already runs the
firmware.  Starts nothing; the session is just the port's URL."""
from __future__ import annotations

from ..errors import BoardError
from . import BaseSession


class Session(BaseSession):
    def __init__(self, board, url: str):
        self.board, self.url = board, url

    def stop(self) -> None:
        """Nothing to stop: the board keeps running."""


def start(board, *, port: str | None = None, **options) -> Session:
    """`port` (--port) wins over the board's default, [uart] port in board.toml."""
    url = port or board.get("uart.port") or board.get("port")
    if not url:
        raise BoardError(f"board {board.name!r} has no default port",
                         "pass --port (e.g. /dev/ttyACM0 or socket://HOST:PORT)")
    return Session(board, url)
