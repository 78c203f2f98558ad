"""`toolkit boards [--json]`: every board on the search path (toolkit/boards.py), as a table
with where each came from."""
from __future__ import annotations

import json
import sys

import click

from . import options


def _fpu(board) -> str:
    return board.data["fpu"]


def _uart(board) -> str:
    uart = board.data.get("uart") or {}
    if "driver" in uart:
        return uart["driver"]
    port = board.get("uart.port") or board.get("micropython.port")
    return {"sim": "pty / TCP"}.get(board.kind, port or "-")


def _counter(board) -> str:
    return board.get("counter.kind") or "-"


def describe(board) -> dict:
    """One board as JSON-ready data: the summary columns plus its board.toml."""
    return {
        "name": board.name, "kind": board.kind, "description": board.description,
        "cpu": board.data.get("cpu", "-"), "fpu": _fpu(board), "uart": _uart(board),
        "counter": _counter(board), "emulated": board.emulated, "path": str(board.path),
        "origin": board.origin,
        "toml": board.data,
    }


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@options.paths
def command(as_json):
    """List the boards (`--board NAME` everywhere): host simulator, QEMU, real, MicroPython."""
    from ..boards import load_boards, search_path

    rows = [describe(b) for b in load_boards().values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)   # logs and pipes: no 80-column folding
    wide = console.width >= 140    # descriptions only where they fit
    table = Table(title="Boards (<name>/board.toml)")
    for col in ("Name", "Kind", "CPU", "FPU", "UART", "Counter", "Emulated", "From"):
        table.add_column(col, no_wrap=col in ("Name", "Kind"), overflow="fold")
    if wide:
        table.add_column("Description", overflow="fold")
    for r in rows:
        cells = [r["name"], r["kind"], r["cpu"], r["fpu"], r["uart"], r["counter"],
                 "yes" if r["emulated"] else "no", r["origin"]]
        table.add_row(*cells, *([r["description"]] if wide else []))
    console.print(table)
    for folder, origin in search_path():
        console.print(f"{origin}: {folder}" + ("" if folder.is_dir() else " (none)"), highlight=False)
    if not wide:
        console.print("`toolkit boards --json` (or a wider terminal) shows the descriptions.")
