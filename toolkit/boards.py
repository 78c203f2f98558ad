"""Boards are data: every folder boards/<name>/ with a board.toml is a board.

board.toml keys (docs/boards.md): name, kind (sim | qemu | serial | micropython),
description, cpu, fpu, and per kind more tables ([qemu], [uart], [memory],
[flash], ...); toolkit/boardschema.py holds the schema and checks every file.
`start_board()` hands a board to the launcher module `toolkit.launchers.<kind>`,
which returns a running session with a pyserial URL.
"""
from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .boardschema import validate
from .errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BOARDS_DIR = ROOT / "boards"
DEFAULT_BOARD = "host-sim"


@dataclass(frozen=True)
class Board:
    name: str
    kind: str
    description: str
    path: Path
    data: dict = field(repr=False, default_factory=dict)

    @property
    def emulated(self) -> bool:
        return self.kind in ("sim", "qemu", "micropython") and not self.data.get("real", False)

    def get(self, dotted: str, default=None):
        node = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def load_boards() -> dict[str, Board]:
    boards = {}
    for toml in sorted(BOARDS_DIR.glob("*/board.toml")):
        try:
            with open(toml, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{toml}: not valid TOML ({e})", "fix the syntax of board.toml") from None
        validate(data, toml)
        name = data["name"]
        boards[name] = Board(name, data["kind"], data["description"], toml.parent, data)
    return boards


def get_board(name: str) -> Board:
    boards = load_boards()
    if name not in boards:
        raise InputError(f"unknown board {name!r}",
                         f"choose one of: {', '.join(boards)} (`toolkit boards` lists them)")
    return boards[name]


def start_board(board: Board, **options):
    """Start (or connect to) a board; returns a session object with `.url`,
    `.stop()` and context-manager support.  See toolkit/launchers/."""
    launcher = importlib.import_module(f"toolkit.launchers.{board.kind}")
    return launcher.start(board, **options)
