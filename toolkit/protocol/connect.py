"""A client on the board a command asked for: on --port when given, else on a
board started here (host simulator, QEMU, MicroPython) and stopped on exit."""
from __future__ import annotations

import contextlib

from .client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Client


@contextlib.contextmanager
def board_client(board_name: str, port: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES):
    """Yield (Client, Board, session); session is None on --port, else the
    started board (its `.proc` is the emulator process where there is one).
    --port labgrid:... holds a place of a labgrid farm for the block (docs/farm.md)."""
    from .. import farm
    from ..boards import get_board, start_board

    board = get_board(board_name)
    with contextlib.ExitStack() as stack:
        session = None
        if farm.is_spec(port):
            port = stack.enter_context(farm.lease(port)).url
        if port is None:
            session = stack.enter_context(start_board(board))
            port = session.url
        client = stack.enter_context(Client(port, timeout=timeout, retries=retries))
        yield client, board, session
