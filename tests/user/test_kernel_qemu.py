"""`toolkit verify --kernel` on the emulated Cortex-M4F (qemu-mps2-an386): the
user's file cross-compiled into the harness image; a sample of the catalogue
is diagnosed as on the host, a correct kernel is bit-exact, a crash is a
HardFault reported as such."""
from __future__ import annotations

import shutil

import bn_model
import pytest
from user_helpers import CATALOGUE, KERNELS

from toolkit.verify.kernel import verify_kernel

BOARD = "qemu-mps2-an386"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc and qemu-system-arm")]


@pytest.fixture(scope="module")
def model_and_inputs():
    return bn_model.build(), bn_model.example_inputs().numpy()


def run(model_and_inputs, stem, **kw):
    model, x = model_and_inputs
    return verify_kernel(model, x, f"{KERNELS / stem}.c:my_bn", board=BOARD, **kw)


@pytest.mark.parametrize("stem", ["eps_missing", "running_stats_ignored", "batch_stats", "channel_layout",
                                  "correct_unfused"])
def test_wrong_kernel_is_diagnosed_on_the_m4(model_and_inputs, stem):
    report = run(model_and_inputs, stem)
    assert report["board"] == BOARD and not report["pass"]
    for e in report["layers"]:
        expected = "precision" if stem == "channel_layout" and e["spatial"] == 1 else CATALOGUE[stem]
        assert e["diagnosis"]["mistake"] == expected, (e["name"], e["diagnosis"]["explanation"])


def test_correct_kernel_is_bit_exact_on_the_m4(model_and_inputs):
    report = run(model_and_inputs, "correct_fma")
    assert report["pass"] and all(e["bit_exact"] for e in report["layers"])
    assert all(e["device_ticks"] > 0 for e in report["layers"])     # instructions counted


def test_crash_is_a_hardfault(model_and_inputs):
    first = run(model_and_inputs, "crash")["layers"][0]
    assert first["error"] == "crash" and "HardFault" in first["fail_reasons"][0]


def test_endless_loop_is_a_hang_and_qemu_is_stopped(model_and_inputs):
    first = run(model_and_inputs, "hang", call_timeout=1.0)["layers"][0]
    assert first["error"] == "hang" and "the board was stopped" in first["fail_reasons"][0]


def test_batch_split_over_several_calls_on_a_small_board():
    """qemu-netduinoplus2 (128 KiB RAM) takes 1536 floats per call: 32 samples
    of the 120-float BN2d input need three calls, and the batch statistics
    the wrong kernel computes are those of each call."""
    import numpy as np

    model = bn_model.build()
    x = np.random.default_rng(3).standard_normal((32, 4, 6, 5)).astype(np.float32)
    report = verify_kernel(model, x, f"{KERNELS / 'batch_stats'}.c:my_bn", board="qemu-netduinoplus2")
    bn2d = report["layers"][0]
    assert len(bn2d["calls"]) == 3
    assert all(e["diagnosis"]["mistake"] == "batch_stats" for e in report["layers"])
    good = verify_kernel(model, x, f"{KERNELS / 'correct_fma'}.c:my_bn", board="qemu-netduinoplus2")
    assert good["pass"]


def test_more_channels_than_the_harness_holds():
    import torch
    from user_helpers import inputs, make_bn

    model = torch.nn.Sequential(make_bn(2000, dims=1))
    report = verify_kernel(model, inputs((4, 2000)), f"{KERNELS / 'correct_fma'}.c:my_bn", board=BOARD)
    layer = report["layers"][0]
    assert not report["pass"] and "2000 channels are more than the harness" in layer["fail_reasons"][0]


@pytest.mark.parametrize("stem, mistake", [("correct_s8", None), ("running_stats_ignored_s8", "running_stats_ignored")])
def test_s8_signature_on_the_m4(model_and_inputs, stem, mistake):
    report = run(model_and_inputs, stem, dtype="s8")
    for e in report["layers"]:
        if mistake is None:
            assert e["pass"] and e["max_lsb_err"] <= 1
        else:
            assert e["diagnosis"]["mistake"] == mistake
