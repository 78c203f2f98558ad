"""The USER command: a user's own BN function in a harness image
(docs/protocol.md "User kernels", firmware/include/bnrt_user.h).  Functions
over a connected Client.

`setup` hands the board one layer's tensors exactly as PyTorch stores them
(absent ones stay NULL on the board); `call` streams a batch in, runs the
user's function once on it and reads the outputs back."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..format import spec

F32 = np.dtype("<f4")
_PHASE = spec.USER_PHASES


@dataclass
class Capacity:
    max_channels: int
    max_elements: int      # floats per call (input and output buffers each)


def _f32(a, n: int, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float32).reshape(-1), dtype=F32)
    if arr.size != n:
        raise InputError(f"{what} has {arr.size} values for {n} channels", "pass one value per channel")
    return arr


def _step(client) -> int:
    return max(1, (client.board.max_payload - spec.USER.size) // 4)


def setup(client, layer) -> Capacity:
    """Send one layer (weight, bias, running_mean, running_var: arrays or
    None; eps; as toolkit.verify.diagnose.Layer).  Returns the capacity."""
    tensors = {k: getattr(layer, k) for k in spec.USER_TENSORS}
    present = [k for k, v in tensors.items() if v is not None]
    channels = next((np.asarray(tensors[k]).size for k in present), 0)
    flags = sum(1 << spec.USER_TENSORS[k] for k in present)
    answer = client.request("USER", spec.USER_SETUP.pack(_PHASE["SETUP"], flags, 0, channels,
                                                         float(layer.eps)))
    cap = Capacity(*spec.USER_SETUP_RESPONSE.unpack_from(answer))
    step = _step(client)
    for k in present:
        arr = _f32(tensors[k], channels, k)
        for first in range(0, channels, step):
            part = arr[first:first + step]
            client.request("USER", spec.USER.pack(_PHASE["PARAM"], spec.USER_TENSORS[k], 0, first,
                                                  part.size) + part.tobytes())
    return cap


def upload(client, x: np.ndarray, progress=None) -> None:
    """Fill the board's input buffer with x (float32, flattened)."""
    flat = np.ascontiguousarray(x, dtype=F32).reshape(-1)
    step = _step(client)
    for first in range(0, flat.size, step):
        part = flat[first:first + step]
        client.request("USER", spec.USER.pack(_PHASE["DATA"], 0, 0, first, part.size) + part.tobytes())
        if progress:
            progress(first + part.size, flat.size)


def call(client, layer: int, batch: int, spatial: int, timeout: float) -> int:
    """Run the user's function for BN layer `layer` once; returns the counter ticks it took.  Not
    retried (the function would run twice): no answer within `timeout`
    seconds raises BoardError."""
    saved = client.timeout, client.retries
    client.timeout, client.retries = timeout, 0
    try:
        answer = client.request("USER", spec.USER_CALL.pack(_PHASE["CALL"], 0, layer, batch, spatial))
    finally:
        client.timeout, client.retries = saved
    return spec.USER_CALL_RESPONSE.unpack_from(answer)[0]


def download(client, count: int) -> np.ndarray:
    """The first `count` floats of the board's output buffer."""
    step = (client.board.max_payload // 4)
    parts = []
    for first in range(0, count, step):
        n = min(step, count - first)
        raw = client.request("USER", spec.USER.pack(_PHASE["READ"], 0, 0, first, n), answer_bytes=4 * n)
        parts.append(np.frombuffer(raw, dtype=F32, count=n))
    return np.concatenate(parts) if parts else np.zeros(0, F32)
