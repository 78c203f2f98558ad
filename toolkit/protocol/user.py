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


ELEMENT = {"f32": F32, "s8": np.dtype("i1")}


def setup(client, layer, dtype: str = "f32", quant=None) -> Capacity:
    """Send one layer (weight, bias, running_mean, running_var: arrays or
    None; eps; as toolkit.verify.diagnose.Layer) for a function of `dtype`'s
    signature; s8 needs quant = (in_scale, in_zero_point, out_scale,
    out_zero_point).  Returns the capacity."""
    tensors = {k: getattr(layer, k) for k in spec.USER_TENSORS}
    present = [k for k, v in tensors.items() if v is not None]
    channels = next((np.asarray(tensors[k]).size for k in present), 0)
    flags = sum(1 << spec.USER_TENSORS[k] for k in present)
    answer = client.request("USER", spec.USER_SETUP.pack(_PHASE["SETUP"], flags, spec.DTYPES[dtype], 0,
                                                         channels, float(layer.eps)))
    cap = Capacity(*spec.USER_SETUP_RESPONSE.unpack_from(answer))
    if dtype == "s8":
        in_scale, in_zp, out_scale, out_zp = quant
        client.request("USER", spec.USER_QUANT.pack(_PHASE["QUANT"], 0, 0, float(in_scale), int(in_zp),
                                                    float(out_scale), int(out_zp)))
    step = _step(client)
    for k in present:
        arr = _f32(tensors[k], channels, k)
        for first in range(0, channels, step):
            part = arr[first:first + step]
            client.request("USER", spec.USER.pack(_PHASE["PARAM"], spec.USER_TENSORS[k], 0, first,
                                                  part.size) + part.tobytes())
    return cap


def upload(client, x: np.ndarray, progress=None) -> None:
    """Fill the board's input buffer with x (float32 or int8, flattened)."""
    flat = np.ascontiguousarray(x, dtype=F32 if x.dtype.kind == "f" else ELEMENT["s8"]).reshape(-1)
    step = max(1, (client.board.max_payload - spec.USER.size) // flat.itemsize)
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


def download(client, count: int, dtype: str = "f32") -> np.ndarray:
    """The first `count` elements of the board's output buffer."""
    element = ELEMENT[dtype]
    step = client.board.max_payload // element.itemsize
    parts = []
    for first in range(0, count, step):
        n = min(step, count - first)
        raw = client.request("USER", spec.USER.pack(_PHASE["READ"], 0, 0, first, n),
                             answer_bytes=element.itemsize * n)
        parts.append(np.frombuffer(raw, dtype=element, count=n))
    return np.concatenate(parts) if parts else np.zeros(0, element)
