"""`toolkit boards [--json]`: every board folder under boards/, as a table."""
from __future__ import annotations

import json

import click


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
        "toml": board.data,
    }


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def command(as_json):
    """List the boards (`--board NAME` everywhere): host simulator, QEMU, real, MicroPython."""
    from ..boards import load_boards

    rows = [describe(b) for b in load_boards().values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    wide = console.width >= 140    # descriptions only where they fit
    table = Table(title="Boards (boards/<name>/board.toml)")
    for col in ("Name", "Kind", "CPU", "FPU", "UART", "Counter", "Emulated"):
        table.add_column(col, no_wrap=col in ("Name", "Kind"), overflow="fold")
    if wide:
        table.add_column("Description", overflow="fold")
    for r in rows:
        cells = [r["name"], r["kind"], r["cpu"], r["fpu"], r["uart"], r["counter"],
                 "yes" if r["emulated"] else "no"]
        table.add_row(*cells, *([r["description"]] if wide else []))
    console.print(table)
    if not wide:
        console.print("`toolkit boards --json` (or a wider terminal) shows the descriptions.")
