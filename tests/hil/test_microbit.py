"""The BBC micro:bit under QEMU with Debian's MicroPython 1.9.2 (about 9 KB of
heap, single-precision floats): `toolkit verify` bit-exact in s8 and s16
against torch eval through the small-board module micropython/bnrt_tiny*.py,
`toolkit flash` keeping a model that every start writes into the micro:bit's
flash, and f32 refused with a clear error."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from toolkit.cli import main

BOARD = "qemu-microbit-micropython"
HEX = Path("/usr/share/firmware-microbit-micropython/firmware.hex")

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-objcopy") and HEX.is_file()),
    reason="needs qemu-system-arm, binutils-arm-none-eabi and firmware-microbit-micropython "
           "(apt-get install qemu-system-arm gcc-arm-none-eabi firmware-microbit-micropython)")


@pytest.mark.parametrize("dtype,layout", [("s8", "nchw"), ("s16", "nchw"), ("s8", "nhwc")])
def test_verify_on_the_microbit(dtype, layout, tmp_path):
    report = tmp_path / "report.json"
    code = main(["verify", "toolkit.examples.tiny:build", "--board", BOARD, "--dtype", dtype,
                 "--layout", layout, "--input-shape", "3,12,12", "--samples", "2",
                 "--report", str(report)])
    assert code == 0
    result = json.loads(report.read_text())
    assert result["board"] == BOARD
    assert len(result["layers"]) == 3 and all(l["bit_exact"] for l in result["layers"])


def test_flash_keeps_the_model_for_the_next_start(tmp_path, monkeypatch):
    from toolkit.boards import get_board, start_board
    from toolkit.protocol.client import Client

    monkeypatch.setenv("BUILD", str(tmp_path / "build"))
    model = tmp_path / "tiny.bnm"
    assert main(["export", "toolkit.examples.tiny:build", "--dtype", "s8", "-o", str(model)]) == 0
    assert main(["flash", "--board", BOARD, str(model), "--json"]) == 0
    with start_board(get_board(BOARD)) as session, Client(session.url, timeout=5.0) as client:
        info = client.model_info(0)
    assert info.dtype == "s8" and info.channels == 8


def test_f32_is_refused_with_a_clear_error(capsys):
    code = main(["verify", "toolkit.examples.tiny:build", "--board", BOARD, "--dtype", "f32",
                 "--input-shape", "3,12,12", "--samples", "1"])
    assert code != 0
    assert "does not run f32" in capsys.readouterr().err
