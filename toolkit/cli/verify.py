"""`toolkit verify`: run the model's BN layers on a board, compare with torch eval."""
from __future__ import annotations

import sys

import click

from ..display import plain
from ..errors import InputError, UserCodeError, VerifyFailed
from . import options
from ._io import check_output, load_npy


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
        x = load_npy(inputs, "--inputs")
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
@options.board()
@options.port()
@options.retries
@options.timeout
@options.dtype
@click.option("--layout", type=click.Choice(["nchw", "nhwc"]), default="nchw", show_default=True)
@click.option("--inputs", type=click.Path(dir_okay=False), help="input samples (.npy, first axis batch)")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help=f"seeded random samples of the model's input shape (default {DEFAULT_SAMPLES}; "
                   "without it a factory's example_inputs() are used when it has them)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--input-shape", help="shape of one sample for random inputs, e.g. 3,32,32")
@options.weights
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
@click.option("--no-upload", is_flag=True,
              help="verify the model the board already runs (a boot model from `toolkit build --model`); "
                   "its CRC must match the export")
@click.option("--kernel", help="check your own C BN function instead of the runtime: FILE.c:NAME "
                               "(signature in bnrt_user.h, docs/verify-your-code.md); with --port, "
                               "any label for a board that runs your code with the probe library")
@click.option("--kernel-cflags", default="", help="extra compiler flags for --kernel (after ours: "
                                                  "-O2 -ffp-contract=off)")
@click.option("--call-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="--kernel: seconds one call of your function may take before it counts as a hang")
@options.paths
def command(model, board, port, retries, timeout, dtype, layout, inputs, samples, seed, input_shape, weights,
            allow_pickle, report_path, junit, plot, batch_sizes, max_lsb_err, max_ulp, no_bit_exact, no_upload,
            kernel, kernel_cflags, call_timeout):
    """Verify MODEL's BatchNorm layers on a board against PyTorch eval mode.

    With --kernel FILE.c:NAME your own BN function runs on the board instead
    of the runtime, and a layer that differs gets the mistake that explains it.

    Exit status 0 only when every layer passes."""
    from rich.console import Console

    from ..model.load import load_model
    from ..verify import report as rep
    from ..verify.run import Thresholds, failure_summary, verify

    sizes = _int_list(batch_sizes, "--batch-sizes")
    for path, option in ((report_path, "--report"), (junit, "--junit"), (plot, "--plot")):
        if path:
            check_output(path, option)
    if kernel:
        from ..verify import kernel as user_kernel
        from ..verify import kernel_compare
        if dtype == "s16":
            raise InputError("--kernel has an f32 and an s8 signature (bnrt_user.h), not s16", "use --dtype f32 or s8")
        extra = [o for o, given in (("--layout nhwc", layout != "nchw"), ("--batch-sizes", bool(sizes)),
                                    ("--no-upload", no_upload)) if given]
        if extra:
            raise InputError(f"--kernel checks an NCHW function once per layer: {', '.join(extra)} does not apply",
                             f"drop {', '.join(extra)}")
        spec = user_kernel.probe_label(kernel) if port and ":" not in kernel else user_kernel.parse_kernel(kernel)
    loaded = load_model(model, weights=weights, allow_pickle=allow_pickle)
    x = load_inputs(inputs, samples, seed, input_shape, loaded)
    update, bar = _progress()
    if kernel:
        try:
            with bar:
                result = user_kernel.verify_kernel(loaded.model, x, spec, dtype=dtype, board=board, port=port,
                                                   cflags=kernel_cflags, max_ulp=max_ulp or 0,
                                                   max_lsb_err=max_lsb_err, timeout=timeout, retries=retries,
                                                   call_timeout=call_timeout, on_progress=update)
        except UserCodeError as e:
            if e.details:
                click.echo(e.details, err=True)
            raise
        failure_summary = kernel_compare.failure_summary
    else:
        with bar:
            result = verify(loaded.model, x, dtype=dtype, layout=layout, board=board, port=port,
                            batch_sizes=sizes, on_progress=update, timeout=timeout, retries=retries,
                            thresholds=Thresholds(max_lsb_err, max_ulp, not no_bit_exact),
                            upload=not no_upload)
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
    for e in result["layers"]:
        for reason in e.get("fail_reasons", []):
            click.echo(f"FAIL {plain(e['name'])}: {plain(reason)}", err=True)
    if kernel:
        for line in kernel_compare.diagnosis_lines(result):
            click.echo(line)
    if not result["pass"] and kernel:
        raise VerifyFailed(failure_summary(result), kernel_compare.failure_fix(result, report_path))
    if not result["pass"]:
        raise VerifyFailed(failure_summary(result),
                           "see the table" + (f" and {report_path}" if report_path else "")
                           + "; thresholds: --max-lsb-err, --max-ulp, --no-bit-exact")
    what = f"{kernel}, " if kernel else ""
    click.echo(f"pass: {len(result['layers'])} layers on {result['board']} ({what}{dtype}, {layout})")
