"""The runtime as a library, built on the host the two ways a user project
takes it: CMake (add_subdirectory(firmware), target bnrt) and the make
fragment firmware/bnrt.mk.  The switches select what is compiled in, and the
exactness flags reach the user's own sources."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolkit.format.csource import render
from toolkit.format.reader import read_model
from toolkit.format.writer import LayerBlob, write_model
from toolkit.protocol.client import Client

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "firmware"
DRIVER = ROOT / "tests" / "c" / "export_main.c"
S8_MODEL = ROOT / "examples" / "deploy"     # model.c / model.h, s8


def f32_model(folder: Path) -> Path:
    blob = write_model([LayerBlob("f32", "nchw", 4, {"a": np.ones(4, np.float32), "b": np.zeros(4, np.float32)},
                                  name="only")])
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in render(blob, folder / "model.c", "test").items():
        path.write_text(text)
    return folder


def run(exe: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], input=stdin, capture_output=True, timeout=30)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake (apt-get install cmake)")
def test_cmake_library_carries_switches_and_exactness_flags(tmp_path):
    (tmp_path / "CMakeLists.txt").write_text(f"""
cmake_minimum_required(VERSION 3.13)
project(user C)
add_subdirectory({FW} bnrt)
add_executable(app_s8 {DRIVER} {S8_MODEL}/model.c)
target_include_directories(app_s8 PRIVATE {S8_MODEL})
target_link_libraries(app_s8 PRIVATE bnrt)
add_executable(app_f32 {DRIVER} {f32_model(tmp_path / 'f32')}/model.c)
target_include_directories(app_f32 PRIVATE {tmp_path / 'f32'})
target_link_libraries(app_f32 PRIVATE bnrt)
""")
    b = tmp_path / "b"
    subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(b), "-DBNRT_DTYPES=s8", "-DBNRT_PROTOCOL=OFF",
                    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"], check=True, capture_output=True, timeout=120)
    subprocess.run(["cmake", "--build", str(b)], check=True, capture_output=True, timeout=300)
    crc = read_model(bytes.fromhex("".join(
        h[2:4] for h in (S8_MODEL / "model.c").read_text().split("= {", 1)[1].split() if h.startswith("0x")))).crc32
    assert run(b / "app_s8").stdout.split() == [b"OK", f"{crc:08x}".encode(), b"3", b"1"]
    r = run(b / "app_f32", "0", "1", "1", stdin=np.ones(4, np.float32).tobytes())
    assert r.returncode == 3 and r.stderr.strip() == b"ERR_UNSUPPORTED"      # f32 is compiled out
    commands = json.loads((b / "compile_commands.json").read_text())
    user = [c["command"] for c in commands if c["file"] == str(DRIVER)]
    assert user and all("-ffp-contract=off" in c and "-DBNRT_WITH_F32=0" in c for c in user)
    symbols = subprocess.run(["nm", str(b / "bnrt" / "libbnrt.a")], capture_output=True, text=True).stdout
    assert "bnrt_bn_affine_s8" in symbols
    assert "bnrt_bn_affine_f32" not in symbols and "bnrt_cmd_handle" not in symbols


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake (apt-get install cmake)")
def test_cmake_protocol_server_answers_info(tmp_path):
    (tmp_path / "CMakeLists.txt").write_text(f"""
cmake_minimum_required(VERSION 3.13)
project(user C)
set(BNRT_DTYPES "f32 s16")
set(BNRT_TRAIN OFF)
add_subdirectory({FW} bnrt)
add_executable(sim {FW}/ports/host/main.c {FW}/ports/host/hal_host.c)
target_include_directories(sim PRIVATE {FW}/ports/host)
target_link_libraries(sim PRIVATE bnrt)
""")
    b = tmp_path / "b"
    subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(b)], check=True, capture_output=True, timeout=120)
    subprocess.run(["cmake", "--build", str(b)], check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen([str(b / "sim"), "--tcp", "0", "--poll"], stdout=subprocess.PIPE, text=True)
    try:
        with Client(proc.stdout.readline().strip()) as c:
            info = c.info()
        assert info.dtypes == ["f32", "s16"] and not info.has("train")
    finally:
        proc.kill()
        proc.wait()


def test_make_fragment_builds_an_application(tmp_path):
    (tmp_path / "Makefile").write_text(f"""
BNRT_DTYPES := s8
BNRT_PROTOCOL := 0
include {FW}/bnrt.mk
app: {DRIVER} {S8_MODEL}/model.c $(BNRT_SRCS)
\tgcc $(BNRT_CFLAGS) -Wall -Werror -I{S8_MODEL} -o $@ $^ -lm
""")
    subprocess.run(["make", "-s", "-C", str(tmp_path), "app"], check=True, capture_output=True, timeout=300)
    assert run(tmp_path / "app").stdout.split()[0] == b"OK"
    r = subprocess.run(["make", "-s", "-C", str(tmp_path), "app", "BNRT_DTYPES=s9"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and 'BNRT_DTYPES: unknown dtype "s9"' in r.stderr
