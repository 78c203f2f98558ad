"""The ctypes mirror of bnrt_model_t / bnrt_layer_t in toolkit/runtime.py
matches the C header: sizes and field offsets printed by a compiled C probe."""
from __future__ import annotations

import ctypes
import re
import shutil
import subprocess

import pytest

from toolkit import runtime
from toolkit.resources import firmware_dir

STRUCTS = {"bnrt_model_t": runtime._Model, "bnrt_layer_t": runtime._Layer}


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory) -> dict[str, int]:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler (cc/gcc) on PATH")
    lines = []
    for cname, mirror in STRUCTS.items():
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in mirror._fields_:
            lines.append(f'printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    src = ("#include <stddef.h>\n#include <stdio.h>\n#include \"bnrt.h\"\n"
           "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(src)
    inc = firmware_dir() / "include"
    build = subprocess.run([cc, "-std=c99", "-I", str(inc), "-o", str(d / "probe"), str(d / "probe.c")],
                           capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, build.stderr   # a field the C struct lacks fails here
    out = subprocess.run([str(d / "probe")], capture_output=True, text=True, timeout=30, check=True)
    return {k: int(v) for k, v in (line.split() for line in out.stdout.splitlines())}


@pytest.mark.parametrize("cname", sorted(STRUCTS))
def test_ctypes_mirror_matches_header(c_layout, cname):
    mirror = STRUCTS[cname]
    assert ctypes.sizeof(mirror) == c_layout[cname]
    for field, _ in mirror._fields_:
        assert getattr(mirror, field).offset == c_layout[f"{cname}.{field}"], field


def test_ctypes_mirror_names_every_c_field():
    """Every member of the C struct is in the mirror (a missing one changes no offset
    when it sits at the end, so compare the member lists from the header text)."""
    text = (firmware_dir() / "include" / "bnrt.h").read_text()
    for cname, mirror in STRUCTS.items():
        body = re.search(r"typedef struct \{([^}]*)\}\s*" + cname + ";", text).group(1)
        members = re.findall(r"(\w+)\s*;", re.sub(r"/\*.*?\*/", "", body, flags=re.S))
        assert members == [f for f, _ in mirror._fields_], cname
