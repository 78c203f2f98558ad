"""A model linked into the image (`toolkit build --model`) is active at boot:
verify it without uploading, replace it over serial, reset the emulated board
(QEMU's system reset) and the linked model is active again."""
from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import time

import pytest

from toolkit.cli import main

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and gcc-arm-none-eabi")

BOARD = "qemu-mps2-an386"
MODEL = "toolkit.examples.tiny:build"


def qmp_reset(path: str) -> None:
    """QEMU's system_reset through its QMP socket (as a reset button would)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        f = s.makefile("rw")
        json.loads(f.readline())                         # greeting
        for cmd in ("qmp_capabilities", "system_reset"):
            f.write(json.dumps({"execute": cmd}) + "\n")
            f.flush()
            while "return" not in (answer := json.loads(f.readline())):
                assert "error" not in answer, answer
    time.sleep(0.2)


def verify_no_upload(url: str, report) -> dict:
    code = main(["verify", MODEL, "--board", BOARD, "--port", url, "--no-upload", "--dtype", "f32",
                 "--samples", "3", "--report", str(report)])
    result = json.loads(report.read_text()) if report.exists() else {}
    assert code == 0, result
    return result


def test_linked_model_is_active_after_every_reset(tmp_path, capsys):
    from toolkit.boards import get_board
    from toolkit.firmware_build import build, config_for
    from toolkit.launchers import qemu
    from toolkit.protocol.client import Client

    f32, s8 = tmp_path / "f32.bnm", tmp_path / "s8.bnm"
    assert main(["export", MODEL, "-o", str(f32)]) == 0
    assert main(["export", MODEL, "-o", str(s8), "--dtype", "s8"]) == 0
    capsys.readouterr()
    assert main(["build", "--board", BOARD, "--model", str(f32), "--json"]) == 0
    built = json.loads(capsys.readouterr().out)[0]
    assert "boot model f32.bnm" in built["config"]

    board = get_board(BOARD)
    image = build(board, config=config_for(board), model=f32)
    assert str(image.elf) == built["elf"]
    sock = str(tmp_path / "qmp.sock")
    extra = [*board.get("qemu.extra_args", []), "-qmp", f"unix:{sock},server=on,wait=off"]
    board = dataclasses.replace(board, data={**board.data, "qemu": {**board.data["qemu"], "extra_args": extra}})
    session = qemu.start(board, elf=image.elf)
    try:
        assert session.info.has("boot_model")
        verify_no_upload(session.url, tmp_path / "r1.json")            # no upload: the linked model
        from toolkit.format.reader import read_model
        crc_f32, crc_s8 = (read_model(p.read_bytes()).crc32 for p in (f32, s8))
        with Client(session.url) as c:
            assert c.model_info(0).crc32 == crc_f32
            c.load(s8.read_bytes())                                    # LOAD replaces it ...
            assert c.model_info(0).crc32 == crc_s8
        assert main(["verify", MODEL, "--board", BOARD, "--port", session.url, "--no-upload",
                     "--samples", "3"]) == 1                           # ... so f32 no longer matches
        assert "CRC-32" in capsys.readouterr().err
        qmp_reset(sock)                                                # ... until a reset
        with Client(session.url) as c:
            assert c.model_info(0).crc32 == crc_f32
        result = verify_no_upload(session.url, tmp_path / "r2.json")
        assert result["uploaded"] is False and all(l["bit_exact"] for l in result["layers"])
    finally:
        session.stop()
