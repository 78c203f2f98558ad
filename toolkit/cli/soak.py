"""`toolkit soak --board NAME [--samples 100000]`: long RUN traffic against a
board; 0 mismatches with toolkit/reference.py and no memory growth, or exit 1."""
from __future__ import annotations

import json
import sys

import click

from ..errors import VerifyFailed
from . import options


@click.command("soak")
@options.board(None, help="board name (`toolkit boards`); default: qemu-mps2-an386 when QEMU and "
                          "arm-none-eabi-gcc are installed, else host-sim")
@options.port()
@click.option("--samples", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="samples to stream (one sample: channels x spatial elements of a layer)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="a .bnm to soak with (default: a built-in model with every dtype and layout)")
@click.option("--host-tolerance-mb", type=float, default=None,
              help="allowed host RSS growth after warm-up [default: 16]")
@click.option("--device-tolerance-mb", type=float, default=None,
              help="allowed emulator RSS growth after warm-up [default: 4]")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@options.paths
def command(board, port, samples, seed, model_path, host_tolerance_mb, device_tolerance_mb, as_json):
    """Stream verify-style RUN traffic to a board and check every output
    against toolkit/reference.py, and host and device memory at start and end."""
    from .. import soak

    blob = None
    if model_path:
        from ..flashing import read_model_file
        blob = read_model_file(model_path)
    kwargs = {}
    if host_tolerance_mb is not None:
        kwargs["host_tolerance_mb"] = host_tolerance_mb
    if device_tolerance_mb is not None:
        kwargs["device_tolerance_mb"] = device_tolerance_mb
    bar = None
    if sys.stderr.isatty() and not as_json:
        from rich.console import Console
        from rich.progress import Progress
        bar = Progress(console=Console(stderr=True), transient=True)
    if bar is not None:
        with bar:
            task = bar.add_task("soak", total=samples)
            r = soak.run_soak(board, samples, port=port, seed=seed, blob=blob,
                              on_progress=lambda d, t: bar.update(task, completed=d), **kwargs)
    else:
        r = soak.run_soak(board, samples, port=port, seed=seed, blob=blob, **kwargs)
    if as_json:
        click.echo(json.dumps(r, indent=2))
    else:
        s, e = r["start"], r["end"]
        dev = lambda d: "n/a" if d is None else f"{d:.1f} MB"   # noqa: E731
        click.echo(f"{r['board_name']}: {r['samples']} samples, {r['runs']} runs, {r['frames']} frames, "
                   f"{r['elements']} elements, {r['mismatches']} mismatches "
                   f"({r['seconds_after_warmup']:.1f} s after warm-up)")
        click.echo(f"host RSS {s['host_rss_mb']:.1f} -> {e['host_rss_mb']:.1f} MB (peak {e['host_peak_mb']:.1f} MB); "
                   f"board process RSS {dev(s['device_rss_mb'])} -> {dev(e['device_rss_mb'])}; "
                   f"board max_model {e['device']['max_model']}, max_payload {e['device']['max_payload']}")
    if not r["pass"]:
        raise VerifyFailed("soak failed: " + "; ".join(r["problems"]),
                           "rerun with --json for the full report")
    if not as_json:
        click.echo("pass")
