"""bnrt on the MicroPython unix port against toolkit/reference.py: s8/s16 bit
for bit (viper and portable kernels), f32 within 1 ULP of the reference fma,
with the exact/1-ULP counts reported."""
from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit import reference
from toolkit.format import spec
from toolkit.format.writer import LayerBlob, write_model

from mpy_helpers import needs_micropython, run_mpy

pytestmark = needs_micropython

SCRIPT = """
import bnrt, json
blob = bytearray(open('model.bnm', 'rb').read())
m = bnrt.load(blob)
for job in json.loads(open('jobs.json').read()):
    x = bytearray(open(job['x'], 'rb').read())
    y = bytearray(len(x)) if job['out'] else x
    m.run(job['layer'], x, y, job['spatial'], job['first'])
    open(job['y'], 'wb').write(y)
print(json.dumps([bnrt._fast is not None, bnrt.DOUBLE]))
"""


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    def key(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(key(got) - key(want))


def _hard_f32_cases():
    """fma inputs where x*a + b, rounded to a double, lands exactly on a float32
    midpoint, so rounding twice picks the wrong neighbour: x*a = 2^-24 - k^2*2^-70
    (just under half an ulp of b = 1 + odd*2^-23, by less than half a double ulp)."""
    u = 2.0 ** -23
    xs, as_, bs = [], [], []
    for k in range(1, 41):
        x = np.float32(1 + k * u)
        a = np.float32((1 - k * u) * 2.0 ** -24)
        b = np.float32(1 + (2 * k - 1) * u)
        for sx, sb in ((1, 1), (-1, -1), (-1, 1), (1, -1)):
            xs.append(sx * x)
            as_.append(a)
            bs.append(sb * b)
    return np.array(xs, np.float32), np.array(as_, np.float32), np.array(bs, np.float32)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    rng = np.random.default_rng(8)
    C, N, S = 5, 2, 301
    p = {
        "f32": {"a": rng.normal(0, 2, C).astype(np.float32), "b": rng.normal(0, 2, C).astype(np.float32)},
        "s8": {"mult": rng.integers(-2**23, 2**23 + 1, C).astype(np.int32),
               "bias": rng.integers(-spec.S8_BIAS_MAX, spec.S8_BIAS_MAX + 1, C).astype(np.int32)},
        "s16": {"mult": rng.integers(-2**31, 2**31, C).astype(np.int32),
                "bias": rng.integers(-2**62, 2**62 + 1, C).astype(np.int64)},
    }
    hx, ha, hb = _hard_f32_cases()
    # they are hard: one double rounding then a float32 rounding misses every one
    naive = (hx.astype(np.float64) * ha.astype(np.float64) + hb.astype(np.float64)).astype(np.float32)
    assert np.all(naive != reference.fma_f32(hx, ha, hb))
    layers = [
        LayerBlob("f32", "nchw", C, p["f32"], fused=True),
        LayerBlob("f32", "nhwc", C, p["f32"], fused=False),
        LayerBlob("s8", "nchw", C, p["s8"], in_scale=0.5, in_zero_point=-3, out_scale=0.25, out_zero_point=7, shift=23),
        LayerBlob("s8", "nhwc", C, p["s8"], in_scale=0.5, out_scale=0.25, shift=31),
        LayerBlob("s16", "nchw", C, p["s16"], in_scale=0.5, out_scale=0.25, shift=46),
        LayerBlob("s16", "nhwc", C, p["s16"], in_scale=0.5, out_scale=0.25, shift=62),
        LayerBlob("f32", "nhwc", len(ha), {"a": ha, "b": hb}, fused=True),
    ]
    x = {
        "f32": rng.normal(0, 3, (N, C, S)).astype(np.float32),
        "s8": rng.integers(-128, 128, (N, C, S)).astype(np.int8),
        "s16": rng.integers(-32768, 32768, (N, C, S)).astype(np.int16),
    }
    x["f32"].reshape(-1)[:6] = [0.0, -0.0, 1e-40, -3e38, np.inf, np.nan]
    x["s8"].reshape(-1)[:2] = [-128, 127]
    x["s16"].reshape(-1)[:2] = [-32768, 32767]
    tmp = tmp_path_factory.mktemp("kernels")
    (tmp / "model.bnm").write_bytes(write_model(layers))
    jobs, want = [], []
    for i, layer in enumerate(layers):
        inp = hx.reshape(1, -1) if i == 6 else x[layer.dtype]
        spatial = 1 if i == 6 else S
        if layer.layout == "nhwc" and i != 6:
            inp = np.ascontiguousarray(inp.reshape(N, S, C))
        if layer.dtype == "f32":
            ref = reference.bn_affine_f32(inp, layer.params["a"], layer.params["b"], layer.layout, layer.fused)
        else:
            ref = reference.bn_affine_int(inp, layer.params["mult"], layer.params["bias"], layer.shift,
                                          layer.dtype, layer.layout)
        flat = inp.reshape(-1)
        # cut into ranges that start and end mid-channel and mid-sample
        cuts = [0, 1, 7, S + 3, flat.size // 2 + 1, flat.size] if flat.size > S + 3 else [0, flat.size]
        for k, (lo, hi) in enumerate(zip(cuts, cuts[1:])):
            xf, yf = f"x{i}_{k}", f"y{i}_{k}"
            (tmp / xf).write_bytes(flat[lo:hi].tobytes())
            jobs.append({"layer": i, "spatial": spatial, "first": lo, "x": xf, "y": yf, "out": k % 2 == 0})
        want.append((i, layer.dtype, ref.reshape(-1), len(cuts) - 1))
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    return tmp, want


def _outputs(tmp, i, dtype, parts):
    nd = {"f32": np.float32, "s8": np.int8, "s16": np.int16}[dtype]
    return np.concatenate([np.fromfile(tmp / f"y{i}_{k}", nd) for k in range(parts)])


@pytest.mark.parametrize("variant", ["viper", "portable"])
def test_matches_reference(case, mpy_dirs, variant, record_property):
    tmp, want = case
    fast, double = json.loads(run_mpy(SCRIPT, tmp, mpy_dirs[variant]).strip().splitlines()[-1])
    assert fast == (variant == "viper") and double
    exact = total = 0
    for i, dtype, ref, parts in want:
        got = _outputs(tmp, i, dtype, parts)
        if dtype == "f32":
            both_nan = np.isnan(got) & np.isnan(ref)
            ulps = np.where(both_nan, 0, _ulps(got, ref))
            assert ulps.max() <= 1, f"layer {i}: {np.count_nonzero(ulps > 1)} outputs off by more than 1 ULP"
            exact += int(np.count_nonzero(ulps == 0))
            total += ulps.size
        else:
            np.testing.assert_array_equal(got, ref, err_msg=f"layer {i} ({dtype})")
    record_property("f32_exact", f"{exact}/{total}")
    print(f"f32 outputs equal to the reference fma/unfused result: {exact} of {total}")
    # the double-rounding fix makes every f32 output exact, the hard cases included
    assert exact == total
