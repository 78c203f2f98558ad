"""The small-board module micropython/bnrt_tiny.py on the unix port, host-first:
its s8/s16 arithmetic against toolkit/reference.py in both layouts and from
any first element (RUN frames start mid-row), and its model check against the
Python reader's statuses on the corruptions it covers.  The same source runs
on the micro:bit (tests/hil/test_microbit.py)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from mpy_helpers import needs_micropython, run_mpy

from toolkit import reference
from toolkit.format import reader, spec
from toolkit.format.writer import LayerBlob, write_model

pytestmark = needs_micropython
SRC = __import__("pathlib").Path(__file__).resolve().parents[2] / "micropython"


def layer(rng, dtype, layout, channels):
    if dtype == "s8":
        mult = rng.integers(-spec.S8_MULT_MAX, spec.S8_MULT_MAX + 1, channels).astype(np.int32)
        bias = rng.integers(-spec.S8_BIAS_MAX, spec.S8_BIAS_MAX + 1, channels).astype(np.int32)
        shift = 27
    else:
        mult = rng.integers(-2**31, 2**31, channels, dtype=np.int64).astype(np.int32)
        bias = rng.integers(-2**50, 2**50, channels, dtype=np.int64)
        shift = 36
    return LayerBlob(dtype, layout, channels, {"mult": mult, "bias": bias}, in_scale=0.05,
                     out_scale=0.07, shift=shift)


@pytest.fixture
def lib(tmp_path):
    d = tmp_path / "lib"
    d.mkdir()
    for name in ("bnrt_spec.py", "bnrt_tiny.py"):
        shutil.copy(SRC / name, d / name)
    return d


def test_run_matches_the_reference(tmp_path, lib):
    rng = np.random.default_rng(5)
    cases = []
    for dtype in ("s8", "s16"):
        for layout in ("nchw", "nhwc"):
            L = layer(rng, dtype, layout, 5)
            spatial = 7
            shape = (2, 5, spatial) if layout == "nchw" else (2, spatial, 5)
            lo, hi = spec.QRANGE[dtype]
            x = rng.integers(lo, hi + 1, shape).astype(np.int8 if dtype == "s8" else np.int16)
            want = reference.bn_affine_int(x, L.params["mult"], L.params["bias"], L.shift, dtype,
                                           layout)
            first = 9                                   # a frame that starts mid-row
            cases.append((write_model([L]).hex(), x.tobytes()[first * x.itemsize:].hex(),
                          spatial, first, want.tobytes()[first * x.itemsize:].hex()))
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = run_mpy("import json, ubinascii as B, bnrt_tiny as T\n"
                  "for blob, x, sp, first, want in json.load(open('cases.json')):\n"
                  "    blob = B.unhexlify(blob)\n"
                  "    print(T.check(blob), B.hexlify(T.run(blob, 0, B.unhexlify(x), sp, first)).decode() == want)\n",
                  tmp_path, lib)
    assert out.split() == ["0", "True"] * 4


def test_check_agrees_with_the_reader(tmp_path, lib):
    rng = np.random.default_rng(6)
    good = bytearray(write_model([layer(rng, "s8", "nchw", 3), layer(rng, "s16", "nhwc", 4)]))
    bad = {"magic": b"XNMF" + good[4:], "truncated": good[:20],
           "crc": good[:-1] + bytes([good[-1] ^ 1]), "size": good + b"\0"}
    f32 = write_model([LayerBlob("f32", "nchw", 2, {"a": np.ones(2, np.float32),
                                                   "b": np.zeros(2, np.float32)})])
    blobs = {"good": bytes(good), **bad, "f32": f32}
    (tmp_path / "blobs.json").write_text(json.dumps({k: bytes(v).hex() for k, v in blobs.items()}))
    out = run_mpy("import json, ubinascii as B, bnrt_tiny as T\n"
                  "for k, v in sorted(json.load(open('blobs.json')).items()):\n"
                  "    print(k, T.check(B.unhexlify(v)))\n", tmp_path, lib)
    got = dict(line.split() for line in out.splitlines())
    for name, blob in blobs.items():
        want = reader.validation_status(bytes(blob)) if name != "f32" else "ERR_UNSUPPORTED"
        assert int(got[name]) == spec.STATUS[want], name
