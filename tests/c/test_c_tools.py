"""The core under AddressSanitizer + UndefinedBehaviorSanitizer (tests/c/driver.c),
and the Cortex-M builds (`make arm-size`: must compile warning-free)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from bnrt_cases import random_input, random_layer, same_bits
from test_c_kernels import expected, tensor_shape
from test_c_parser import small_model, with_crc
from toolkit.format.reader import validation_status
from toolkit.format.writer import write_model
from toolkit.resources import firmware_dir

FIRMWARE = firmware_dir()
NP = {"f32": np.float32, "s8": np.int8, "s16": np.int16}


def make(*targets: str) -> str:
    proc = subprocess.run(["make", "-s", "-C", str(FIRMWARE), *targets],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_sanitizers_find_nothing(tmp_path):
    make("sanitize")
    driver = FIRMWARE / "build" / "host" / "bnrt_driver_san"
    rng = np.random.default_rng(6)
    lines, checks = [], []

    # loads: truncations, raw and re-CRC'd bit flips, misaligned copies
    blob = small_model()
    for i in range(160):
        bad = bytearray(blob)
        if i < 40:
            bad = bad[:int(rng.integers(0, len(blob)))]
        else:
            bit = int(rng.integers(0, len(blob) * 8))
            bad[bit // 8] ^= 1 << (bit % 8)
        case = with_crc(bad) if i % 2 and len(bad) >= 32 else bytes(bad)
        path = tmp_path / f"load{i}.bnm"
        path.write_bytes(case)
        misalign = int(rng.integers(1, 8)) if i % 10 == 0 else 0
        lines.append(f"L {path} {misalign}")
        want = "ERR_ALIGN" if misalign else validation_status(case)
        checks.append(("status", want))

    # runs: random valid layers, whole tensors and random windows
    for i in range(140):
        dtype = ("f32", "s8", "s16")[i % 3]
        layout = ("nchw", "nhwc")[i // 3 % 2]
        C, batch, sp = int(rng.integers(1, 20)), int(rng.integers(0, 4)), int(rng.integers(1, 9))
        layer = random_layer(rng, dtype, layout, C, fused=bool(i % 2))
        x = random_input(rng, dtype, tensor_shape(layout, batch, C, (sp,)))
        want = expected(layer, x).ravel()
        flat = x.ravel()
        path = tmp_path / f"run{i}.bnm"
        path.write_bytes(write_model([layer]))
        first = int(rng.integers(0, flat.size + 1))
        last = int(rng.integers(first, flat.size + 1))
        inp, out = tmp_path / f"in{i}", tmp_path / f"out{i}"
        if i % 4 == 0:
            inp.write_bytes(flat.tobytes())
            lines.append(f"W {path} 0 {batch} {sp} {inp} {out}")
            checks.append(("run", out, want, dtype))
        else:
            inp.write_bytes(flat[first:last].tobytes())
            lines.append(f"R {path} 0 {sp} {first} {last - first} {inp} {out}")
            checks.append(("run", out, want[first:last], dtype))

    env = dict(os.environ, ASAN_OPTIONS="abort_on_error=0:halt_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    proc = subprocess.run([str(driver)], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
    results = proc.stdout.splitlines()
    assert len(results) == len(checks)
    for line, result, check in zip(lines, results, checks):
        words = result.split()
        if check[0] == "status":
            assert words[0] == check[1], line
            if words[0] == "OK":
                assert words[1:] == ["OK"] * (len(words) - 2) + ["ERR_LAYER"]
        else:
            _, out, want, dtype = check
            assert words == ["OK", "OK"], line
            got = np.frombuffer(out.read_bytes(), NP[dtype]) if want.size else want
            assert same_bits(got, want), line


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                    reason="arm-none-eabi-gcc not installed (scripts/setup-and-test.sh installs it)")
def test_cortex_m_builds_compile_warning_free():
    out = make("arm-size")                  # -Werror: any warning fails the build
    totals = re.findall(r"^== (\S+)\n.*?^\s*(\d+)\s+\d+\s+\d+\s+\d+\s+\w+\s+\(TOTALS\)",
                        out, re.M | re.S)
    assert [core for core, _ in totals] == ["cortex-m3", "cortex-m4", "cortex-m7"], out
    assert all(int(text) > 0 for _, text in totals)
