"""`toolkit export MODEL -o model.bnm`: write a model's BN layers to a .bnm file."""
from __future__ import annotations

import warnings
from pathlib import Path

import click

from ..errors import InputError
from ..format.csource import SUFFIXES, render
from ..fsutil import atomic_write
from . import options
from ._io import check_output, load_npy

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


def _write(blob: bytes, out: Path, source: str) -> list[Path]:
    """Write `blob` as .bnm or as C source (.c writes the .h beside it)."""
    files = {out: blob} if out.suffix not in SUFFIXES else \
        {p: text.encode() for p, text in render(blob, out, source).items()}
    written = []
    try:
        for path, data in files.items():
            atomic_write(path, data)
            written.append(path)
    except OSError as e:
        for path in written:
            path.unlink(missing_ok=True)
        raise InputError(f"cannot write {out}: {e.strerror or e}", "check the output path and permissions") from None
    return list(files)


def _source_name(model: str) -> str:
    """The model as named in a generated file: no folders (no machine paths)."""
    return Path(model).name if "/" in model or "\\" in model else model


def _convert_bnm(src: Path, out: Path) -> None:
    from ..format.reader import read_model
    try:
        blob = src.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {src}: {e.strerror or e}", "check the path") from None
    m = read_model(blob)
    files = _write(blob, out, _source_name(str(src)))
    click.echo(f"wrote {', '.join(map(str, files))}: {len(m.layers)} layers, {len(blob)} bytes, "
               f"CRC-32 0x{m.crc32:08X}")


@click.command("export")
@click.argument("model")
@click.option("-o", "--output", required=True,
              help="Output file, format from the suffix: .c (plus a .h beside it) or .h C source "
                   "with the model as a const array; any other (.bnm) the binary (written atomically).")
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
    """Export MODEL's BatchNorm layers to a .bnm file or to C source.

    MODEL is path/to/file.py:factory, package.module:factory, a TorchScript
    archive or a torch.export .pt2 archive (or an exported .bnm file, to turn
    it into C source).  s8/s16 need --calib or --ranges, or a factory module
    that defines example_inputs().
    """
    out = check_output(output, "-o")
    if model.endswith(".bnm"):
        _convert_bnm(Path(model), out)
        return
    from ..model.load import load_model
    if calib is not None:
        calib = load_npy(calib, "--calib")
    loaded = load_model(model, weights=weights, allow_pickle=allow_pickle)
    if dtype != "f32" and calib is None and ranges is None:
        if loaded.example_inputs is None:
            raise InputError(f"{dtype} export needs activation ranges",
                             "give --calib inputs.npy (model inputs) or --ranges ranges.json")
        click.echo("calibrating with the factory module's example_inputs()", err=True)
        calib = loaded.example_inputs()
    result = _run_export(loaded, dtype, layout, calib, ranges, fma, not no_names)
    files = _write(result.blob, out, _source_name(model))
    fma_text = f"fma {'on' if result.fused else 'off'} (torch CPU dispatch {result.cpu_capability})" \
        if dtype == "f32" else f"torch CPU dispatch {result.cpu_capability}"
    click.echo(f"wrote {', '.join(map(str, files))}: {len(result.layers)} layers, {result.channels} channels, "
               f"{len(result.blob)} bytes ({result.bytes_per_channel:.1f} bytes/channel), "
               f"{dtype} {layout}, {fma_text}")
    for layer in result.layers:
        for w in layer.warnings:
            if not w.startswith("train mode"):      # the one train-mode warning above names every layer
                click.echo(f"warning: layer {layer.name!r}: {w}", err=True)
