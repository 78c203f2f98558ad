"""The one renderer gives the C header and the MicroPython constants the same
facts with the same values, and the C per-dtype lookups agree with spec.py."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import types

import pytest

from toolkit.format import render, spec

SHARED = ["LAYER_TABLE_ALIGN", "FRAME_CRC_SIZE", "MIN_PAYLOAD", "DTYPE_MASK_ALL", "LAYOUT_MASK_ALL",
          "OP_MASK_ALL", "S8_MIN", "S8_MAX", "S16_MIN", "S16_MAX"]
SHARED += [f"DTYPE_SIZE_{d.upper()}" for d in spec.DTYPES]
SHARED += [f"PARAM_{d.upper()}_{n.upper()}_START" for d, arrays in spec.PARAM_ARRAYS.items() for n, _ in arrays]


def _mpy_constants() -> dict:
    fake = types.ModuleType("micropython")
    fake.const = lambda v: v
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake
    try:
        ns: dict = {}
        exec(render.MPY_PATH.read_text(), ns)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return {k: v for k, v in ns.items() if isinstance(v, int) and not k.startswith("_")}


def _c_constants() -> dict:
    pattern = r"^#define BNRT_(\w+) \(?(-?(?:0x)?[0-9A-Fa-f]+)[uL]*\)?"
    return {name: int(lit, 0) for name, lit in re.findall(pattern, render.HEADER_PATH.read_text(), re.M)}


def test_shared_facts_are_in_both_outputs_with_equal_values():
    mpy, c = _mpy_constants(), _c_constants()
    for name in SHARED:
        assert name in mpy and name in c, name
    common = set(mpy) & set(c)
    assert len(common) > 60
    for name in sorted(common):
        assert mpy[name] == c[name], name


def test_shared_values_follow_spec():
    c = _c_constants()
    for dt, size in spec.DTYPE_SIZE.items():
        assert c[f"DTYPE_SIZE_{dt.upper()}"] == size == len(struct.pack("<" + spec.DTYPE_CODE[dt], 0))
    assert c["DTYPE_MASK_ALL"] == sum(1 << i for i in spec.DTYPES.values())
    assert (c["S8_MIN"], c["S8_MAX"]) == spec.QRANGE["s8"]
    for dt, arrays in spec.PARAM_ARRAYS.items():    # arrays back to back, in file order
        starts = [c[f"PARAM_{dt.upper()}_{n.upper()}_START"] for n, _ in arrays]
        assert starts[0] == 0 and starts == sorted(starts)
        assert c[f"PARAM_BYTES_{dt.upper()}"] == spec.PARAM_BYTES_PER_CHANNEL[dt]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a host C compiler (cc)")
def test_c_lookups_match_spec(tmp_path):
    ids = list(spec.DTYPES.values()) + [0, 200]
    lines = [f'printf("%u %u %u\\n", {i}u, (unsigned)BNRT_DTYPE_SIZE({i}u), (unsigned)BNRT_PARAM_BYTES({i}u));'
             for i in ids]
    (tmp_path / "p.c").write_text('#include <stdio.h>\n#include "bnrt_spec.h"\nint main(void) {\n'
                                  + "\n".join(lines) + "\nreturn 0;\n}\n")
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-I", str(render.HEADER_PATH.parent),
                    "-o", str(tmp_path / "p"), str(tmp_path / "p.c")], check=True, timeout=60)
    out = subprocess.run([str(tmp_path / "p")], capture_output=True, text=True, check=True).stdout
    got = {int(a): (int(b), int(c)) for a, b, c in (line.split() for line in out.splitlines())}
    by_id = {i: d for d, i in spec.DTYPES.items()}
    for i, (size, params) in got.items():
        want = (spec.DTYPE_SIZE[by_id[i]], spec.PARAM_BYTES_PER_CHANNEL[by_id[i]]) if i in by_id else (0, 0)
        assert (size, params) == want, i


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "bnrt_spec.h"
    stale.write_text("/* old */\n")
    assert render.main(["--check"], {stale: render.render_c}) == 1
    assert "stale" in capsys.readouterr().err
    assert render.main([], {stale: render.render_c}) == 0
    assert render.main(["--check"], {stale: render.render_c}) == 0
