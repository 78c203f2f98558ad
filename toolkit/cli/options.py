"""Options several subcommands share: one spelling, one default, one help text.

`paths` (--build-dir, --boards-path) goes on every subcommand; the others
on the subcommands that take them."""
from __future__ import annotations

import click

from ..boards import BOARDS_PATH_ENV, DEFAULT_BOARD

DTYPES = ("f32", "s16", "s8")
DEFAULT_DTYPE = "f32"
DEFAULT_TIMEOUT = 2.0
DEFAULT_RETRIES = 3


def _set_build_dir(ctx, param, value):
    from ..resources import use_build_dir

    if value:
        use_build_dir(value)
    return value


def _set_boards_path(ctx, param, value):
    from ..boards import use_boards_path

    if value:
        use_boards_path(value)
    return value


def paths(f):
    """--build-dir and --boards-path: where builds go, where boards are searched."""
    f = click.option("--build-dir", type=click.Path(file_okay=False), expose_value=False,
                     is_eager=True, callback=_set_build_dir,
                     help="folder for build outputs [env BNRT_BUILD_DIR; default: firmware/build "
                          "of a git checkout, else the per-user cache folder]")(f)
    return click.option("--boards-path", multiple=True, type=click.Path(file_okay=False),
                        expose_value=False, is_eager=True, callback=_set_boards_path,
                        help=f"folder of <name>/board.toml boards, searched first (repeatable; "
                             f"also ${BOARDS_PATH_ENV}, then ./boards, then the toolkit's)")(f)


def board(default=DEFAULT_BOARD, **kw):
    help_ = "board name (`toolkit boards`)"
    return click.option("--board", default=default, show_default=default is not None,
                        help=kw.pop("help", help_), **kw)


def port(help="serial URL of a running board, or labgrid:TAG=VALUE / labgrid:place=NAME (a labgrid "
         "farm place, docs/farm.md); without it the board is started"):
    return click.option("--port", help=help)


def dtype(f):
    return click.option("--dtype", type=click.Choice(DTYPES), default=DEFAULT_DTYPE, show_default=True,
                        help="element type the board computes in")(f)


def timeout(f):
    return click.option("--timeout", type=click.FloatRange(min=0.05), default=DEFAULT_TIMEOUT,
                        show_default=True, help="seconds to wait for each answer from the board")(f)


def retries(f):
    return click.option("--retries", type=click.IntRange(min=0), default=DEFAULT_RETRIES,
                        show_default=True, help="extra attempts for a frame lost or damaged on the link")(f)


def weights(f):
    return click.option("--weights", type=click.Path(dir_okay=False), metavar="W.pth",
                        help="state_dict for a factory MODEL (loaded with weights_only=True)")(f)
