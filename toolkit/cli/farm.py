"""`toolkit farm`: a labgrid board farm (docs/farm.md)."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import click

from ..errors import InputError
from . import options


@click.group("farm")
@options.paths
def command():
    """A labgrid board farm: rehearse a lab on this machine (docs/farm.md)."""


def _tags(pairs) -> dict:
    from ..farm import parse_spec

    tags = {}
    for pair in pairs:
        spec = parse_spec(pair)
        if spec.place:
            raise InputError(f"--tag {pair}: `place` is not a tag", "give --tag KEY=VALUE, e.g. --tag farm=ci")
        tags.update(spec.tags)
    return tags


@command.command("serve")
@click.argument("boards", nargs=-1, required=True)
@click.option("--coordinator", metavar="HOST:PORT",
              help="register with this labgrid coordinator (default: start one on a free loopback port)")
@click.option("--tag", "tag_pairs", multiple=True, metavar="KEY=VALUE",
              help="tag every place (besides board=NAME and kind=KIND); default farm=bnrt_lab")
@click.option("--name", default="bnrt-lab", show_default=True, help="exporter name, prefix of the place names")
@click.option("--ready-file", type=click.Path(dir_okay=False),
              help="write JSON (coordinator, places, pids) here once every place exists")
@options.paths
def serve(boards, coordinator, tag_pairs, name, ready_file):
    """Start emulated BOARDS (host-sim, qemu-*) on pseudo-terminals, export
    them to a labgrid coordinator and create one tagged place per board;
    stop everything on Ctrl-C or SIGTERM."""
    from ..farm.lab import Lab
    from ..fsutil import atomic_write

    lab = Lab(list(boards), coordinator=coordinator, tags=_tags(tag_pairs) or None, name=name)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        lab.start()
        state = {"coordinator": lab.coordinator, "tags": lab.tags, "pids": lab.pids(),
                 "places": [{"place": b.place, "board": b.name, "kind": b.kind, "pty": b.pty}
                            for b in lab.boards]}
        for p in state["places"]:
            click.echo(f"{p['place']:<40} {p['board']:<22} {p['kind']:<5} {p['pty']}")
        click.echo(f"export LG_COORDINATOR={lab.coordinator}")
        click.echo("serving; Ctrl-C stops", err=True)
        if ready_file:
            atomic_write(ready_file, (json.dumps(state, indent=2) + "\n").encode())
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        if ready_file:      # a stale file would announce a lab that is gone
            Path(ready_file).unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, previous)
