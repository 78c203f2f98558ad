"""Where the toolkit's own files are, and where it builds.

The firmware sources (`firmware/`), the board definitions (`boards/`) and the
MicroPython module (`micropython/`) live at the top of the git checkout; a
wheel carries copies of them under `toolkit/_data/` (setup.py puts them there).
Every lookup goes through this module, so the code never guesses a path.

Build outputs never go next to an installed package: `build_dir()` is, in
order, the `--build-dir` option (`use_build_dir`), `$BNRT_BUILD_DIR`, `$BUILD`
(the make variable, for scripts that already set it), `firmware/build` of a
git checkout, else the per-user cache folder (platformdirs).
"""
from __future__ import annotations

import os
from pathlib import Path

from . import __version__

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "_data"
BUILD_ENV = "BNRT_BUILD_DIR"
LEGACY_BUILD_ENV = "BUILD"
_build_override: Path | None = None


def checkout_root() -> Path | None:
    """The git checkout this package runs from (editable install), else None."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "firmware" / "Makefile").is_file():
        return root
    return None


def data_root() -> Path:
    """The folder that holds firmware/, boards/ and micropython/."""
    return checkout_root() or DATA_DIR


def firmware_dir() -> Path:
    return data_root() / "firmware"


def boards_dir() -> Path:
    """The boards that come with the toolkit (user boards: toolkit.boards)."""
    return data_root() / "boards"


def micropython_dir() -> Path:
    return data_root() / "micropython"


def use_build_dir(path: str | os.PathLike | None) -> None:
    """Set (or, with None, clear) the build folder for this process: `--build-dir`."""
    global _build_override
    _build_override = Path(path).expanduser().resolve() if path else None


def user_cache_build_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("bnrt-toolkit", appauthor=False) / __version__ / "build"


def build_dir() -> Path:
    """The one folder every build output goes to (see the module docstring)."""
    if _build_override is not None:
        return _build_override
    for name in (BUILD_ENV, LEGACY_BUILD_ENV):
        value = os.environ.get(name)
        if value:
            return Path(value).expanduser().resolve()
    root = checkout_root()
    return root / "firmware" / "build" if root else user_cache_build_dir()
