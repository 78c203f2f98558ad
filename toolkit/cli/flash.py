"""`toolkit flash --board NAME [--port URL] [MODEL.bnm]`: put the firmware on a
board (start it, for an emulated one) and upload a model; `--stop` ends
emulators started this way."""
from __future__ import annotations

import json
from urllib.parse import urlparse

import click

from ..errors import InputError
from . import options


def _tcp_port(url: str | None) -> int | None:
    if not url:
        return None
    u = urlparse(url)
    if u.scheme != "socket" or u.hostname not in ("127.0.0.1", "localhost") or not u.port:
        raise InputError(f"--port {url} does not fit an emulated board",
                         "give socket://127.0.0.1:PORT (or leave --port out to pick a free one)")
    return u.port


@click.command("flash")
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@options.board(None, help="board name (`toolkit boards`); required except with --stop")
@options.port("serial port of a real board (default from board.toml); for "
              "an emulated board, socket://127.0.0.1:PORT to serve on")
@click.option("--model-only", is_flag=True, help="only upload MODEL to the running firmware")
@click.option("--stop", is_flag=True, help="stop emulators that `toolkit flash` started "
              "(all, or --board's)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@options.paths
def command(model, board, port, model_only, stop, as_json):
    """Flash the firmware to BOARD and upload MODEL (a .bnm) if given.

    An emulated board keeps running in the background: use the printed URL
    with `--port` (toolkit verify, pytest --port) and end it with
    `toolkit flash --stop`.  Uploading another model never needs a reflash."""
    from .. import flashing
    from ..boards import get_board

    if stop:
        states = flashing.stop(board)
        if as_json:
            click.echo(json.dumps(states))
        for s in [] if as_json else states:
            click.echo(f"stopped {s['board']} (pid {s['pid']}, {s['url']})")
        if not states and not as_json:
            click.echo("nothing to stop")
        return
    if not board:
        raise InputError("no board given", "pass --board NAME (`toolkit boards` lists them)")
    b = get_board(board)
    blob = flashing.read_model_file(model) if model else None
    if model_only and blob is None:
        raise InputError("--model-only needs a MODEL.bnm", "pass the model file")
    if b.kind == "qemu":
        if model_only:
            running = [s for s in flashing.running() if s["board"] == b.name]
            if not running:
                raise InputError(f"{b.name} is not running", f"run `toolkit flash --board {b.name}` first")
            info, commit = flashing.upload_model(running[0]["url"], blob)
            result = dict(running[0], reused=True, commit=commit, info_name=info.name)
        else:
            result = flashing.flash_qemu(b, blob, _tcp_port(port))
    elif b.kind == "serial":
        result = flashing.flash_real(b, blob, port, skip_image=model_only)
    elif b.kind == "micropython":
        from ..launchers import micropython
        files = micropython.install(b, url=port, model_path=model)
        result = {"board": b.name, "installed": files, "url": port or b.get("micropython.port")}
    else:
        raise InputError(f"board {b.name!r} is of kind {b.kind!r}: `toolkit flash` handles qemu, "
                         "real Cortex-M and MicroPython boards", "host-sim starts on demand "
                         "(`toolkit verify --board host-sim`)")
    if as_json:
        click.echo(json.dumps(result))
        return
    if b.kind == "micropython":
        if b.get("micropython.emulator"):
            click.echo(f"{b.name}: kept {', '.join(result['installed']) or 'no model'} for the "
                       "emulator (uploaded at every start)")
        else:
            click.echo(f"{b.name}: installed {', '.join(result['installed'])} with mpremote")
        return
    if b.kind == "qemu":
        how = "already running (same image)" if result.get("reused") else f"started (pid {result['pid']})"
        click.echo(f"{b.name}: QEMU {how}")
    else:
        click.echo(f"{b.name}: " + (f"programmed and verified with {result['tool']}" if result["tool"]
                                    else "image left as it is"))
    if result.get("commit"):
        crc, layers = result["commit"]
        click.echo(f"model {model}: {layers} layer(s), crc32 {crc:#010x}")
    click.echo(result["url"])
