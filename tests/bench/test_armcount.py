"""The unicorn instruction counter against counts derived independently from
the disassembly of small loops we compile ourselves."""
from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from toolkit.bench import armcount
from toolkit.bench.elf import Elf

pytestmark = pytest.mark.skipif(not armcount.have_toolchain(),
                                reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi)")

SRC = r"""
#include <stdint.h>
void scale_s32(const int32_t *x, int32_t *y, uint32_t n, int32_t m) {
    for (uint32_t i = 0; i < n; i++) y[i] = x[i] * m;
}
int32_t dot_shift(const int16_t *x, const int16_t *w, uint32_t n, uint32_t s) {
    int32_t acc = 0;
    for (uint32_t i = 0; i < n; i++) acc += (x[i] * w[i]) >> s;
    return acc;
}
"""


@pytest.fixture(scope="module", params=["m3", "m4"])
def image(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"loop_{request.param}")
    (d / "loops.c").write_text(SRC)
    elf = armcount.build_image(request.param, [d / "loops.c"], ["scale_s32", "dot_shift"], d,
                               opt="-O2", extra_cflags=["-fno-unroll-loops"])
    return request.param, elf


def _loop_length(elf, sym):
    insns = armcount.disassemble(elf, sym)
    loops = armcount.backward_loops(insns)
    assert len(loops) == 1, loops
    start, end = loops[0]
    return sum(1 for a, _ in insns if start <= a <= end)


def test_scale_loop_matches_disassembly(image):
    core, elf = image
    m = armcount.Machine(elf, core)
    counts = {}
    for n in (40, 100):
        x = m.alloc(struct.pack(f"<{n}i", *range(-n, 0)))
        y = m.alloc(bytes(4 * n))
        counts[n] = m.call("scale_s32", [x, y, n, -7]).instructions
        assert struct.unpack(f"<{n}i", m.read(y, 4 * n)) == tuple(-7 * v for v in range(-n, 0))
    per = armcount.per_element(counts[40], counts[100], 40, 100)
    assert per == _loop_length(elf, "scale_s32")


def test_dot_loop_matches_disassembly_and_returns(image):
    core, elf = image
    m = armcount.Machine(elf, core)
    counts = {}
    for n in (32, 96):
        xs = [(i * 37) % 200 - 100 for i in range(n)]
        ws = [(i * 11) % 50 - 25 for i in range(n)]
        x = m.alloc(struct.pack(f"<{n}h", *xs))
        w = m.alloc(struct.pack(f"<{n}h", *ws))
        res = m.call("dot_shift", [x, w, n, 3])
        counts[n] = res.instructions
        want = sum((a * b) >> 3 for a, b in zip(xs, ws))
        assert struct.unpack("<i", struct.pack("<I", res.ret))[0] == want
    assert armcount.per_element(counts[32], counts[96], 32, 96) == _loop_length(elf, "dot_shift")


def test_hot_loop_lists_the_loop_body(image):
    core, elf = image
    m = armcount.Machine(elf, core)
    n = 64
    res = m.call("scale_s32", [m.alloc(bytes(4 * n)), m.alloc(bytes(4 * n)), n, 1])
    hot = armcount.hot_loop(armcount.disassemble(elf, "scale_s32"), res.hot, n)
    assert len(hot) == _loop_length(elf, "scale_s32")
    assert all(c == 1.0 for _, _, c in hot)


@pytest.mark.skipif(shutil.which("arm-none-eabi-nm") is None, reason="needs arm-none-eabi-nm")
def test_elf_reader_agrees_with_nm(image):
    _, elf_path = image
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf_path)], capture_output=True,
                         text=True, check=True).stdout
    elf = Elf.read(elf_path)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt" and parts[3] in ("scale_s32", "dot_shift"):
            sym = elf.symbol(parts[3])
            assert sym.value & ~1 == int(parts[0], 16) & ~1
            assert sym.size == int(parts[1], 16)
