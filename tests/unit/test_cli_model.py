"""`toolkit inspect` / `toolkit export` through toolkit.cli.main: outputs, errors, exit codes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.format.reader import read_model

MODELS = textwrap.dedent("""
    import torch
    from torch import nn

    def good():
        torch.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4, eps=1e-3))
        return m.eval()

    def train_mode():
        return good().train()

    def no_bn():
        return nn.Linear(2, 2)

    def not_a_module():
        return 42

    def lazy():
        return nn.Sequential(nn.LazyBatchNorm2d())

    def no_stats():
        return nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False))

    def nan_var():
        m = good()
        with torch.no_grad():
            m[3].running_var[1] = float("nan")
        return m
""")


@pytest.fixture
def models(tmp_path):
    p = tmp_path / "models.py"
    p.write_text(MODELS)
    return p


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, expected_code, pattern):
    assert code == expected_code, err
    assert err.startswith("error: ") and err.count("\n") == 1, err   # one line, no traceback
    assert pattern in err, err
    assert "; " in err                                                # names the fix


@pytest.mark.parametrize("spec, code, pattern", [
    ("{d}/missing.py:good", 3, "model file not found"),
    ("{d}/models.py:nothing", 3, "factory 'nothing' not found"),
    ("{d}/models.py:not_a_module", 3, "not an nn.Module"),
    ("{d}/models.py", 3, "names no factory"),
    ("{d}/models.py:1x", 3, "malformed MODEL"),
    ("no such thing", 3, "malformed MODEL"),
    ("no_such_module_xyz:build", 3, "module 'no_such_module_xyz' not found"),
    ("{d}/models.py:no_bn", 4, "no BatchNorm layer"),
    ("{d}/models.py:lazy", 4, "run one forward pass first"),
    ("{d}/models.py:no_stats", 4, "track_running_stats=False"),
    ("{d}/models.py:nan_var", 4, "'3', channel 1: running_var"),
])
def test_export_errors(capsys, tmp_path, models, spec, code, pattern):
    out = tmp_path / "out.bnm"
    got, _, err = run(capsys, "export", spec.format(d=tmp_path), "-o", out)
    assert_user_error(got, err, code, pattern)
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) in (["models.py"], ["__pycache__", "models.py"])


def test_int_export_without_ranges_is_an_input_error(capsys, tmp_path, models):
    got, _, err = run(capsys, "export", f"{models}:good", "-o", tmp_path / "o.bnm", "--dtype", "s8")
    assert_user_error(got, err, 3, "--calib")


def test_quantization_error_leaves_old_file_untouched(capsys, tmp_path, models):
    out = tmp_path / "o.bnm"
    out.write_bytes(b"previous")
    ranges = tmp_path / "r.json"
    ranges.write_text(json.dumps({"1": {"in": [-1e6, 1e6], "out": [-1e-6, 1e-6]},
                                  "3": {"in": [-1, 1]}}))
    got, _, err = run(capsys, "export", f"{models}:good", "-o", out, "--dtype", "s8", "--ranges", ranges)
    assert_user_error(got, err, 4, "layer '1', channel 0")
    assert out.read_bytes() == b"previous"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_unknown_layer_in_ranges(capsys, tmp_path, models):
    ranges = tmp_path / "r.json"
    ranges.write_text(json.dumps({"nope": {"in": [0, 1]}}))
    got, _, err = run(capsys, "export", f"{models}:good", "-o", tmp_path / "o.bnm", "--dtype", "s16",
                      "--ranges", ranges)
    assert_user_error(got, err, 3, "unknown layer 'nope'")


def test_pickle_needs_opt_in(capsys, tmp_path, models):
    import torch
    sys.path.insert(0, str(tmp_path))
    try:
        import models as mod
        p = tmp_path / "whole.pth"
        torch.save(mod.good(), p)
        got, _, err = run(capsys, "export", p, "-o", tmp_path / "o.bnm")
        assert_user_error(got, err, 3, "--allow-pickle")
        got, out, _ = run(capsys, "export", p, "-o", tmp_path / "o.bnm", "--allow-pickle")
        assert got == 0 and len(read_model((tmp_path / "o.bnm").read_bytes()).layers) == 2
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("models", None)


def test_export_summary_and_train_mode_warning(capsys, tmp_path, models):
    out = tmp_path / "o.bnm"
    got, stdout, err = run(capsys, "export", f"{models}:train_mode", "-o", out, "--no-fma")
    assert got == 0
    assert "warning: the model is in train mode" in err and "eval-mode semantics" in err
    assert err.count("train mode") == 1                     # one warning, naming every layer
    assert "2 layers" in stdout and f"{out.stat().st_size} bytes" in stdout and "bytes/channel" in stdout
    layers = read_model(out.read_bytes()).layers
    assert [l.name for l in layers] == ["1", "3"] and not any(l.fused for l in layers)


@pytest.mark.parametrize("dtype", ["s8", "s16"])
def test_export_with_calib_npy_and_example_inputs(capsys, tmp_path, dtype):
    from toolkit.examples.tiny import example_inputs
    calib = tmp_path / "x.npy"
    np.save(calib, example_inputs().numpy())
    a, b = tmp_path / "a.bnm", tmp_path / "b.bnm"
    assert run(capsys, "export", "toolkit.examples.tiny:build", "-o", a, "--dtype", dtype,
               "--calib", calib, "--layout", "nhwc")[0] == 0
    code, _, err = run(capsys, "export", "toolkit/examples/tiny.py:build", "-o", b, "--dtype", dtype,
                       "--layout", "nhwc")
    assert code == 0 and "example_inputs()" in err
    assert a.read_bytes() == b.read_bytes()
    assert {l.layout for l in read_model(a.read_bytes()).layers} == {"nhwc"}


def test_inspect_json_model(capsys, models):
    code, out, _ = run(capsys, "inspect", f"{models}:good", "--json")
    assert code == 0
    d = json.loads(out)
    assert [l["name"] for l in d["layers"]] == ["1", "3"]
    for l in d["layers"]:
        assert {"name", "kind", "channels", "eps", "momentum", "num_batches_tracked", "mode",
                "gamma", "beta", "running_mean", "running_var", "min_var_plus_eps", "warnings"} <= set(l)
    assert d["layers"][1]["eps"] == 1e-3 and d["layers"][1]["kind"] == "BatchNorm2d"


def test_inspect_table_shows_problems_instead_of_failing(capsys, models):
    code, out, _ = run(capsys, "inspect", f"{models}:nan_var")
    assert code == 0 and "channel 1" in out


def test_inspect_blob_detected_by_magic(capsys, tmp_path, models):
    blob = tmp_path / "model.data"           # no .bnm extension
    assert run(capsys, "export", f"{models}:good", "-o", blob)[0] == 0
    code, out, _ = run(capsys, "inspect", blob, "--json")
    d = json.loads(out)
    assert code == 0 and d["format"] == "bnm" and d["size"] == blob.stat().st_size
    assert [(l["name"], l["dtype"], l["channels"]) for l in d["layers"]] == [("1", "f32", 4), ("3", "f32", 4)]
    broken = tmp_path / "broken.bnm"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    broken.write_bytes(bytes(data))
    code, _, err = run(capsys, "inspect", broken)
    assert_user_error(code, err, 3, "ERR_CRC")


def test_console_script_exit_code(tmp_path):
    exe = shutil.which("toolkit")
    cmd = [exe] if exe else [sys.executable, "-m", "toolkit"]
    r = subprocess.run(cmd + ["export", str(tmp_path / "none.py:f"),
                        "-o", str(tmp_path / "o.bnm")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert r.stderr.startswith("error: model file not found") and "Traceback" not in r.stderr
