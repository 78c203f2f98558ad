"""Throughput of bnrt on the MicroPython unix port vs the numpy reference.

    python micropython/bench.py [--elements N]

Prints elements/s for s8/s16 (viper and portable) and f32 (fused with the
midpoint fix, fused without it, unfused) next to toolkit/reference.py in numpy.
Host-side script: runs `micropython` in a subprocess; docs/micropython.md
quotes its output."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toolkit import reference  # noqa: E402
from toolkit.format.writer import LayerBlob, write_model  # noqa: E402
from toolkit.launchers import micropython as mp_launcher  # noqa: E402

SCRIPT = """
import bnrt, time
m = bnrt.load(bytearray(open('model.bnm', 'rb').read()))
for i, (name, size) in enumerate([('f32', 4), ('f32 unfused', 4), ('s8', 1), ('s16', 2)]):
    x = bytearray(open('x_' + name.split()[0], 'rb').read())
    t = time.ticks_us()
    m.run(i, x, x, 64, 0)
    dt = time.ticks_diff(time.ticks_us(), t)
    print(name, dt)
    if name == 'f32':
        a, b = m.layers[0].p0, m.layers[0].p1
        xv = bnrt.view(__import__('uctypes').addressof(x), bnrt.uctypes.FLOAT32, %d)
        t = time.ticks_us()
        bnrt._f32_fused(xv, xv, %d, 0, 64, 64, 16, a, b)
        print('f32 without midpoint fix', time.ticks_diff(time.ticks_us(), t))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", type=int, default=1 << 18)
    n = ap.parse_args().elements
    C = 16
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=C).astype(np.float32), rng.normal(size=C).astype(np.float32)
    mult = rng.integers(-2**20, 2**20, C).astype(np.int32)
    bias = rng.integers(-2**28, 2**28, C).astype(np.int32)
    layers = [LayerBlob("f32", "nchw", C, {"a": a, "b": b}, fused=True),
              LayerBlob("f32", "nchw", C, {"a": a, "b": b}, fused=False),
              LayerBlob("s8", "nchw", C, {"mult": mult, "bias": bias}, in_scale=1, out_scale=1, shift=16),
              LayerBlob("s16", "nchw", C, {"mult": mult, "bias": bias.astype(np.int64)},
                        in_scale=1, out_scale=1, shift=16)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "model.bnm").write_bytes(write_model(layers))
        (tmp / "bench.py").write_text(SCRIPT % (n, n))
        (tmp / "x_f32").write_bytes(rng.normal(0, 2, n).astype(np.float32).tobytes())
        (tmp / "x_s8").write_bytes(rng.integers(-128, 128, n).astype(np.int8).tobytes())
        (tmp / "x_s16").write_bytes(rng.integers(-32768, 32768, n).astype(np.int16).tobytes())
        for variant, arch in (("viper", "x64"), ("portable", None)):
            lib = tmp / variant
            mp_launcher.build(lib, arch)
            out = subprocess.run(["micropython", "-X", "heapsize=64M", "bench.py"], cwd=tmp,
                                 env=dict(os.environ, MICROPYPATH=str(lib)), capture_output=True,
                                 text=True, check=True).stdout
            for line in out.strip().splitlines():
                name, us = line.rsplit(" ", 1)
                print(f"micropython {variant:8s} {name:26s} {n / (int(us) * 1e-6) / 1e6:8.2f} M elements/s")
    x = rng.normal(size=(n // (C * 64), C, 64)).astype(np.float32)
    q = rng.integers(-128, 128, x.shape).astype(np.int8)
    for name, fn in (("f32 fma (reference.fma_f32)", lambda: reference.bn_affine_f32(x, a, b, "nchw")),
                     ("s8 (reference.bn_affine_int)",
                      lambda: reference.bn_affine_int(q, mult, bias, 16, "s8", "nchw"))):
        t = time.perf_counter()
        for _ in range(5):
            fn()
        dt = (time.perf_counter() - t) / 5
        print(f"numpy                {name:26s} {x.size / dt / 1e6:8.2f} M elements/s")


if __name__ == "__main__":
    main()
