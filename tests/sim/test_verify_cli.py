"""`toolkit verify` and `toolkit simulate` end to end on host-sim."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit import reference
from toolkit.cli import main
from toolkit.format.writer import write_model

from sim_helpers import random_input, random_layer

MODEL = f"{Path(__file__).with_name('bn_models.py')}:all_shapes"
SHAPES = {"bn1": (3, 6), "bn1l": (3, 6, 20), "bn2": (3, 6, 4, 5), "bn3": (3, 6, 3, 4, 5)}


def _verify(tmp_path, *extra):
    report = tmp_path / "report.json"
    code = main(["verify", MODEL, "--input-shape", "6,4,5", "--samples", "3", "--seed", "4",
                 "--report", str(report), *extra])
    return code, (json.loads(report.read_text()) if report.exists() else None)


@pytest.mark.parametrize("dtype,layout", [("f32", "nchw"), ("f32", "nhwc"), ("s16", "nchw"), ("s8", "nhwc")])
def test_verify_passes_on_host_sim(tmp_path, dtype, layout):
    code, rep = _verify(tmp_path, "--dtype", dtype, "--layout", layout)
    assert code == 0
    for key in ("board", "dtype", "samples", "pass", "layers", "cpu_capability", "torch_version"):
        assert key in rep
    assert (rep["board"], rep["dtype"], rep["samples"], rep["pass"]) == ("host-sim", dtype, 3, True)
    assert {e["name"]: e["shape"] for e in rep["layers"]} == {k: list(v) for k, v in SHAPES.items()}
    for e in rep["layers"]:
        assert e["elements"] == int(np.prod(SHAPES[e["name"]]))
        if dtype == "f32":
            assert e["bit_exact"] and e["max_ulp_err"] == 0 and e["max_abs_err"] == 0
        else:
            assert e["bit_exact"] and e["max_lsb_err"] <= 1
            assert sum(e["lsb_histogram"]) == e["elements"]


def test_f32_device_output_equals_torch_eval_bits(sim):
    """Independent of the verify code: export, run on the board, compare with torch."""
    from toolkit.model.capture import capture
    from toolkit.model.export import export
    from toolkit.protocol.client import Client
    sys.path.insert(0, str(Path(__file__).parent))
    import bn_models
    model = bn_models.all_shapes()
    x = torch.randn(2, 6, 4, 5, generator=torch.Generator().manual_seed(1))
    blob = export(model, dtype="f32", layout="nchw", calib=x).blob
    with Client(sim.url) as c:
        c.load(blob)
        for i, (name, x_in, _) in enumerate(capture(model, x)):
            bn = dict(model.named_modules())[name]
            with torch.no_grad():
                want = bn(torch.from_numpy(x_in)).numpy()
            got = c.run(i, x_in, int(np.prod(x_in.shape[2:], dtype=np.int64))).output
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), name


def test_verify_detects_a_wrong_parameter(tmp_path, monkeypatch):
    """A blob off by one ULP in one layer's offset must fail verification."""
    import toolkit.model.export as ex
    from toolkit.format.reader import read_model
    real = ex.export

    def tampered(*a, **k):
        out = real(*a, **k)
        layers = read_model(out.blob).layers
        layers[2].params["b"] = np.nextafter(layers[2].params["b"], np.float32(np.inf)).astype(np.float32)
        out.blob = write_model(layers)
        return out
    monkeypatch.setattr(ex, "export", tampered)
    code, rep = _verify(tmp_path, "--dtype", "f32")
    assert code == 1 and rep["pass"] is False
    assert [e["pass"] for e in rep["layers"]] == [True, True, False, True]


def test_batch_sizes_plot_and_junit(tmp_path):
    plot, junit = tmp_path / "e.png", tmp_path / "j.xml"
    code, rep = _verify(tmp_path, "--dtype", "s8", "--batch-sizes", "1,2", "--plot", str(plot),
                        "--junit", str(junit))
    assert code == 0
    for e in rep["layers"]:
        assert e["batch_sizes_identical"] == {"1": True, "2": True}
    gaps = {e["name"]: e["train_vs_eval_max_abs"] for e in rep["layers"]}
    assert gaps["bn2"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert sorted(c.get("name") for c in cases) == sorted(SHAPES)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files left


def test_verify_on_a_silent_port_is_a_board_error(tmp_path):
    master, slave = os.openpty()
    try:
        t0 = time.monotonic()
        code = main(["verify", MODEL, "--input-shape", "6,4,5", "--samples", "1", "--port", os.ttyname(slave),
                     "--timeout", "0.2"])
        assert code == 5 and time.monotonic() - t0 < 10
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("dtype,layout", [("s16", "nhwc"), ("f32", "nchw")])
def test_simulate_runs_one_layer(tmp_path, dtype, layout):
    rng = np.random.default_rng(8)
    layers = [random_layer(rng, dtype, layout, 5), random_layer(rng, dtype, layout, 3)]
    (tmp_path / "m.bnm").write_bytes(write_model(layers))
    x = random_input(rng, dtype, (2, 3, 7) if layout == "nchw" else (2, 7, 3))
    np.save(tmp_path / "x.npy", x)
    code = main(["simulate", str(tmp_path / "m.bnm"), "--layer", "1", "--input", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "y.npy")])
    assert code == 0
    p = layers[1].params
    want = (reference.bn_affine_f32(x, p["a"], p["b"], layout) if dtype == "f32" else
            reference.bn_affine_int(x, p["mult"], p["bias"], layers[1].shift, dtype, layout))
    assert np.array_equal(np.load(tmp_path / "y.npy"), want)
    assert main(["simulate", str(tmp_path / "m.bnm"), "--layer", "0", "--input", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "z.npy")]) == 3          # 3 channels, layer 0 has 5
    assert not (tmp_path / "z.npy").exists()


def test_console_script_exit_code(tmp_path):
    r = subprocess.run(["toolkit", "verify", MODEL, "--input-shape", "6,4,5", "--samples", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "pass: 4 layers on host-sim" in r.stdout


def test_samples_draws_random_inputs_of_the_models_own_shape(tmp_path):
    """--samples alone: seeded random samples shaped like the factory's example inputs."""
    from toolkit.examples import tiny

    report = tmp_path / "r.json"
    assert main(["verify", "toolkit.examples.tiny:build", "--samples", "3", "--seed", "5",
                 "--report", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["samples"] == 3 and r["pass"] is True
    first = {l["name"]: l for l in r["layers"]}["bn1"]
    assert first["elements"] == 3 * 8 * tiny.INPUT_SHAPE[1] * tiny.INPUT_SHAPE[2]
