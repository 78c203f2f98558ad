"""The exact float32 fma for single-precision MicroPython ports
(micropython/bnrt_fma32.py), on the unix port: fma_bits against
toolkit/reference.py on random bit patterns, cancellations, subnormal results,
specials and double-rounding traps; then bnrt's fused f32 layer with the
single-precision path forced (bnrt.DOUBLE = False) against torch eval's own
BatchNorm output, bit for bit."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from mpy_helpers import needs_micropython, run_mpy

from toolkit import reference
from toolkit.format.writer import LayerBlob, write_model

pytestmark = needs_micropython
SRC = Path(__file__).resolve().parents[2] / "micropython"


def _lib(tmp_path):
    d = tmp_path / "lib"
    d.mkdir()
    for name in ("bnrt_spec.py", "bnrt.py", "bnrt_fma32.py"):
        shutil.copy(SRC / name, d / name)
    return d


def _cases(rng, n):
    u = lambda v: np.asarray(v, np.float32).view(np.uint32)
    r = lambda: rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    x, a = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    near = (-(x.astype(np.float64) * a) * (1 + rng.standard_normal(n) * 1e-7)).astype(np.float32)
    tiny = [(rng.standard_normal(n) * 2.0 ** k).astype(np.float32) for k in (-70, -60, -128)]
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32).view(np.uint32)
    specials = np.concatenate([specials, np.array([0x7FC12345, 0xFFC00001, 0x7F800001, 1, 0x807FFFFF],
                                                  np.uint32)])
    sx, sa, sb = (rng.choice(specials, n) for _ in range(3))
    # x*a = 2^-24 + 2^-56 with b = 1: rounding x*a+b to double first lands on a midpoint
    trap = (u([641 * 2.0 ** -28]), u([6700417 * 2.0 ** -28]), u([1.0]))
    return [(r(), r(), r()), (u(x), u(a), u(near)), tuple(u(t) for t in tiny),
            (sx, sa, sb), (sx, u(x), u(a)), trap]


def test_fma_bits_matches_the_reference(tmp_path):
    rng = np.random.default_rng(3)
    xs, as_, bs = (np.concatenate(p) for p in zip(*_cases(rng, 400)))
    (tmp_path / "cases.json").write_text(json.dumps([xs.tolist(), as_.tolist(), bs.tolist()]))
    out = run_mpy("import json\nfrom bnrt_fma32 import fma_bits\n"
                  "x, a, b = json.load(open('cases.json'))\n"
                  "print(json.dumps([fma_bits(*t) for t in zip(x, a, b)]))\n",
                  tmp_path, _lib(tmp_path), timeout=120)
    got = np.array(json.loads(out), np.uint32)
    want = reference.fma_f32(xs.view(np.float32), as_.view(np.float32),
                             bs.view(np.float32)).view(np.uint32)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(hex(xs[i]), hex(as_[i]), hex(bs[i]), hex(got[i]), hex(want[i]))
                           for i in bad[:5]]


def test_forced_single_precision_layer_matches_torch_eval(tmp_path):
    import torch

    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(6, eps=1e-3).eval()
    with torch.no_grad():
        bn.weight.uniform_(-2, 2)
        bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-3, 3)
        bn.running_var.uniform_(0.1, 4)
    x = torch.randn(2, 6, 5, 7) * 3
    with torch.no_grad():
        y = bn(x).numpy()
    # torch's per-channel a, b (docs: FACTS), fused into the layer like the exporter
    a = ((1 / np.sqrt(bn.running_var.numpy() + np.float32(1e-3))).astype(np.float32)
         * bn.weight.detach().numpy()).astype(np.float32)
    b = reference.fma_f32(-bn.running_mean.numpy(), a, bn.bias.detach().numpy())
    blob = write_model([LayerBlob("f32", "nchw", 6, {"a": a, "b": b}, fused=True)])
    (tmp_path / "model.bnm").write_bytes(blob)
    (tmp_path / "x.bin").write_bytes(x.numpy().tobytes())
    out = run_mpy("import bnrt, bnrt_fma32\nbnrt.DOUBLE = False\n"
                  "calls = [0]\nf = bnrt_fma32.fma_bits\n"
                  "def counted(*t):\n    calls[0] += 1\n    return f(*t)\n"
                  "bnrt_fma32.fma_bits = counted\n"
                  "m = bnrt.load(bytearray(open('model.bnm', 'rb').read()))\n"
                  "x = bytearray(open('x.bin', 'rb').read())\ny = bytearray(len(x))\n"
                  "m.run(0, x, y, 35, 0)\nopen('y.bin', 'wb').write(y)\nprint(calls[0])\n",
                  tmp_path, _lib(tmp_path))
    assert int(out) == x.numel()          # every element went through the integer fma
    got = np.frombuffer((tmp_path / "y.bin").read_bytes(), np.float32).reshape(y.shape)
    assert got.view(np.uint32).tobytes() == y.view(np.uint32).tobytes()
    # and the double-precision path differs from this one only in how, not what
    assert np.array_equal(got, reference.bn_affine_f32(x.numpy(), a, b, "nchw"))
