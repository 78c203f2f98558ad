"""`toolkit verify --board micropython-unix` in f32/s16/s8, and the mpremote
install path that `toolkit flash` uses for MicroPython boards."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from toolkit import reference
from toolkit.boards import get_board
from toolkit.cli import main
from toolkit.format.writer import LayerBlob, write_model
from toolkit.launchers import micropython as mp_launcher
from toolkit.protocol.client import Client

from mpy_helpers import needs_micropython

pytestmark = needs_micropython


@pytest.mark.parametrize("dtype,layout", [("f32", "nchw"), ("s16", "nhwc"), ("s8", "nchw")])
def test_toolkit_verify(dtype, layout, tmp_path):
    report = tmp_path / "report.json"
    code = main(["verify", "--board", "micropython-unix", "--dtype", dtype, "--layout", layout,
                 "--samples", "2", "--report", str(report), "toolkit/examples/tiny.py:build"])
    assert code == 0
    assert report.is_file()


@pytest.mark.skipif(shutil.which("mpremote") is None, reason="needs mpremote (pip install mpremote)")
def test_install_with_mpremote_then_serve(tmp_path):
    board = get_board("micropython-unix")
    C = 4
    mult, bias = np.arange(1, C + 1, dtype=np.int32), np.array([0, 5, -7, 9], np.int32)
    blob = write_model([LayerBlob("s8", "nhwc", C, {"mult": mult, "bias": bias},
                                  in_scale=0.5, out_scale=0.5, shift=1, name="only")])
    model = tmp_path / "m.bnm"
    model.write_bytes(blob)
    fs = tmp_path / "fs"
    names = mp_launcher.install(board, model_path=model, fs=fs)
    assert set(names) == {f"{m}.mpy" for m in mp_launcher.MODULES} | {mp_launcher.MODEL_FILE}
    assert (fs / mp_launcher.MODEL_FILE).read_bytes() == blob
    with mp_launcher.start(board, fs=fs) as session, Client(session.url) as c:
        info = c.model_info(0)                       # loaded from model.bnm at start, no upload
        assert (info.dtype, info.layout, info.channels) == ("s8", "nhwc", C)
        q = np.array([[3, -2, 100, -128]], np.int8)
        np.testing.assert_array_equal(c.run(0, q, spatial=1).output,
                                      reference.bn_affine_int(q, mult, bias, 1, "s8", "nhwc"))


@pytest.mark.skipif(shutil.which("mpremote") is None, reason="needs mpremote (pip install mpremote)")
def test_toolkit_flash_then_verify(tmp_path, capsys):
    """`toolkit flash --board micropython-unix MODEL` installs the module and the
    model with mpremote; the board then serves that model without an upload,
    and `toolkit verify` passes on it."""
    model = tmp_path / "tiny.bnm"
    assert main(["export", "toolkit.examples.tiny:build", "-o", str(model), "--dtype", "s8"]) == 0
    assert main(["flash", "--board", "micropython-unix", str(model)]) == 0
    assert "installed" in capsys.readouterr().out
    blob = model.read_bytes()
    board = get_board("micropython-unix")
    with mp_launcher.start(board) as session, Client(session.url) as c:
        info = c.model_info(0)
        assert info.crc32 == int.from_bytes(blob[8:12], "little")
        assert info.layer_count == 3
    for dtype in ("f32", "s16", "s8"):
        assert main(["verify", "--board", "micropython-unix", "--dtype", dtype, "--samples", "2",
                     "toolkit.examples.tiny:build"]) == 0
