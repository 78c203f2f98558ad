"""s8/s16 parameters against the float reference (torch eval on dequantized inputs)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from _bnutil import randomize
from toolkit import reference
from toolkit.errors import QuantizationError
from toolkit.format import spec
from toolkit.format.reader import read_model
from toolkit.model.bn import find_bn
from toolkit.model.fold import cpu_capability, fold, fused_for
from toolkit.model.quantize import LIMITS, activation_qparams, integer_params, quantize_layer

FUSED = fused_for(cpu_capability())
NP_DTYPE = {"s8": np.int8, "s16": np.int16}


def _compare(bn, p, q, layout="nchw"):
    """(max |diff| in LSB, fraction exact) of the integer kernel vs torch eval."""
    x = reference.dequantize(q, p.in_scale, p.in_zero_point)
    xt = torch.from_numpy(x if layout == "nchw" else np.moveaxis(x, -1, 1).copy())
    with torch.no_grad():
        y = bn(xt).numpy()
    if layout == "nhwc":
        y = np.moveaxis(y, 1, -1)
    want = reference.quantize(y, p.out_scale, p.out_zero_point, p.dtype).astype(np.int64)
    got = reference.bn_affine_int(q, p.mult, p.bias, p.shift, p.dtype, layout).astype(np.int64)
    d = np.abs(got - want)
    return int(d.max()), float((d == 0).mean()), d.size


def _check_limits(p):
    mult_max, bias_max, shift_max, _ = LIMITS[p.dtype]
    assert 0 <= p.shift <= shift_max
    assert np.abs(p.mult.astype(np.int64)).max() <= mult_max
    assert np.abs(p.bias.astype(np.int64)).max() <= bias_max


@pytest.mark.parametrize("dtype", ["s8", "s16"])
def test_random_layers_within_one_lsb(dtype):
    rng = np.random.default_rng(7 if dtype == "s8" else 8)
    lo_q, hi_q = spec.QRANGE[dtype]
    total, exact, worst = 0, 0.0, 0
    for trial in range(60):
        c = int(rng.integers(1, 40))
        bn = randomize(nn.BatchNorm2d(c, eps=float(rng.choice([1e-5, 1e-3, 0.1]))), seed=trial)
        a, b = fold(find_bn(bn)[0], FUSED)
        lo, hi = sorted(rng.normal(0, 4, 2))
        y = np.outer([lo, hi], a) + b
        k = float(rng.uniform(0.5, 1.2))        # < 1: some outputs saturate
        p = quantize_layer(a, b, dtype, activation_qparams(lo, hi, dtype),
                           activation_qparams(min(y.min() * k, 0), max(y.max() * k, 0), dtype))
        _check_limits(p)
        layout = "nchw" if trial % 2 else "nhwc"
        shape = (3, c, 5, 5) if layout == "nchw" else (3, 5, 5, c)
        q = rng.integers(lo_q, hi_q + 1, shape).astype(NP_DTYPE[dtype])
        d, frac, n = _compare(bn, p, q, layout)
        worst = max(worst, d)
        total += n
        exact += frac * n
    assert worst <= 1
    assert exact / total >= 0.999


@pytest.mark.parametrize("dtype", ["s8", "s16"])
def test_tiny_example_model_through_export(dtype):
    from toolkit.examples.tiny import build, example_inputs
    from toolkit.model.capture import capture
    from toolkit.model.export import export
    model = build()
    result = export(model, dtype=dtype, calib=example_inputs())
    blobs = read_model(result.blob).layers
    bns = dict(model.named_modules())
    for layer, blob, (name, x, _) in zip(result.layers, blobs, capture(model, example_inputs())):
        assert blob.name == layer.name == name
        p = layer.quant
        q = reference.quantize(x, p.in_scale, p.in_zero_point, dtype)
        d, frac, _ = _compare(bns[name], p, q)
        assert d <= 1 and frac >= 0.999, (name, d, frac)
        np.testing.assert_array_equal(blob.params["mult"], p.mult)
        np.testing.assert_array_equal(blob.params["bias"], p.bias)


@pytest.mark.parametrize("dtype", ["s8", "s16"])
def test_always_saturating_bias_is_clamped_without_changing_outputs(dtype):
    _, bias_max, _, _ = LIMITS[dtype]
    lo_q, hi_q = spec.QRANGE[dtype]
    M = np.array([0.75, -0.5, 0.9, 0.0])
    B = np.array([1e15, -1e15, 3.0, -1e12])        # channels 0, 1, 3 always saturate
    mult, bias, shift, clamped = integer_params(M, B, dtype)
    assert clamped == [0, 1, 3]
    assert np.abs(bias.astype(np.int64)).max() <= bias_max
    q = np.arange(lo_q, hi_q + 1).reshape(-1, 1).repeat(4, 1)
    got = reference.bn_affine_int(q, mult, bias, shift, dtype, "nchw")
    assert (got[:, 0] == hi_q).all() and (got[:, 1] == lo_q).all() and (got[:, 3] == lo_q).all()
    # unclamped arithmetic (Python ints, no limits) gives the same outputs
    big = [int(np.floor(B[c] * 2.0 ** shift + 0.5)) + (1 << (shift - 1)) for c in range(4)]
    ref = np.array([[min(max((int(v) * int(mult[c]) + big[c]) >> shift, lo_q), hi_q) for c in range(4)]
                    for v in q[:, 0]])
    np.testing.assert_array_equal(got, ref)


def test_multiplier_too_large_names_layer_and_channel():
    with pytest.raises(QuantizationError, match=r"layer 'blk.bn', channel 2"):
        integer_params(np.array([1.0, 2.0, 2.0 ** 24]), np.zeros(3), "s8", "blk.bn")


def test_shift_is_as_large_as_the_limits_allow():
    mult, _, shift, _ = integer_params(np.array([1.0, 0.25]), np.zeros(2), "s8")
    assert shift == 23 and mult[0] == spec.S8_MULT_MAX
    _, _, shift16, _ = integer_params(np.array([1.0]), np.zeros(1), "s16")
    assert shift16 == 30


def test_activation_qparams():
    s, zp = activation_qparams(-1.0, 3.0, "s8")
    assert s == float(np.float32(4.0 / 255)) and -128 <= zp <= 127
    assert reference.quantize(np.array([-1.0, 3.0]), s, zp, "s8").tolist() == [-128, 127]
    s16, zp16 = activation_qparams(-2.0, 1.0, "s16")
    assert zp16 == 0 and s16 == float(np.float32(2.0 / 32767))
