"""The Cortex-M4 s8 DSP loops docs/runtime.md cites as measurements: bit-exact
against toolkit/reference.py under unicorn (random inputs and the saturation
sweep), and their per-element counts are their loop bodies divided by 4."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolkit import reference
from toolkit.bench import armcount

pytestmark = pytest.mark.skipif(not armcount.have_toolchain(),
                                reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi)")
pytest.importorskip("unicorn")

SRC = Path(__file__).with_name("s8_dsp_probe.S")


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    elf = armcount.build_image("m4", [SRC], ["s8_exact_word", "s8_fixed16"],
                               tmp_path_factory.mktemp("dsp"))
    return elf, armcount.Machine(elf, "m4")


def _run(m, fn, x, mult, bias, shift):
    m.reset_arena()
    a, o = m.alloc(x.tobytes()), m.alloc(bytes(x.size))
    args = [a, o, x.size, mult & 0xFFFFFFFF, bias & 0xFFFFFFFF]
    res = m.call(fn, args + ([shift] if fn == "s8_exact_word" else []))
    return np.frombuffer(m.read(o, x.size), np.int8), res.instructions


@pytest.mark.parametrize("fn, cases", [
    ("s8_exact_word", [(-(1 << 23), (1 << 30) - 1, 27), (1 << 23, -5, 0),
                       ((1 << 20) + 3, -(1 << 27), 20), (-77, 1 << 29, 31), (3, 40, 1)]),
    ("s8_fixed16", [(-12345, -40000, 16), (32767, 1 << 20, 16), (-32768, -(1 << 22), 16),
                    (300, 5, 16)]),
])
def test_probe_loops_are_exact(machine, fn, cases):
    elf, m = machine
    rng = np.random.default_rng(4)
    sweep = np.arange(-128, 128, dtype=np.int8)
    counts = {}
    for mult, bias, shift in cases:
        for x in (sweep, rng.integers(-128, 128, 512).astype(np.int8)):
            y, n = _run(m, fn, x, mult, bias, shift)
            want = reference.bn_affine_int(x.reshape(1, 1, -1), np.array([mult]), np.array([bias]),
                                           shift, "s8", "nchw").ravel()
            assert np.array_equal(y, want), (mult, bias, shift)
            counts[x.size] = n
    per = armcount.per_element(counts[256], counts[512], 256, 512)
    loops = armcount.backward_loops(armcount.disassemble(elf, fn))
    assert len(loops) == 1
    start, end = loops[0]
    body = sum(1 for a, _ in armcount.disassemble(elf, fn) if start <= a <= end)
    assert per == body / 4                                  # 5.75 and 4.25 as documented
