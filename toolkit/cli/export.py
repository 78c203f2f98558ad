"""`toolkit export MODEL -o model.bnm`: write a model's BN layers to a .bnm file."""
from __future__ import annotations

import warnings
from pathlib import Path

import click

from ..errors import InputError
from . import options

PICKLE_HELP = ("Accept a fully pickled module (torch.save(model)). Unpickling runs arbitrary "
               "code from the file: use only with files you trust.")


def _run_export(loaded, dtype, layout, calib, ranges, fused, names):
    from ..model.bn import TrainModeWarning
    from ..model.export import export
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TrainModeWarning)
        result = export(loaded.model, dtype=dtype, layout=layout, calib=calib, ranges=ranges,
                        fused=fused, names=names)
    for w in caught:
        if issubclass(w.category, TrainModeWarning):
            click.echo(f"warning: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


@click.command("export")
@click.argument("model")
@click.option("-o", "--output", required=True, help="Output .bnm file (written atomically).")
@options.dtype
@click.option("--layout", type=click.Choice(["nchw", "nhwc"]), default="nchw", show_default=True,
              help="Tensor layout on the board: channels first or channels last.")
@click.option("--calib", default=None, metavar="X.npy",
              help="Model inputs for calibrating s8/s16 activation ranges.")
@click.option("--ranges", default=None, metavar="R.json",
              help='Activation ranges {"layer": {"in": [lo, hi], "out": [lo, hi]}}.')
@options.weights
@click.option("--allow-pickle", is_flag=True, help=PICKLE_HELP)
@click.option("--fma/--no-fma", "fma", default=None,
              help="Force the f32 fused-multiply-add flag (default: as torch's CPU dispatch here).")
@click.option("--no-names", is_flag=True, help="Leave layer names out of the file.")
@options.paths
def command(model, output, dtype, layout, calib, ranges, weights, allow_pickle, fma, no_names):
    """Export MODEL's BatchNorm layers to a .bnm file.

    MODEL is path/to/file.py:factory, package.module:factory, a TorchScript
    archive or a torch.export .pt2 archive.  s8/s16 need --calib or --ranges,
    or a factory module that defines example_inputs().
    """
    from ..model.load import load_model
    out = Path(output)
    if out.is_dir():
        raise InputError(f"output {out} is a directory", "give a file name, e.g. -o model.bnm")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"output folder {out.parent} does not exist", "create it first")
    loaded = load_model(model, weights=weights, allow_pickle=allow_pickle)
    if dtype != "f32" and calib is None and ranges is None:
        if loaded.example_inputs is None:
            raise InputError(f"{dtype} export needs activation ranges",
                             "give --calib inputs.npy (model inputs) or --ranges ranges.json")
        click.echo("calibrating with the factory module's example_inputs()", err=True)
        calib = loaded.example_inputs()
    result = _run_export(loaded, dtype, layout, calib, ranges, fma, not no_names)
    try:
        result.save(out)
    except OSError as e:
        raise InputError(f"cannot write {out}: {e.strerror or e}", "check the output path and permissions") from None
    fma_text = f"fma {'on' if result.fused else 'off'} (torch CPU dispatch {result.cpu_capability})" \
        if dtype == "f32" else f"torch CPU dispatch {result.cpu_capability}"
    click.echo(f"wrote {out}: {len(result.layers)} layers, {result.channels} channels, "
               f"{len(result.blob)} bytes ({result.bytes_per_channel:.1f} bytes/channel), "
               f"{dtype} {layout}, {fma_text}")
    for layer in result.layers:
        for w in layer.warnings:
            click.echo(f"warning: layer {layer.name!r}: {w}", err=True)
