"""Model.run with the layer table decoded at load, and the bound fast path
(Model.bind): same bits as the reference, same refusals as run."""
from __future__ import annotations

import numpy as np
import pytest

from bnrt_cases import random_input, random_layer, same_bits
from toolkit import reference as ref
from toolkit.errors import InputError
from toolkit.format.writer import write_model
from toolkit.runtime import StatusError


def expected(layer, x):
    p = layer.params
    if layer.dtype == "f32":
        return ref.bn_affine_f32(x, p["a"], p["b"], layer.layout, layer.fused)
    return ref.bn_affine_int(x, p["mult"], p["bias"], layer.shift, layer.dtype, layer.layout)


@pytest.mark.parametrize("dtype", ["f32", "s8", "s16"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_bound_layer_equals_reference(rt, dtype, layout):
    rng = np.random.default_rng(5)
    layers = [random_layer(rng, dtype, layout, c) for c in (4, 3)]
    model = rt.load(write_model(layers))
    assert [l.channels for l in model.layers()] == [4, 3]
    for k, layer in enumerate(layers):
        shape = (2, layer.channels, 5) if layout == "nchw" else (2, 5, layer.channels)
        f = model.bind(k, shape)
        for _ in range(3):                                 # repeated calls, fresh data
            x = random_input(rng, dtype, shape)
            want = expected(layer, x)
            assert same_bits(f(x), want)
            out = np.empty_like(x)
            assert f(x, out) is out and same_bits(out, want)
            assert same_bits(model.run(k, x), want)
            y = x.copy()
            assert same_bits(f(y, y), want)                # in place


def test_bound_layer_refuses_what_it_was_not_bound_to(rt):
    rng = np.random.default_rng(6)
    model = rt.load(write_model([random_layer(rng, "s8", "nchw", 4)]))
    f = model.bind(0, (3, 4))
    good = np.zeros((3, 4), np.int8)
    bad = [np.zeros((2, 4), np.int8), np.zeros((3, 4), np.int16), np.zeros((4, 3), np.int8).T,
           good.tolist()]
    for x in bad:
        with pytest.raises(InputError):
            f(x)
    ro = np.zeros((3, 4), np.int8)
    ro.flags.writeable = False
    for out in (np.zeros((3, 4), np.int16), np.zeros((3, 5), np.int8), ro):
        with pytest.raises(InputError):
            f(good, out)
    with pytest.raises(InputError):
        model.bind(0, (3, 5))                              # 5 channels, layer has 4
    with pytest.raises(StatusError) as e:
        model.bind(1, (3, 4))
    assert e.value.status == "ERR_LAYER"
    for k in (-1, 1, 2**32 - 1):                           # run keeps the C runtime's status
        with pytest.raises(StatusError) as e:
            model.run(k, good)
        assert e.value.status == "ERR_LAYER"


@pytest.mark.parametrize("dtype", ["f32", "s8"])
def test_read_only_and_empty_inputs(rt, dtype):
    """Read-only buffers (np.frombuffer of bytes) and empty tensors take the
    slow pointer path: same results."""
    rng = np.random.default_rng(7)
    layer = random_layer(rng, dtype, "nchw", 3)
    model = rt.load(write_model([layer]))
    x = random_input(rng, dtype, (4, 3, 2))
    ro = np.frombuffer(x.tobytes(), x.dtype).reshape(x.shape)
    assert not ro.flags.writeable
    want = expected(layer, x)
    assert same_bits(model.run(0, ro), want)
    assert same_bits(model.bind(0, ro.shape)(ro), want)
    empty = x[:0]
    assert model.run(0, empty).shape == empty.shape
    assert model.bind(0, empty.shape)(empty).shape == empty.shape
