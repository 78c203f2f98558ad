"""End to end on the real Cortex-M images: `toolkit verify` starts QEMU itself
(no --port), streams a model's BN layers and compares with torch eval mode, on
every emulated board in every dtype."""
from __future__ import annotations

import json
import shutil

import pytest

from toolkit.cli import main

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and gcc-arm-none-eabi (apt-get install qemu-system-arm "
           "gcc-arm-none-eabi libnewlib-arm-none-eabi)")


QEMU_BOARDS = ["qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps3-an547",
               "qemu-netduinoplus2"]


@pytest.mark.parametrize("board", QEMU_BOARDS)
@pytest.mark.parametrize("dtype", ["f32", "s16", "s8"])
def test_verify_on_qemu(board, dtype, tmp_path):
    report = tmp_path / "report.json"
    code = main(["verify", "toolkit.examples.tiny:build", "--board", board,
                 "--dtype", dtype, "--input-shape", "3,12,12", "--samples", "4",
                 "--report", str(report)])
    assert code == 0
    result = json.loads(report.read_text())
    assert result["board"] == board
    assert len(result["layers"]) == 3
    assert all(layer["bit_exact"] for layer in result["layers"])


def test_verify_on_a_running_board_names_it(tmp_path):
    """With --port, the report names the board that answered (from INFO), not
    the --board default."""
    from toolkit.boards import get_board, start_board

    report = tmp_path / "report.json"
    with start_board(get_board("qemu-mps2-an500")) as session:
        code = main(["verify", "toolkit.examples.tiny:build", "--port", session.url,
                     "--dtype", "f32", "--samples", "2", "--report", str(report)])
    assert code == 0
    result = json.loads(report.read_text())
    assert result["board"] == "qemu-mps2-an500"
    assert all(layer["bit_exact"] for layer in result["layers"])


@pytest.mark.parametrize("board", ["qemu-mps2-an385", "qemu-mps2-an386"])
def test_nan_and_inf_inputs_meet_the_contract(board):
    """docs/format.md "NaN and infinity": NaN in gives NaN out (any NaN), inf*0
    gives NaN; the M3's soft float and the M4F's default NaN return other NaN
    bits than torch, and verify passes them while counting no mismatch."""
    import numpy as np
    import torch
    from torch import nn

    from toolkit.verify.run import verify

    bn = nn.BatchNorm2d(3).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, 0.0, -2.0]))     # channel 1: a = 0, so inf * 0
        bn.running_mean.copy_(torch.tensor([0.25, -1.0, 3.0]))
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    x[:, :, 0, 0] = np.float32(np.inf)
    x[:, :, 0, 1] = -np.float32(np.inf)
    x[:, :, 1, 0] = np.frombuffer(np.uint32(0x7FC01234).tobytes(), np.float32)[0]   # NaN with a payload
    x[:, :, 1, 1] = -np.float32(np.nan)
    rep = verify(nn.Sequential(bn), x, dtype="f32", board=board)
    (e,) = rep["layers"]
    assert e["pass"] and e["bit_exact"] and e["nan_mismatch"] == 0, e
    with torch.no_grad():
        want = bn(torch.from_numpy(x)).numpy()
    assert np.isnan(want[:, 1, 0, :2]).all()                   # torch: inf * 0 is NaN
