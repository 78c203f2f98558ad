"""The committed golden blobs are current, small, and described correctly by golden.json."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from toolkit.format import spec
from toolkit.format.reader import read_model

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _generator():
    s = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


def test_golden_files_are_current():
    assert _generator().main(["--check"]) == 0, "run python tests/golden/make_golden.py"


INDEX = json.loads((GOLDEN / "golden.json").read_text())


@pytest.mark.parametrize("name", sorted(INDEX["files"]))
def test_golden_blob_matches_its_description(name):
    blob = (GOLDEN / name).read_bytes()
    desc = INDEX["files"][name]
    assert len(blob) == desc["size"] < 2048
    m = read_model(blob)
    assert m.crc32 == desc["crc32"] == spec.file_crc(blob)
    for got, want in zip(m.layers, desc["layers"], strict=True):
        assert (got.name, got.dtype, got.layout, got.channels) == \
            (want["name"], want["dtype"], want["layout"], want["channels"])
        assert got.fused == bool(want["flags"] & spec.LAYER_FLAG_FMA)
        assert (got.in_zero_point, got.out_zero_point, got.shift) == \
            (want["in_zero_point"], want["out_zero_point"], want["shift"])
        for k, v in want["params"].items():
            np.testing.assert_array_equal(got.params[k], np.asarray(v, got.params[k].dtype))


def test_golden_set_covers_the_variants():
    layers = [l for f in INDEX["files"].values() for l in f["layers"]]
    assert {l["dtype"] for l in layers} == set(spec.DTYPES)
    assert {l["layout"] for l in layers} == set(spec.LAYOUTS)
    assert {l["name"] is None for l in layers} == {True, False}


@pytest.mark.parametrize("name", sorted(INDEX["rejected"]))
def test_rejected_golden_files_get_their_status(name):
    from toolkit.format.reader import FormatError
    with pytest.raises(FormatError) as e:
        read_model((GOLDEN / "rejected" / name).read_bytes())
    assert e.value.status == INDEX["rejected"][name]
