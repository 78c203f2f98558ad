"""The board tooling around the firmware: board.toml as make reads it,
`toolkit boards`, `toolkit build` memory figures, `toolkit flash` / --stop."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from toolkit.boards import load_boards
from toolkit.cli import main
from toolkit.protocol.client import Client
from toolkit.resources import firmware_dir

ARM_BOARDS = [n for n, b in load_boards().items() if b.kind in ("qemu", "serial")]
AWK = firmware_dir() / "ports" / "cortex-m" / "toml.awk"
# Every key firmware/mk/arm.mk reads with toml.awk.
MAKE_KEYS = ["kind", "cpu", "fpu", "clock_hz", "memory.flash_origin", "memory.flash_size",
             "memory.ram_origin", "memory.ram_size", "uart.driver", "uart.base", "uart.irq",
             "uart.baud", "counter.source", "counter.kind", "counter.hz", "build.float_abi",
             "build.irq_count", "build.max_payload", "build.model_slot_size"]
needs_cross = pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"),
                                 reason="needs gcc-arm-none-eabi libnewlib-arm-none-eabi")


@pytest.mark.parametrize("name", ARM_BOARDS)
def test_make_reads_board_toml_as_tomllib_does(name):
    board = load_boards()[name]
    for dotted in MAKE_KEYS:
        sec, _, key = dotted.rpartition(".")
        out = subprocess.run(["awk", "-v", f"sec={sec}", "-v", f"key={key}", "-f", str(AWK),
                              str(board.path / "board.toml")], capture_output=True, text=True).stdout.strip()
        want = board.get(dotted)
        assert want is not None, f"{name}: board.toml lacks {dotted}"
        assert (int(out, 0) if isinstance(want, int) else out) == want, dotted


def test_boards_json_lists_every_board(capsys):
    assert main(["boards", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == sorted(load_boards())
    by_name = {r["name"]: r for r in rows}
    assert by_name["qemu-mps2-an385"]["fpu"] == "none"
    assert by_name["nucleo-f446re"]["emulated"] is False


@needs_cross
def test_build_reports_memory_within_the_board(capsys):
    assert main(["build", "--board", "all", "--json"]) == 0
    images = json.loads(capsys.readouterr().out)
    assert sorted(im["board"] for im in images) == sorted(ARM_BOARDS)
    for im in images:
        board = load_boards()[im["board"]]
        slots = 2 * board.get("build.model_slot_size")
        assert 0 < im["flash_used"] <= im["flash_size"] == board.get("memory.flash_size")
        assert slots < im["ram_used"] <= im["ram_size"] == board.get("memory.ram_size")


def test_build_rejects_a_board_without_an_image(capsys):
    assert main(["build", "--board", "host-sim"]) == 3
    assert "no Cortex-M image" in capsys.readouterr().err


@needs_cross
@pytest.mark.skipif(not shutil.which("qemu-system-arm"), reason="needs qemu-system-arm")
def test_flash_leaves_qemu_running_until_stop(tmp_path, capsys, monkeypatch):
    import numpy as np

    from toolkit.format.writer import LayerBlob, write_model

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    model = tmp_path / "m.bnm"
    a, b = np.arange(1, 4, dtype=np.float32), np.zeros(3, np.float32)
    model.write_bytes(write_model([LayerBlob("f32", "nchw", 3, {"a": a, "b": b})]))
    try:
        assert main(["flash", "--board", "qemu-mps2-an386", str(model), "--json"]) == 0
        state = json.loads(capsys.readouterr().out)
        assert state["commit"][1] == 1
        with Client(state["url"]) as client:      # the emulator outlived the command
            x = np.ones((1, 3, 2), np.float32)
            assert client.run(0, x, 2).output.tolist() == [[[1, 1], [2, 2], [3, 3]]]
        assert main(["flash", "--board", "qemu-mps2-an386", "--model-only", str(model), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["pid"] == state["pid"]
    finally:
        assert main(["flash", "--stop", "--json"]) == 0
    stopped = json.loads(capsys.readouterr().out)
    assert [s["pid"] for s in stopped] == [state["pid"]]
