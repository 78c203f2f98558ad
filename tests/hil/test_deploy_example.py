"""examples/deploy: a user application built with CMake, the arm-none-eabi
toolchain file, the runtime library and an exported model.c, run on the
emulated MPS2 AN386.  Its printed outputs must equal the integer reference
(s8) and torch eval (f32) bit for bit; with bnrt_cmd_poll in its main loop it
still answers `toolkit verify`; without the protocol it fits in 4 KB."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from toolkit import reference
from toolkit.cli import main
from toolkit.format.reader import read_model

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc") and shutil.which("cmake")),
    reason="needs qemu-system-arm, gcc-arm-none-eabi and cmake")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "deploy"
BATCH, SPATIAL = 2, 3          # as in examples/deploy/main.c
FLASH_LIMIT = 4096


def cmake_build(build: Path, **options) -> Path:
    defs = [f"-D{k}={v}" for k, v in options.items()]
    subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(build),
                    f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'firmware/cmake/arm-none-eabi.cmake'}", *defs],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True, timeout=300)
    return build / "deploy.elf"


def flash_bytes(elf: Path) -> int:
    out = subprocess.run(["arm-none-eabi-size", str(elf)], check=True, capture_output=True,
                         text=True).stdout.splitlines()[1].split()
    return int(out[0]) + int(out[1])        # text (code + constants) + data's load image


def pattern(layer: int, n: int) -> np.ndarray:
    k = np.arange(n, dtype=np.int64)
    return ((k * 37 + layer * 11) % 256 - 128).astype(np.int32)


def parse(text: str, dtype) -> list[np.ndarray]:
    assert text.rstrip().endswith("done"), text
    rows = re.findall(r"^layer ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]*)$", text, re.M)
    assert [int(s, 16) for _, s, _ in rows] == [0] * len(rows)
    return [np.frombuffer(bytes.fromhex(h), dtype) for _, _, h in rows]


def blob_of(model_c: Path) -> bytes:
    body = model_c.read_text().split("= {", 1)[1]
    return bytes(int(h, 16) for h in re.findall(r"0x([0-9A-F]{2}),", body))


def test_s8_deploy_image_fits_4k_and_matches_the_integer_reference(tmp_path):
    elf = cmake_build(tmp_path / "b", DEPLOY_SERVE="OFF")
    assert flash_bytes(elf) <= FLASH_LIMIT
    r = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
                        "-semihosting-config", "enable=on,target=native", "-kernel", str(elf),
                        "-serial", "stdio"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    outputs = parse(r.stdout, np.int8)
    m = read_model(blob_of(EXAMPLE / "model.c"))
    assert len(outputs) == len(m.layers) == 3
    for i, (layer, got) in enumerate(zip(m.layers, outputs)):
        x = pattern(i, BATCH * layer.channels * SPATIAL).astype(np.int8).reshape(BATCH, layer.channels, SPATIAL)
        want = reference.bn_affine_int(x, layer.params["mult"], layer.params["bias"], layer.shift, "s8", "nchw")
        assert np.array_equal(got, want.reshape(-1)), f"layer {i}"


def read_until_done(port: int, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline, "QEMU does not listen"
            time.sleep(0.05)
    text = b""
    with s:
        while not text.endswith(b"done\n"):
            assert time.monotonic() < deadline, text
            chunk = s.recv(4096)
            assert chunk, text
            text += chunk
    return text.decode()


def test_f32_deploy_matches_torch_eval_and_answers_verify(tmp_path):
    import torch

    from toolkit.boards import get_board
    from toolkit.examples import tiny
    from toolkit.launchers.qemu import free_port, qemu_command
    from toolkit.model.export import export

    torch.set_num_threads(1)
    model = tiny.build()
    bnm = tmp_path / "tiny.bnm"
    export(model).save(bnm)
    assert main(["export", str(bnm), "-o", str(tmp_path / "model.c")]) == 0
    elf = cmake_build(tmp_path / "b", DEPLOY_SERVE="ON", BNRT_DTYPES="f32", MODEL_DIR=str(tmp_path))
    port = free_port()
    proc = subprocess.Popen(qemu_command(get_board("qemu-mps2-an386"), elf, port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        outputs = parse(read_until_done(port), np.float32)
        for i, (bn, got) in enumerate(zip((model.bn1, model.bn2, model.bn3), outputs)):
            c = bn.num_features
            x = torch.from_numpy(pattern(i, BATCH * c * SPATIAL).astype(np.float32) * np.float32(0.03125))
            shape = (BATCH, c, SPATIAL, 1) if isinstance(bn, torch.nn.BatchNorm2d) else (BATCH, c, SPATIAL)
            x = x.reshape(shape)
            with torch.no_grad():
                want = bn(x).numpy().reshape(-1)
            assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), f"layer {i}"
        # The application keeps running and serves verify on its own model.
        url = f"socket://127.0.0.1:{port}"
        assert main(["verify", "toolkit.examples.tiny:build", "--port", url, "--no-upload",
                     "--dtype", "f32", "--samples", "3"]) == 0
    finally:
        proc.kill()
        proc.wait()
