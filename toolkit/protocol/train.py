"""Train-mode BN on a board: the TRAIN, STATS and FREEZE commands
(docs/protocol.md "Train-mode BN").  Functions over a connected Client.

The device holds one layer's state at a time: `setup` sends it, `forward`
runs one train-mode batch (batch statistics, running-statistic update,
normalized output), `stats` reads the running statistics back, `freeze`
folds them into an f32 layer of the loaded model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, ProtocolError
from ..format import spec

F32 = np.dtype("<f4")
_PHASE = spec.TRAIN_PHASES
_PASS = spec.TRAIN_PASSES


@dataclass
class TrainState:
    """One BN layer's train-mode state, as the device keeps it."""
    weight: np.ndarray
    bias: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    num_batches_tracked: int
    eps: float
    momentum: float | None      # None: cumulative average

    @property
    def channels(self) -> int:
        return int(self.running_mean.size)


def torch_chunk(rows: int, channels_last: bool, image_size: int, threads: int) -> int:
    """Values per channel per float partial sum in torch's CPU kernel: 0 (one
    double sum) for contiguous inputs with image_size > 1; otherwise torch's
    channels-last kernel gives each of `threads` threads a float partial over
    ceil(rows/threads) rows.  Measured on torch 2.13 (docs/adapt.md): with
    rows <= threads it sums all rows in one float partial."""
    if not channels_last and image_size != 1:
        return 0
    return rows if rows <= threads else math.ceil(rows / threads)


def _f32(a, n: int, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float32).reshape(-1), dtype=F32)
    if arr.size != n:
        raise InputError(f"{what} has {arr.size} values for {n} channels", "pass one value per channel")
    return arr


def setup(client, state: TrainState, fma: bool = True) -> None:
    """Load one layer's parameters and running statistics into the device."""
    c = state.channels
    flags = (spec.TRAIN_FLAG_FMA if fma else 0) | \
        (spec.TRAIN_FLAG_CUMULATIVE if state.momentum is None else 0)
    momentum = 0.0 if state.momentum is None else float(state.momentum)
    client.request("TRAIN", spec.TRAIN_SETUP.pack(_PHASE["SETUP"], flags, 0, c, float(state.eps),
                                                   momentum, int(state.num_batches_tracked)))
    arrays = [_f32(getattr(state, k), c, k) for k in ("weight", "bias", "running_mean", "running_var")]
    step = max(1, (client.board.max_payload - spec.TRAIN.size) // 16)
    for first in range(0, c, step):
        n = min(step, c - first)
        body = b"".join(a[first:first + n].tobytes() for a in arrays)
        client.request("TRAIN", spec.TRAIN.pack(_PHASE["PARAMS"], 0, 0, first, n) + body)


def _layout(x: np.ndarray, channels_last: bool) -> tuple[np.ndarray, str, int]:
    """The batch as the flat element stream the device reads, its layout name,
    and the spatial size."""
    n, c = x.shape[:2]
    spatial = int(np.prod(x.shape[2:], dtype=np.int64)) if x.ndim > 2 else 1
    x3 = x.reshape(n, c, spatial)
    if channels_last:
        return np.ascontiguousarray(x3.transpose(0, 2, 1)).reshape(-1), "nhwc", spatial
    return np.ascontiguousarray(x3).reshape(-1), "nchw", spatial


def forward(client, x: np.ndarray, chunk: int = 0, channels_last: bool = False,
            progress=None) -> np.ndarray:
    """One train-mode BN batch on the device: x is float32 (N, C, *spatial)
    for the layer set up last.  Streams x three times (sum pass, variance
    pass, normalize); the device updates its running statistics at the end of
    the variance pass.  Returns y with x's shape."""
    x = np.asarray(x)
    if x.dtype != np.float32 or x.ndim < 2:
        raise InputError(f"train-mode BN needs a float32 (N, C, ...) batch, got {x.dtype} {x.shape}",
                         "convert the batch to float32 with the channel axis second")
    flat, layout, spatial = _layout(x, channels_last)
    n = x.shape[0]
    if n * spatial == 1:
        raise InputError(f"expected more than 1 value per channel when training, got input size "
                         f"{tuple(x.shape)}", "use a batch size of 2 or more")
    client.request("TRAIN", spec.TRAIN_BEGIN.pack(_PHASE["BEGIN"], spec.LAYOUTS[layout], 0, n,
                                                  spatial, chunk))
    per_frame = (client.board.max_payload - spec.TRAIN.size) // 4
    total = 3 * flat.size
    done = 0
    for pass_ in (_PASS["SUM"], _PASS["VAR"]):
        for first in range(0, flat.size, per_frame):
            part = flat[first:first + per_frame]
            client.request("TRAIN", spec.TRAIN.pack(_PHASE["DATA"], pass_, 0, first, part.size)
                           + part.astype(F32).tobytes())
            done += part.size
            if progress is not None:
                progress(done, total)
    out = np.empty_like(flat)
    for first in range(0, flat.size, per_frame):
        part = flat[first:first + per_frame]
        body = client.request("TRAIN", spec.TRAIN.pack(_PHASE["APPLY"], 0, 0, first, part.size)
                              + part.astype(F32).tobytes(), answer_bytes=part.nbytes + 16)
        if len(body) != part.nbytes:
            raise ProtocolError(f"TRAIN APPLY answered {len(body)} bytes for {part.nbytes}",
                                "update the firmware (`toolkit flash`)")
        out[first:first + part.size] = np.frombuffer(body, F32)
        done += part.size
        if progress is not None:
            progress(done, total)
    c = x.shape[1]
    if channels_last:
        y = out.reshape(n, spatial, c).transpose(0, 2, 1)
    else:
        y = out.reshape(n, c, spatial)
    return np.ascontiguousarray(y).reshape(x.shape)


def stats(client, channels: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(running_mean, running_var, num_batches_tracked) of the layer on the device."""
    step = max(1, (client.board.max_payload - spec.STATS_RESPONSE.size) // 8)
    means, vars_, nbt = [], [], 0
    for first in range(0, channels, step):
        n = min(step, channels - first)
        body = client.request("STATS", spec.STATS.pack(first, n), answer_bytes=16 + 8 * n)
        nbt, got_first, got = spec.STATS_RESPONSE.unpack_from(body)
        data = body[spec.STATS_RESPONSE.size:]
        if got_first != first or got != n or len(data) != 8 * n:
            raise ProtocolError(f"STATS answered channels {got_first}+{got} for {first}+{n}",
                                "update the firmware (`toolkit flash`)")
        size = n * spec.DTYPE_SIZE["f32"]
        means.append(np.frombuffer(data[:size], F32))
        vars_.append(np.frombuffer(data[size:], F32))
    return (np.concatenate(means).astype(np.float32), np.concatenate(vars_).astype(np.float32),
            int(nbt))


def freeze(client, layer: int) -> int:
    """Fold the device's running statistics into f32 layer `layer` of the
    loaded model (eval affine, as toolkit/model/fold.py).  Returns the model's
    new CRC-32."""
    (crc,) = spec.FREEZE_RESPONSE.unpack(client.request("FREEZE", spec.FREEZE.pack(layer)))
    return crc
