"""Reliability on an emulated Cortex-M board (QEMU, real firmware image):
damaged uploads through LOAD, and uploads interrupted by a dropped connection
or a killed emulator."""
from __future__ import annotations

import shutil

import pytest

from toolkit.errors import ProtocolError
from toolkit.format import spec
from toolkit.protocol.client import Client

from rel_helpers import (X, corruption_blobs, expected_flip_status, expected_output, flipped, mixed_model,
                         new_model, status_of, upload_frames)

BOARD = "qemu-mps2-an386"
FLIP_STRIDE = 3

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/setup-and-test.sh installs them)")


@pytest.fixture(scope="module")
def qemu():
    from toolkit.boards import get_board, start_board
    with start_board(get_board(BOARD)) as session:
        yield session


def start_qemu():
    from toolkit.boards import get_board, start_board
    return start_board(get_board(BOARD))


def test_damaged_uploads_rejected_with_parser_status(qemu):
    """Every truncation and every FLIP_STRIDE-th single-bit flip of the
    smallest golden blob: the board names the status the format predicts, and
    the previously loaded model stays active."""
    name, blob = corruption_blobs()[0]
    wrong, tried = [], 0
    with Client(qemu.url) as c:
        crc, layers = c.load(blob)
        cases = [(f"truncated to {n}", blob[:n], "ERR_TRUNCATED" if n else "ERR_ARG") for n in range(len(blob))]
        cases += [(f"bit {i % 8} of byte {i // 8}", flipped(blob, i // 8, i % 8),
                   expected_flip_status(blob, i // 8, i % 8)) for i in range(0, len(blob) * 8, FLIP_STRIDE)]
        for what, damaged, expected in cases:
            try:
                c.load(damaged)
                got = "OK"
            except ProtocolError as e:
                got = status_of(e)
            tried += 1
            if got != expected:
                wrong.append(f"{what}: {got}, expected {expected}")
        info = c.model_info(0)
    assert not wrong, f"{name}: {len(wrong)} of {tried} misjudged:\n" + "\n".join(wrong[:20])
    assert (info.crc32, info.layer_count) == (crc, layers)


@pytest.mark.parametrize("cut_after", [1, 3, "all-chunks"])
def test_connection_dropped_mid_upload_keeps_old_model(qemu, cut_after):
    old, new = mixed_model(), new_model()
    frames = upload_frames(new)
    k = len(frames) - 1 if cut_after == "all-chunks" else cut_after
    with Client(qemu.url) as c:
        c.load(old)
        for cmd, payload in frames[:k]:
            c.request(cmd, payload)
    with Client(qemu.url) as c:                     # a new TCP connection
        info = c.model_info(0)
        assert info.crc32 == spec.file_crc(old)
        got = c.run(0, X, spatial=X.shape[2]).output
        assert got.tobytes() == expected_output(old).tobytes()
        for cmd, payload in frames:                 # the update still works afterwards
            c.request(cmd, payload)
        assert c.model_info(0).crc32 == spec.file_crc(new)


def test_emulator_killed_mid_upload_restarts_without_a_half_model():
    """Models live in RAM: a killed board comes back with no model, never a
    partial one (a flash-backed slot pair would keep the old one, see docs)."""
    old, new = mixed_model(), new_model()
    frames = upload_frames(new)
    session = start_qemu()
    try:
        with Client(session.url) as c:
            c.load(old)
            for cmd, payload in frames[:3]:
                c.request(cmd, payload)
    finally:
        session.proc.kill()
        session.stop()
    with start_qemu() as again, Client(again.url) as c:
        with pytest.raises(ProtocolError) as e:
            c.model_info(0)
        assert status_of(e.value) == "ERR_NO_MODEL"
        c.load(new)
        assert c.model_info(0).crc32 == spec.file_crc(new)


def test_answers_info_after_garbage(qemu):
    """64 KiB of random bytes (the emulated UART moves about 40 KB/s; host-sim
    takes the full MiB in test_fault_injection.py)."""
    import numpy as np
    import serial

    blob = mixed_model()
    with Client(qemu.url) as c:
        crc, _ = c.load(blob)
    rng = np.random.default_rng(42)
    with serial.serial_for_url(qemu.url, timeout=0) as raw:
        for _ in range(16):
            raw.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
            raw.read(1 << 16)
        raw.timeout = 0.3
        while raw.read(1 << 16):
            pass
    with Client(qemu.url) as c:
        assert c.info().name == BOARD
        assert c.model_info(0).crc32 == crc
