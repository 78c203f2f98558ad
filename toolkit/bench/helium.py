"""Section: Helium (MVE) kernels on the Cortex-M55 board, instructions per element.

unicorn cannot execute Armv8.1-M, so the count comes from the board itself:
qemu-mps3-an547 runs under `-icount shift=0` (one executed instruction per
virtual nanosecond) and its RUN answer carries the SysTick-derived counter
around the kernel call.  Per element = (ticks(N2) - ticks(N1)) / (N2 - N1),
each the median of a few single-frame calls, which removes the call overhead;
the counter resolves one SysTick tick (clock_hz of the board: about 31
instructions).  Every output is checked bit for bit against toolkit/reference.py.
"""
from __future__ import annotations

import shutil
import statistics
import time

import numpy as np

from .. import reference
from ..format import spec
from ..format.writer import LayerBlob, write_model
from .report import Section, Target

BOARD = "qemu-mps3-an547"
# (label, dtype, fused)
VARIANTS = [("f32 fma", "f32", True), ("f32 x*a+b", "f32", False), ("s8", "s8", None),
            ("s16", "s16", None)]
SHAPES = [("nchw", 4), ("nhwc", 16), ("nhwc", 3)]
GOALS = {"s8": 2.5, "f32 fma": 2.0, "f32 x*a+b": 2.0}
REPEATS = 3


def _layer(dtype, fused, layout, channels, rng):
    if dtype == "f32":
        return LayerBlob("f32", layout, channels,
                         {"a": rng.uniform(0.5, 2, channels).astype(np.float32),
                          "b": rng.uniform(-1, 1, channels).astype(np.float32)}, fused=fused)
    if dtype == "s8":
        mult = rng.integers(1 << 18, 1 << 21, channels).astype(np.int32)
        bias = rng.integers(-(1 << 24), 1 << 24, channels).astype(np.int32)
        shift = 20
    else:
        mult = rng.integers(1 << 20, 1 << 28, channels).astype(np.int32)
        bias = rng.integers(-(1 << 50), 1 << 50, channels).astype(np.int64)
        shift = 40
    return LayerBlob(dtype, layout, channels, {"mult": mult, "bias": bias}, in_scale=0.05,
                     out_scale=0.07, shift=shift)


def _input(layer, spatial, rng):
    shape = (1, layer.channels, spatial) if layer.layout == "nchw" else (1, spatial, layer.channels)
    if layer.dtype == "f32":
        return rng.standard_normal(shape).astype(np.float32)
    lo, hi = spec.QRANGE[layer.dtype]
    return rng.integers(lo, hi + 1, shape).astype(np.int8 if layer.dtype == "s8" else np.int16)


def _expected(layer, x):
    if layer.dtype == "f32":
        return reference.bn_affine_f32(x, layer.params["a"], layer.params["b"], layer.layout,
                                       fused=layer.fused)
    return reference.bn_affine_int(x, layer.params["mult"], layer.params["bias"], layer.shift,
                                   layer.dtype, layer.layout)


def _ticks(client, layer, spatial, rng) -> int:
    samples = []
    for _ in range(REPEATS):
        x = _input(layer, spatial, rng)
        res = client.run(0, x, spatial=spatial)
        if res.frames != 1:
            raise RuntimeError(f"{x.size} elements took {res.frames} frames (want one call)")
        if res.output.tobytes() != _expected(layer, x).tobytes():
            raise RuntimeError(f"{BOARD} {layer.dtype} {layer.layout} output differs from "
                               "toolkit/reference.py")
        samples.append(res.ticks)
    return int(statistics.median(samples))


def run(quick: bool) -> Section:
    sec = Section("helium", f"Helium kernels on {BOARD} (QEMU -icount, instructions per element)",
                  [("kernel", ""), ("layout", ""), ("channels", "count"), ("N1", "elements"),
                   ("N2", "elements"), ("instructions_per_element", "instructions/element"),
                   ("call_overhead", "instructions")])
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        sec.skip("qemu-system-arm or arm-none-eabi-gcc not installed")
        return sec
    from ..boards import get_board, start_board
    from ..protocol.client import Client

    board = get_board(BOARD)
    per = {}
    rng = np.random.default_rng(11)
    t0 = time.perf_counter()
    with start_board(board) as session, Client(session.url, timeout=10.0) as client:
        room = client.info().max_payload - spec.RUN.size
        for label, dtype, fused in VARIANTS:
            if quick and label not in ("f32 fma", "s8"):
                continue
            size = 4 if dtype == "f32" else (1 if dtype == "s8" else 2)
            for layout, ch in SHAPES:
                if quick and ch == 3:
                    continue
                layer = _layer(dtype, fused, layout, ch, rng)
                client.load(write_model([layer]))
                # whole tiles of 24 elements (lcm of 3, 4 and 8) keep NHWC counts linear
                unit = 24 * ch if layout == "nhwc" else ch * 8
                n2 = (room // size) // unit * unit
                n1 = n2 // 4 // unit * unit
                s1, s2 = n1 // ch, n2 // ch
                t1, t2 = _ticks(client, layer, s1, rng), _ticks(client, layer, s2, rng)
                ipe = (t2 - t1) / (n2 - n1)
                per[(label, layout, ch)] = ipe
                sec.rows.append({"kernel": label, "layout": layout, "channels": ch, "N1": n1,
                                 "N2": n2, "instructions_per_element": round(ipe, 3),
                                 "call_overhead": round(t1 - ipe * n1)})
    sec.notes.append(f"Board {BOARD} ({board.get('description')}); kernels "
                     f"firmware/src/kernels/{board.get('build.kernels')}/ where present, else "
                     f"the scalar ones. Measured in {time.perf_counter() - t0:.1f} s. "
                     "Instructions, not cycles: QEMU models no pipeline or memory timing.")
    for label, goal in GOALS.items():
        for layout, ch in SHAPES[:2]:
            sec.targets.append(Target(f"M55 Helium {label} {layout.upper()} C={ch}",
                                      per.get((label, layout, ch)), "instructions/element",
                                      "<=", goal))
    return sec
