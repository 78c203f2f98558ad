"""`toolkit simulate`: run one layer of a .bnm file on the host simulator."""
from __future__ import annotations

import click

from ..errors import InputError
from . import options
from ._io import check_output, load_npy


def _spatial(shape, layout: str) -> int:
    inner = shape[2:] if layout == "nchw" else shape[1:-1]
    n = 1
    for d in inner:
        n *= int(d)
    return n


def simulate(blob: bytes, layer: int, x, spatial: int | None = None, board: str = "host-sim", port=None):
    """Run layer `layer` of `blob` on `x` (layer dtype and layout) over the protocol."""
    from ..format.reader import read_model
    from ..protocol.client import NUMPY_DTYPES
    from ..protocol.connect import board_client

    model = read_model(blob)
    if not 0 <= layer < len(model.layers):
        raise InputError(f"layer {layer} does not exist: the model has {len(model.layers)} layers",
                         f"give --layer 0..{len(model.layers) - 1}")
    info = model.layers[layer]
    want = NUMPY_DTYPES[info.dtype]
    if x.dtype != want.newbyteorder("="):
        raise InputError(f"layer {layer} is {info.dtype} but the input is {x.dtype}",
                         f"give a {want.name} array (quantize it with the layer's in_scale)")
    if x.ndim < 2:
        raise InputError(f"the input has shape {x.shape}", "give at least (N, C)")
    channels = x.shape[1] if info.layout == "nchw" else x.shape[-1]
    if channels != info.channels:
        raise InputError(f"the input has {channels} channels on the {info.layout} channel axis, "
                         f"layer {layer} has {info.channels}", "check the layout and the layer index")
    if spatial is None:
        spatial = _spatial(x.shape, info.layout)
    with board_client(board, port) as (client, _, _):
        client.load(blob)
        return client.run(layer, x, spatial).output


@click.command("simulate")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--layer", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help=".npy in the layer's dtype and layout")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="output .npy")
@click.option("--spatial", type=click.IntRange(min=1), help="elements per channel and sample "
              "(default: from the input shape)")
@options.paths
def command(model_file, layer, input_path, output, spatial):
    """Run one layer of MODEL_FILE (.bnm) on the host simulator's firmware."""
    import io

    import numpy as np

    from ..fsutil import atomic_write

    check_output(output, "-o")
    try:
        with open(model_file, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise InputError(f"cannot read {model_file}: {e.strerror}", "check the path") from None
    x = load_npy(input_path, "--input", numeric=False, samples=False)
    y = simulate(blob, layer, x, spatial)
    buf = io.BytesIO()
    np.save(buf, y)
    atomic_write(output, buf.getvalue())
    click.echo(f"wrote {output}: {y.shape} {y.dtype}")
