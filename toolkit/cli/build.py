"""`toolkit build --board NAME [--dtypes ..] [--no-train] [--model m.bnm] [--json]`: build a
Cortex-M image, print its configuration and its flash and RAM use."""
from __future__ import annotations

import json

import click

from . import options


def _pct(used: int, size: int) -> str:
    return f"{100.0 * used / size:.1f}%" if size else "-"


@click.command("build")
@click.option("--board", "board_names", multiple=True, required=True,
              help="board to build (repeatable); `all` builds every Cortex-M board")
@click.option("--dtypes", default=None, metavar="LIST",
              help="dtypes the image runs, comma-separated (f32,s16,s8; default: board.toml [build], "
                   "else all)")
@click.option("--train/--no-train", default=None,
              help="include on-device train-mode BN (`toolkit adapt`; default: board.toml, else on)")
@click.option("--protocol/--no-protocol", default=None,
              help="include the serial protocol server (a board image always needs it)")
@click.option("--model", "model", default=None, metavar="M.bnm",
              help="link this model into flash: active at every boot until a LOAD replaces it")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@options.paths
def command(board_names, dtypes, train, protocol, model, as_json):
    """Build the firmware image of a QEMU or real Cortex-M board
    (<build dir>/<board>[-<config>]/firmware.elf and .bin, --build-dir) and show its memory use."""
    from ..boards import get_board, load_boards
    from ..firmware_build import ARM_KINDS, build, config_for
    from ..resources import build_dir

    if "all" in board_names:
        boards = [b for b in load_boards().values() if b.kind in ARM_KINDS]
    else:
        boards = [get_board(n) for n in board_names]
    dlist = None if dtypes is None else [d.strip() for d in dtypes.split(",") if d.strip()]
    configs = [config_for(b, dlist, train, protocol) for b in boards]
    images = [build(b, config=c, model=model) for b, c in zip(boards, configs)]
    if as_json:
        click.echo(json.dumps([im.as_json() for im in images], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Firmware images ({build_dir()}/<board>[-<config>]/firmware.elf)")
    table.add_column("Board", no_wrap=True)
    table.add_column("Contains")
    table.add_column("Flash used", justify="right")
    table.add_column("RAM used", justify="right")
    for im in images:
        table.add_row(im.board, im.config,
                      f"{im.flash_used:,} B of {im.flash_size // 1024:,} KiB ({_pct(im.flash_used, im.flash_size)})",
                      f"{im.ram_used:,} B of {im.ram_size // 1024:,} KiB ({_pct(im.ram_used, im.ram_size)})")
    Console().print(table)
    click.echo("RAM includes the stack and two model slots ([build] model_slot_size in board.toml).")
