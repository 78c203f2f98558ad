"""The portable path on a second interpreter: the MicroPython WebAssembly port
under Node (no viper there), against toolkit/reference.py."""
from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

from toolkit import reference
from toolkit.format.writer import LayerBlob, write_model
from toolkit.launchers import micropython as mp_launcher
from toolkit.resources import build_dir, micropython_dir

PKG = build_dir() / "mpy-wasm" / "node_modules" / "@micropython" / \
    "micropython-webassembly-pyscript" / "micropython.mjs"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not PKG.is_file() or shutil.which("mpy-cross") is None,
    reason="needs node and `npm install --prefix firmware/build/mpy-wasm "
           "@micropython/micropython-webassembly-pyscript@1.27.0` (scripts/setup-and-test.sh)")

RUNNER = """
import {{ loadMicroPython }} from {pkg};
import {{ readFileSync }} from "fs";
const files = JSON.parse(readFileSync(process.argv[2], "utf8"));
let out = "";
const mp = await loadMicroPython({{ stdout: (line) => {{ out += line + "\\n"; }} }});
mp.FS.mkdir("/lib");
for (const [name, path] of Object.entries(files)) mp.FS.writeFile(name, readFileSync(path));
mp.runPython(readFileSync(process.argv[3], "utf8"));
process.stdout.write(out);
"""

SCRIPT = """
import sys
sys.path.insert(0, '/lib')
import bnrt, json
m = bnrt.load(bytearray(open('/model.bnm', 'rb').read()))
res = {'fast': bnrt._fast is not None, 'out': []}
for i, n in enumerate(%s):
    x = bytearray(open('/x%%d' %% i, 'rb').read())
    m.run(i, x, x, n, 0)
    res['out'].append(list(x))
print(json.dumps(res))
"""


def test_portable_path_on_webassembly(tmp_path):
    rng = np.random.default_rng(5)
    C, S = 3, 40
    layers = [
        LayerBlob("f32", "nchw", C, {"a": rng.normal(size=C).astype(np.float32),
                                     "b": rng.normal(size=C).astype(np.float32)}),
        LayerBlob("s8", "nhwc", C, {"mult": rng.integers(-2**23, 2**23, C).astype(np.int32),
                                    "bias": rng.integers(-2**30, 2**30, C).astype(np.int32)},
                  in_scale=0.1, out_scale=0.1, shift=24),
        LayerBlob("s16", "nchw", C, {"mult": rng.integers(-2**31, 2**31, C).astype(np.int32),
                                     "bias": rng.integers(-2**62, 2**62, C).astype(np.int64)},
                  in_scale=0.1, out_scale=0.1, shift=50),
    ]
    xs = [rng.normal(0, 2, (2, C, S)).astype(np.float32),
          rng.integers(-128, 128, (2, S, C)).astype(np.int8),
          rng.integers(-32768, 32768, (2, C, S)).astype(np.int16)]
    lib = tmp_path / "lib"
    mp_launcher.build(lib, None)
    (lib / "bnrt_fast.py").write_text((micropython_dir() / "bnrt_fast.py").read_text())  # must be rejected
    files = {f"/lib/{p.name}": str(p) for p in lib.iterdir()}
    (tmp_path / "model.bnm").write_bytes(write_model(layers))
    files["/model.bnm"] = str(tmp_path / "model.bnm")
    for i, x in enumerate(xs):
        (tmp_path / f"x{i}").write_bytes(x.tobytes())
        files[f"/x{i}"] = str(tmp_path / f"x{i}")
    (tmp_path / "files.json").write_text(json.dumps(files))
    (tmp_path / "script.py").write_text(SCRIPT % [S, S, S])
    (tmp_path / "run.mjs").write_text(textwrap.dedent(RUNNER.format(pkg=json.dumps(str(PKG)))))
    r = subprocess.run(["node", str(tmp_path / "run.mjs"), str(tmp_path / "files.json"),
                        str(tmp_path / "script.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["fast"] is False                        # viper rejected: the portable loops ran
    got = [np.frombuffer(bytes(o), x.dtype).reshape(x.shape) for o, x in zip(res["out"], xs)]
    want = [reference.bn_affine_f32(xs[0], layers[0].params["a"], layers[0].params["b"], "nchw"),
            reference.bn_affine_int(xs[1], layers[1].params["mult"], layers[1].params["bias"], 24, "s8", "nhwc"),
            reference.bn_affine_int(xs[2], layers[2].params["mult"], layers[2].params["bias"], 50, "s16", "nchw")]
    np.testing.assert_array_equal(got[0].view(np.int32), want[0].view(np.int32))
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
