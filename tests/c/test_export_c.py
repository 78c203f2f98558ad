"""`toolkit export -o model.c`: the generated C array, compiled on the host with
the runtime, passes bnrt_model_load unchanged and runs bit-exact with torch
eval (f32) and with the integer reference (s8)."""
from __future__ import annotations

import subprocess
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from toolkit import reference
from toolkit.cli import main
from toolkit.format.csource import layer_symbols, render
from toolkit.format.reader import read_model

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "firmware"
CORE = ["status.c", "crc32.c", "model.c", "kernels/kernel_args.c", "kernels/bn_affine_f32.c",
        "kernels/bn_affine_s8.c", "kernels/bn_affine_s16.c"]


def build_driver(tmp: Path, model_c: Path) -> Path:
    exe = tmp / "export_main"
    cmd = ["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off",
           "-fno-strict-aliasing", f"-I{FW / 'include'}", f"-I{model_c.parent}", "-o", str(exe),
           str(ROOT / "tests/c/export_main.c"), str(model_c), *(str(FW / "src" / s) for s in CORE), "-lm"]
    subprocess.run(cmd, check=True)
    return exe


def run_layer(exe: Path, index: int, x: np.ndarray, spatial: int) -> np.ndarray:
    r = subprocess.run([str(exe), str(index), str(x.shape[0]), str(spatial)], input=x.tobytes(),
                       capture_output=True, check=True)
    return np.frombuffer(r.stdout, x.dtype).reshape(x.shape)


def trained(bn: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g) * 2)
        bn.running_var.copy_(torch.rand(c, generator=g) * 3 + 1e-3)
        bn.weight.copy_(torch.randn(c, generator=g))
        bn.bias.copy_(torch.randn(c, generator=g))
    return bn


def test_layer_symbols_are_unique_c_identifiers():
    assert layer_symbols(["stem-bn", "2nd", None, "stem.bn", "é"]) == \
        ["STEM_BN", "_2ND", "LAYER_2", "STEM_BN_2", "_"]


def test_f32_c_array_loads_and_matches_torch_eval(tmp_path, capsys):
    torch.set_num_threads(1)
    model = torch.nn.Sequential(OrderedDict([
        ("stem-bn", trained(torch.nn.BatchNorm2d(5, eps=1e-3), 1)),
        ("2nd", trained(torch.nn.BatchNorm1d(7), 2)),
        ("block", torch.nn.Sequential(trained(torch.nn.BatchNorm1d(3, eps=1e-4), 3)))])).eval()
    bnm = tmp_path / "m.bnm"
    from toolkit.model.export import export
    export(model).save(bnm)
    assert main(["export", str(bnm), "-o", str(tmp_path / "model.c")]) == 0
    assert "model.h" in capsys.readouterr().out
    header = (tmp_path / "model.h").read_text()
    for i, sym in enumerate(["STEM_BN", "_2ND", "BLOCK_0"]):
        assert f"MODEL_LAYER_{sym} = {i}," in header
    blob = bnm.read_bytes()
    crc = read_model(blob).crc32
    assert f"0x{crc:08X}" in header and "toolkit 0.1.0" in header and "m.bnm" in header
    exe = build_driver(tmp_path, tmp_path / "model.c")
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["OK", f"{crc:08x}", "3", "1"]
    g = torch.Generator().manual_seed(9)
    for i, (mod, shape, spatial) in enumerate([(model[0], (4, 5, 6, 3), 18),
                                               (model[1], (6, 7, 11), 11),
                                               (model[2][0], (9, 3), 1)]):
        x = torch.randn(shape, generator=g) * 3
        with torch.no_grad():
            want = mod(x).numpy()
        got = run_layer(exe, i, np.ascontiguousarray(x.numpy()), spatial)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), f"layer {i}"


def test_s8_header_only_array_matches_the_integer_reference(tmp_path):
    from toolkit.examples import tiny
    from toolkit.model.export import export
    blob = export(tiny.build(), dtype="s8", calib=tiny.example_inputs()).blob
    files = render(blob, tmp_path / "model.h", "toolkit.examples.tiny:build")
    assert list(files) == [tmp_path / "model.h"]
    (tmp_path / "model.h").write_text(files[tmp_path / "model.h"])
    (tmp_path / "use.c").write_text('#include "model.h"\nconst uint8_t *model_ptr(void);\n'
                                    'const uint8_t *model_ptr(void) { return model; }\n')
    exe = build_driver(tmp_path, tmp_path / "use.c")
    m = read_model(blob)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split() == \
        ["OK", f"{m.crc32:08x}", "3", "1"]
    rng = np.random.default_rng(5)
    for i, layer in enumerate(m.layers):
        x = rng.integers(-128, 128, (4, layer.channels, 7), dtype=np.int8)
        want = reference.bn_affine_int(x, layer.params["mult"], layer.params["bias"], layer.shift,
                                       "s8", "nchw")
        assert np.array_equal(run_layer(exe, i, x, 7), want), f"layer {i}"


def test_other_suffixes_stay_binary(tmp_path):
    from toolkit.examples import tiny
    from toolkit.model.export import export
    bnm = tmp_path / "m.bnm"
    export(tiny.build()).save(bnm)
    assert main(["export", str(bnm), "-o", str(tmp_path / "model.data")]) == 0
    assert (tmp_path / "model.data").read_bytes() == bnm.read_bytes()
