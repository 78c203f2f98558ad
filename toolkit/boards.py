"""Boards are data: every folder <name>/ with a board.toml in a boards folder is a board.

board.toml keys (docs/boards.md): name, kind (sim | qemu | serial | micropython),
description, cpu, fpu, and per kind more tables ([qemu], [uart], [memory],
[flash], ...); toolkit/boardschema.py holds the schema and checks every file.
`start_board()` hands a board to the launcher module `toolkit.launchers.<kind>`,
which returns a running session with a pyserial URL.

Boards folders are searched in order (the first board of a name wins):
the `--boards-path` option (`use_boards_path`), `$BNRT_BOARDS_PATH`
(os.pathsep-separated), `./boards` of the current folder, then the boards
that come with the toolkit.
"""
from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import resources
from .boardschema import validate
from .errors import InputError

DEFAULT_BOARD = "host-sim"
BOARDS_PATH_ENV = "BNRT_BOARDS_PATH"
_option_path: tuple[Path, ...] = ()


def use_boards_path(paths) -> None:
    """Folders from `--boards-path` (searched before everything else)."""
    global _option_path
    out = []
    for p in paths or ():
        out += [Path(x).expanduser() for x in str(p).split(os.pathsep) if x]
    _option_path = tuple(out)


def search_path() -> list[tuple[Path, str]]:
    """(folder, origin) in search order; origin names where the folder came from."""
    env = os.environ.get(BOARDS_PATH_ENV, "")
    folders = [(p, "--boards-path") for p in _option_path]
    folders += [(Path(x).expanduser(), BOARDS_PATH_ENV) for x in env.split(os.pathsep) if x]
    folders += [(Path.cwd() / "boards", "project"), (resources.boards_dir(), "toolkit")]
    out, seen = [], set()
    for folder, origin in folders:
        key = folder.resolve()
        if key in seen:
            continue
        seen.add(key)
        if origin in ("--boards-path", BOARDS_PATH_ENV) and not folder.is_dir():
            raise InputError(f"boards folder {folder} ({origin}) does not exist",
                             "give a folder that holds <name>/board.toml")
        out.append((folder, origin))
    # The toolkit's own folder, also when it is the current project's ./boards.
    return [(f, "toolkit" if f.resolve() == resources.boards_dir().resolve() else o) for f, o in out]


@dataclass(frozen=True)
class Board:
    name: str
    kind: str
    description: str
    path: Path
    data: dict = field(repr=False, default_factory=dict)
    origin: str = "toolkit"    # where it was found: toolkit, project, BNRT_BOARDS_PATH, --boards-path

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


def _read(toml: Path, origin: str) -> Board:
    try:
        with open(toml, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{toml}: not valid TOML ({e})", "fix the TOML syntax") from None
    validate(data, toml)          # names the file, the key and the expected type
    return Board(data["name"], data["kind"], data["description"], toml.parent, data, origin)


def load_boards() -> dict[str, Board]:
    """Every board on the search path, by name; a name found earlier wins."""
    boards: dict[str, Board] = {}
    for folder, origin in search_path():
        for toml in sorted(folder.glob("*/board.toml")):
            if toml.parent.name not in boards:
                boards[toml.parent.name] = _read(toml, origin)
    return dict(sorted(boards.items()))


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
