"""`toolkit verify`: run the model's BN layers on a board, compare with torch eval."""
from __future__ import annotations

import sys

import click

from ..boards import DEFAULT_BOARD
from ..errors import InputError, VerifyFailed


def _int_list(text: str | None, what: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise InputError(f"{what} {text!r} is not a comma-separated list of integers",
                         f"write it like {what} 1,4,16") from None
    if not values or any(v <= 0 for v in values):
        raise InputError(f"{what} {text!r} needs positive integers", f"write it like {what} 1,4,16")
    return values


DEFAULT_SAMPLES = 8


def load_inputs(inputs, samples: int, seed: int, input_shape, loaded):
    """The float32 samples to verify on (first axis: batch)."""
    import numpy as np

    if inputs:
        try:
            x = np.load(inputs, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read {inputs}: {e}", "give a .npy file saved with numpy.save") from None
        return x.astype(np.float32) if x.dtype.kind == "f" else x
    shape = _int_list(input_shape, "--input-shape")
    example = loaded.example_inputs
    if not shape and example is not None:
        if samples is None:
            return example()
        shape = tuple(example().shape[1:])       # the model's own sample shape
    if shape:
        rng = np.random.default_rng(seed)
        return rng.standard_normal((samples or DEFAULT_SAMPLES,) + shape).astype(np.float32)
    raise InputError("no inputs to verify with",
                     "give --inputs X.npy, or --input-shape C,H,W with --samples N")


def _progress():
    """(callback, context manager): a rich bar on a terminal, nothing otherwise."""
    import contextlib

    if not sys.stderr.isatty():
        return None, contextlib.nullcontext()
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    tasks = {}

    def update(stage, done, total):
        if stage not in tasks:
            tasks[stage] = bar.add_task({"upload": "uploading model", "run": "streaming layers"}.get(stage, stage),
                                        total=total)
        bar.update(tasks[stage], completed=done, total=total)
    return update, bar


@click.command("verify")
@click.argument("model")
@click.option("--board", default=DEFAULT_BOARD, show_default=True, help="board name (`toolkit boards`)")
@click.option("--port", help="serial URL of a running board, or labgrid:TAG=VALUE / labgrid:place=NAME (a labgrid farm place, docs/farm.md); without it the board is started")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="extra attempts for a frame lost or damaged on the link")
@click.option("--timeout", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="seconds to wait for each answer from the board")
@click.option("--dtype", type=click.Choice(["f32", "s16", "s8"]), default="f32", show_default=True)
@click.option("--layout", type=click.Choice(["nchw", "nhwc"]), default="nchw", show_default=True)
@click.option("--inputs", type=click.Path(dir_okay=False), help="input samples (.npy, first axis batch)")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help=f"seeded random samples of the model's input shape (default {DEFAULT_SAMPLES}; "
                   "without it a factory's example_inputs() are used when it has them)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--input-shape", help="shape of one sample for random inputs, e.g. 3,32,32")
@click.option("--weights", type=click.Path(dir_okay=False), help="state_dict for a factory MODEL")
@click.option("--allow-pickle", is_flag=True, help="allow a pickled .pth module (runs its code)")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="write a JSON report")
@click.option("--junit", type=click.Path(dir_okay=False), help="write JUnit XML (one case per layer)")
@click.option("--plot", type=click.Path(dir_okay=False), help="write a PNG of the errors")
@click.option("--batch-sizes", help="also run in batches of these sizes; outputs must not change")
@click.option("--max-lsb-err", type=click.IntRange(min=0), default=1, show_default=True,
              help="s8/s16: allowed LSB distance from the float reference")
@click.option("--max-ulp", type=click.IntRange(min=0), default=None,
              help="f32: allowed ULP distance from torch eval (default 0, 1 when torch's dispatch "
                   "and the blob's FMA flag differ)")
@click.option("--no-bit-exact", is_flag=True, help="do not require equality with the exact reference")
def command(model, board, port, retries, timeout, dtype, layout, inputs, samples, seed, input_shape, weights, allow_pickle,
            report_path, junit, plot, batch_sizes, max_lsb_err, max_ulp, no_bit_exact):
    """Verify MODEL's BatchNorm layers on a board against PyTorch eval mode.

    Exit status 0 only when every layer passes."""
    from rich.console import Console

    from ..model.load import load_model
    from ..verify import report as rep
    from ..verify.run import Thresholds, failure_summary, verify

    sizes = _int_list(batch_sizes, "--batch-sizes")
    loaded = load_model(model, weights=weights, allow_pickle=allow_pickle)
    x = load_inputs(inputs, samples, seed, input_shape, loaded)
    update, bar = _progress()
    with bar:
        result = verify(loaded.model, x, dtype=dtype, layout=layout, board=board, port=port,
                        batch_sizes=sizes, on_progress=update, timeout=timeout, retries=retries,
                        thresholds=Thresholds(max_lsb_err, max_ulp, not no_bit_exact))
    result["model"] = model
    for w in result["warnings"]:
        click.echo(f"warning: {w}", err=True)
    result["seed"] = None if inputs else seed
    if report_path:
        rep.write_json(result, report_path)
    if junit:
        rep.write_junit(result, junit)
    if plot:
        from ..verify.plot import write_plot
        write_plot(result, plot)
    Console(width=None if sys.stdout.isatty() else 120).print(rep.table(result))
    if not result["pass"]:
        raise VerifyFailed(failure_summary(result),
                           "see the table" + (f" and {report_path}" if report_path else "")
                           + "; thresholds: --max-lsb-err, --max-ulp, --no-bit-exact")
    click.echo(f"pass: {len(result['layers'])} layers on {result['board']} ({dtype}, {layout})")
