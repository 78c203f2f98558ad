"""`toolkit adapt`: re-estimate BN running statistics on a board (docs/adapt.md)."""
from __future__ import annotations

import contextlib
import sys

import click

from ..boards import DEFAULT_BOARD
from ..errors import InputError, VerifyFailed

# Largest relative error of a running statistic vs. the host replay that --check accepts.
CHECK_TOLERANCE = 1e-6


def _progress(batches: int):
    """(callback, context manager): a rich bar on a terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return None, contextlib.nullcontext()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task("batches on the board", total=batches)

    def update(stage, step):
        if stage == "batches":
            bar.advance(task, step)
    return update, bar


def _table(result, check: bool):
    from rich.table import Table

    t = Table(title=f"adapt: {result.samples} samples in {result.batches} batches on {result.board}")
    t.add_column("layer")
    t.add_column("channels", justify="right")
    t.add_column("batches", justify="right")
    t.add_column("num_batches_tracked", justify="right")
    if check:
        t.add_column("max rel err running_mean", justify="right")
        t.add_column("max rel err running_var", justify="right")
    for r in result.layers:
        row = [r.name, str(r.channels), str(r.calls), str(r.num_batches_tracked)]
        if check:
            row += [f"{r.mean_rel_err:.3g}", f"{r.var_rel_err:.3g}"]
        t.add_row(*row)
    return t


@click.command("adapt")
@click.argument("model")
@click.option("--board", default=DEFAULT_BOARD, show_default=True, help="board name (`toolkit boards`)")
@click.option("--port", help="serial URL of a running board, or labgrid:TAG=VALUE / labgrid:place=NAME (a labgrid farm place, docs/farm.md); without it the board is started")
@click.option("--inputs", required=True, type=click.Path(dir_okay=False),
              help="unlabeled samples (.npy, first axis batch)")
@click.option("--batch-size", type=click.IntRange(min=2), default=32, show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="state_dict to write (.pth)")
@click.option("--check", is_flag=True,
              help=f"replay the batches in PyTorch on the host and require relative error <= "
                   f"{CHECK_TOLERANCE:g} in every running statistic")
@click.option("--timeout", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="seconds to wait for each answer from the board (3 retries)")
@click.option("--weights", type=click.Path(dir_okay=False), help="state_dict for a factory MODEL")
@click.option("--allow-pickle", is_flag=True, help="allow a pickled .pth module (runs its code)")
def command(model, board, port, inputs, batch_size, output, check, timeout, weights, allow_pickle):
    """Adapt MODEL's BatchNorm statistics to unlabeled INPUTS, train-mode BN on a board.

    Writes a state_dict that load_state_dict(strict=True) accepts."""
    import numpy as np
    from rich.console import Console

    from ..adapt import adapt, save_state_dict, split_batches
    from ..model.load import load_model
    from ..verify.run import board_client

    try:
        x = np.load(inputs, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {inputs}: {e}", "give a .npy file saved with numpy.save") from None
    loaded = load_model(model, weights=weights, allow_pickle=allow_pickle)
    batches = len(split_batches(np.asarray(x), batch_size)) if np.ndim(x) >= 2 else 0
    update, bar = _progress(batches)
    with board_client(board, port, timeout) as (client, _), bar:
        result = adapt(loaded.model, x, client, batch_size, check=check, progress=update)
    Console(width=None if sys.stdout.isatty() else 120).print(_table(result, check))
    if check:
        worst = max(max(r.mean_rel_err, r.var_rel_err) for r in result.layers)
        if worst > CHECK_TOLERANCE:
            raise VerifyFailed(f"running statistics differ from PyTorch by up to {worst:.3g} "
                               f"(relative; limit {CHECK_TOLERANCE:g})", "see the table; nothing was written")
    save_state_dict(result.state_dict, output)
    click.echo(f"wrote {output}: {len(result.layers)} BN layers adapted on {result.board}")
