"""`toolkit verify --kernel` on host-sim: every deliberately wrong kernel in
tests/user/kernels fails with the right diagnosis, a correct one passes bit
for bit, compile errors, crashes and endless loops are reported cleanly.
torch eval (inside verify_kernel, on the model's own modules) is the reference."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import bn_model
import pytest
from user_helpers import CATALOGUE, KERNELS

from toolkit.verify.kernel import verify_kernel

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                                reason="needs gcc and make")
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def model_and_inputs():
    return bn_model.build(), bn_model.example_inputs().numpy()


def run(model_and_inputs, stem, **kw):
    model, x = model_and_inputs
    return verify_kernel(model, x, f"{KERNELS / stem}.c:my_bn", board="host-sim", **kw)


@pytest.mark.parametrize("stem", sorted(CATALOGUE))
def test_wrong_kernel_is_diagnosed(model_and_inputs, stem):
    report = run(model_and_inputs, stem)
    assert not report["pass"]
    for e in report["layers"]:
        d = e["diagnosis"]
        assert not e["pass"] and not e["bit_exact"]
        # (N, C) input: channel i % C is the right channel, so the NHWC mistake is invisible there
        expected = "precision" if stem == "channel_layout" and e["spatial"] == 1 else CATALOGUE[stem]
        assert d["mistake"] == expected, (e["name"], d["explanation"])
        assert d["channels"], e["name"]


def test_correct_kernel_is_bit_exact(model_and_inputs):
    report = run(model_and_inputs, "correct_fma")
    assert report["pass"]
    assert all(e["bit_exact"] and e["max_ulp_err"] == 0 and "diagnosis" not in e for e in report["layers"])


def test_unfused_kernel_is_precision_and_passes_with_one_ulp(model_and_inputs):
    strict = run(model_and_inputs, "correct_unfused_torch")
    assert not strict["pass"]
    assert {e["diagnosis"]["mistake"] for e in strict["layers"]} == {"precision"}
    assert run(model_and_inputs, "correct_unfused_torch", max_ulp=1)["pass"]


def test_crash_is_reported_and_the_rest_not_run(model_and_inputs, tmp_path):
    report = run(model_and_inputs, "crash")
    first, *rest = report["layers"]
    assert first["error"] == "crash" and "SIGSEGV" in first["fail_reasons"][0]
    assert rest and all(e["fail_reasons"][0].startswith("not run") for e in rest)
    from toolkit.verify.plot import write_plot
    from toolkit.verify.report import write_json, write_junit
    write_json(report, tmp_path / "r.json")
    write_junit(report, tmp_path / "r.xml")
    write_plot(report, tmp_path / "r.png")          # layers that did not run have no errors to plot
    assert json.loads((tmp_path / "r.json").read_text())["layers"][0]["error"] == "crash"
    assert (tmp_path / "r.png").stat().st_size > 0


def test_endless_loop_is_a_hang_and_the_board_is_stopped(model_and_inputs):
    report = run(model_and_inputs, "hang", call_timeout=1.0)
    first = report["layers"][0]
    assert first["error"] == "hang" and "did not return within 1 s" in first["fail_reasons"][0]
    leftover = subprocess.run(["pgrep", "-f", "bnrt-user-sim"], capture_output=True, text=True,
                              check=False).stdout.split()
    mine = [p for p in leftover if Path(f"/proc/{p}/status").exists() and
            f"PPid:\t{os.getpid()}" in Path(f"/proc/{p}/status").read_text()]
    assert not mine, "the hanging harness is still running"


def _cli(*args, cwd=HERE):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "toolkit", "verify", "bn_model.py:build", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False)


def test_cli_report_junit_and_exit_code(tmp_path):
    r = _cli("--kernel", "kernels/eps_outside_sqrt.c:my_bn", "--report", str(tmp_path / "r.json"),
             "--junit", str(tmp_path / "r.xml"))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert "eps_outside_sqrt (all channels): equal to 0 ULP to" in r.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    d = rep["layers"][0]["diagnosis"]
    assert set(d) >= {"mistake", "explanation", "channels"} and d["mistake"] == "eps_outside_sqrt"
    assert rep["kernel"] == "kernels/eps_outside_sqrt.c:my_bn"
    cases = ET.parse(tmp_path / "r.xml").getroot().iter("testcase")
    assert all(c.find("failure") is not None for c in cases)


def test_cli_compile_error_shows_the_compiler(tmp_path):
    r = _cli("--kernel", "kernels/syntax_error.c:my_bn", "--report", str(tmp_path / "r.json"))
    assert r.returncode == 8, r.stderr
    assert "Traceback" not in r.stderr
    assert "kernels/syntax_error.c:7" in r.stderr                   # the compiler's own message
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: kernels/syntax_error.c:my_bn does not build for host-sim:") and "; " in last
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("kernel, message", [
    ("kernels/correct_fma.c:no_such_fn", "no_such_fn"),
    ("kernels/missing.c:my_bn", "does not exist"),
    ("kernels/correct_fma.c", "no function name"),
])
def test_cli_bad_kernel_argument(kernel, message):
    r = _cli("--kernel", kernel)
    assert r.returncode in (3, 8) and message in r.stderr and "Traceback" not in r.stderr


def _host_has_fma() -> bool:
    try:
        return " fma " in f" {Path('/proc/cpuinfo').read_text()} "
    except OSError:
        return False


@pytest.mark.skipif(not _host_has_fma(), reason="the host CPU has no FMA instruction to contract into")
def test_kernel_cflags_reach_the_users_code(model_and_inputs):
    """-ffp-contract=fast turns the unfused x*a + (b - m*a) into torch's two fmas: bit-exact."""
    assert run(model_and_inputs, "correct_unfused_torch", cflags="-ffp-contract=fast")["pass"]


def test_cli_bad_kernel_cflags():
    r = _cli("--kernel", "kernels/correct_fma.c:my_bn", "--kernel-cflags", "-Wno-such-flag=3 -mno-such")
    assert r.returncode == 8 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: --kernel-cflags")


def test_outputs_never_written_are_counted(model_and_inputs):
    """The harness fills y with NaN first: a kernel that skips samples 1.. leaves them."""
    report = run(model_and_inputs, "batch_ignored")
    x = model_and_inputs[1]
    for e in report["layers"]:
        per_sample = e["elements"] // x.shape[0]
        assert e["unwritten"] == e["elements"] - per_sample
        assert any("never written" in r for r in e["fail_reasons"])
        assert e["diagnosis"]["mistake"] == "unknown"


@pytest.mark.parametrize("stem, mistake", [("correct_s8", None), ("running_stats_ignored_s8", "running_stats_ignored"),
                                           ("weight_bias_swapped_s8", "weight_bias_swapped")])
def test_s8_signature(model_and_inputs, stem, mistake):
    """The s8 variant: quantized with export's parameters, compared within 1 LSB
    of the exact result (the float64 BN of the dequantized input, quantized)."""
    report = run(model_and_inputs, stem, dtype="s8")
    assert report["dtype"] == "s8"
    for e in report["layers"]:
        assert set(e["quantization"]) == {"in_scale", "in_zero_point", "out_scale", "out_zero_point"}
        if mistake is None:
            assert e["pass"] and e["max_lsb_err"] <= 1
        else:
            assert not e["pass"] and e["diagnosis"]["mistake"] == mistake


def test_cli_wrong_signature_for_the_dtype():
    r = _cli("--kernel", "kernels/correct_fma.c:my_bn", "--dtype", "s8")
    assert r.returncode == 8 and "Traceback" not in r.stderr
    assert "does not have the s8 signature of bnrt_user.h" in r.stderr.strip().splitlines()[-1]
