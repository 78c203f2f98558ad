"""Section 2: Cortex-M instructions per element of the real kernels.

The kernel sources (firmware/src/kernels/*.c) are cross-compiled per core with
the firmware's flags, linked at fixed addresses and called under unicorn.
Per-element instructions = (count(N2) - count(N1)) / (N2 - N1), which removes
the call and argument-check overhead.  Every output is checked against
toolkit/reference.py so a miscompiled or mis-called kernel cannot report a
count.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import reference
from ..format import spec
from . import armcount, firmware_info
from .report import Section, Target

KERNELS = ("f32", "s8", "s16")
SYMBOL = {d: f"bnrt_bn_affine_{d}" for d in KERNELS}
# (dtype label, kernel dtype, f32 flags)
VARIANTS = [("f32 fma", "f32", spec.LAYER_FLAG_FMA), ("f32 x*a+b", "f32", 0),
            ("s8", "s8", 0), ("s16", "s16", 0)]
# (layout, channels): NHWC with 3 channels shows the per-pixel loop overhead;
# "bn1d" is BatchNorm1d's (N, C): NCHW with spatial 1, N rows of C channels
SHAPES = [("nchw", 4), ("nhwc", 16), ("bn1d", 16), ("nhwc", 3)]


def _params(dtype: str, channels: int, rng):
    if dtype == "f32":
        return (rng.uniform(0.5, 2, channels).astype(np.float32),
                rng.uniform(-1, 1, channels).astype(np.float32), 0)
    if dtype == "s8":
        shift = 20
        return (rng.integers(1 << 18, 1 << 21, channels).astype(np.int32),
                rng.integers(-(1 << 24), 1 << 24, channels).astype(np.int32), shift)
    shift = 40   # s16 kernels have a separate path for shift >= 32 and < 32
    return (rng.integers(1 << 20, 1 << 28, channels).astype(np.int32),
            rng.integers(-(1 << 50), 1 << 50, channels).astype(np.int64), shift)


def count_kernel(machine: armcount.Machine, dtype: str, flags: int, layout: str,
                 channels: int, spatial: int, rng, params=None, batch: int = 1,
                 x=None) -> armcount.CallResult:
    """Run one kernel call under unicorn; check the output against the reference."""
    n = batch * channels * spatial
    p0, p1, shift = params if params is not None else _params(dtype, channels, rng)
    shape = (batch, channels, spatial) if layout == "nchw" else (batch, spatial, channels)
    if x is not None:
        x = np.asarray(x).reshape(shape)
    elif dtype == "f32":
        x = rng.standard_normal(shape).astype(np.float32)
    else:
        lo, hi = spec.QRANGE[dtype]
        x = rng.integers(lo, hi + 1, shape).astype(np.int8 if dtype == "s8" else np.int16)
    machine.reset_arena()
    a_in = machine.alloc(x.tobytes())
    a_out = machine.alloc(bytes(x.nbytes))
    a_p0 = machine.alloc(p0.tobytes(), 8)
    a_p1 = machine.alloc(p1.tobytes(), 8)
    last = flags if dtype == "f32" else shift
    res = machine.call(SYMBOL[dtype], [a_in, a_out, batch, channels, spatial,
                                       spec.LAYOUTS[layout], a_p0, a_p1, last])
    if res.ret != spec.STATUS["OK"]:
        raise RuntimeError(f"{SYMBOL[dtype]} returned {spec.status_name(res.ret)}")
    got = np.frombuffer(machine.read(a_out, x.nbytes), x.dtype).reshape(shape)
    if dtype == "f32":
        want = reference.bn_affine_f32(x, p0, p1, layout, fused=bool(flags & spec.LAYER_FLAG_FMA))
        same = np.array_equal(got.view(np.uint32), want.view(np.uint32))
    else:
        want = reference.bn_affine_int(x, p0, p1, shift, dtype, layout)
        same = np.array_equal(got, want)
    if not same:
        raise RuntimeError(f"{SYMBOL[dtype]} on {machine.core} ({layout}, {n} elements) "
                           f"differs from toolkit/reference.py")
    return res


def kernel_sources() -> list[Path]:
    return sorted((firmware_info.FW_DIR / "src" / "kernels").glob("*.c"))


NHWC_TILE = 64   # BNRT_TILE in firmware/src/kernels/kernel_args.h


def _whole_tiles(channels: int, pixels: int) -> int:
    """Round a pixel count up to whole parameter tiles of the NHWC kernels, so
    the difference of two counts is linear in the element count."""
    tile = NHWC_TILE // channels if channels <= NHWC_TILE // 2 else 1
    return -(-pixels // tile) * tile


def run(out_dir: Path, quick: bool, cores=("m3", "m4", "m7")) -> Section:
    sec = Section("cortexm", "Cortex-M instructions per element (unicorn, exact)",
                  [("core", ""), ("opt", ""), ("kernel", ""), ("layout", ""),
                   ("channels", "count"), ("N1", "elements"), ("N2", "elements"),
                   ("instructions_per_element", "instructions/element"),
                   ("call_overhead", "instructions")])
    sec.notes.append("Instructions, not cycles: unicorn executes the cross-compiled kernel "
                     "objects exactly but has no pipeline, flash wait-state or memory timing. "
                     "Per element = (count(N2) - count(N1)) / (N2 - N1), NHWC sizes in whole "
                     "parameter tiles of the kernels; the call overhead "
                     "column is count(N1) - N1 * per_element. Every run's output was checked "
                     "bit for bit against toolkit/reference.py.")
    if not armcount.have_toolchain():
        sec.skip("arm-none-eabi-gcc/objdump not installed (apt-get install gcc-arm-none-eabi)")
        return sec
    srcs = kernel_sources()
    if not any(p.name.startswith("bn_affine_") for p in srcs):
        sec.skip("firmware/src/kernels/bn_affine_*.c not found")
        return sec
    fw_opt = firmware_info.arm_opt()
    opts = [fw_opt] if quick else sorted({fw_opt, "-Os", "-O2"}, key=lambda o: o != fw_opt)
    sec.notes.append(f"Firmware optimisation level (firmware/mk/arm.mk): {fw_opt}; "
                     f"compiler: {armcount.cc_version()}.")
    spatial_pairs = {"nchw": (16, 32) if quick else (64, 128), "nhwc": (8, 16) if quick else (32, 64)}
    rng = np.random.default_rng(7)
    per = {}
    t0 = time.perf_counter()
    for core in cores:
        flags = firmware_info.firmware_cflags(core)
        sec.notes.append(f"{core} flags (from the firmware build): {' '.join(flags)}")
        for opt in opts:
            bdir = out_dir / "cortexm" / f"{core}{opt}"
            elf = armcount.build_image(core, srcs, list(SYMBOL.values()), bdir, opt=opt,
                                       include=[firmware_info.FW_DIR / "include",
                                                firmware_info.FW_DIR / "src" / "kernels"],
                                       flags=flags)
            m = armcount.Machine(elf, core, hard_float="-mfloat-abi=hard" in flags)
            for label, dtype, fl in VARIANTS:
                for layout, ch in SHAPES:
                    if quick and ch == 3:
                        continue
                    s1, s2 = spatial_pairs["nhwc" if layout == "bn1d" else layout]
                    if layout != "nchw":
                        s1, s2 = _whole_tiles(ch, s1), _whole_tiles(ch, s2)
                    params = _params(dtype, ch, rng)
                    if layout == "bn1d":      # s1, s2 rows of (N, C)
                        r1 = count_kernel(m, dtype, fl, "nchw", ch, 1, rng, params, batch=s1)
                        r2 = count_kernel(m, dtype, fl, "nchw", ch, 1, rng, params, batch=s2)
                    else:
                        r1 = count_kernel(m, dtype, fl, layout, ch, s1, rng, params)
                        r2 = count_kernel(m, dtype, fl, layout, ch, s2, rng, params)
                    n1, n2 = ch * s1, ch * s2
                    ipe = armcount.per_element(r1.instructions, r2.instructions, n1, n2)
                    per[(core, opt, label, layout, ch)] = (ipe, elf, r2, n2, dtype)
                    sec.rows.append({"core": core, "opt": opt, "kernel": label, "layout": layout,
                                     "channels": ch, "N1": n1, "N2": n2,
                                     "instructions_per_element": round(ipe, 3),
                                     "call_overhead": round(r1.instructions - ipe * n1, 1)})
    sec.notes.append(f"Measured in {time.perf_counter() - t0:.1f} s. M3 f32 goes through "
                     "soft-float library calls (no FPU); those counts depend on the data "
                     "(random normal inputs here).")

    for label, limit, name in (("s8", 8, "M4 s8"), ("f32 fma", 4, "M4F f32 fma"),
                               ("f32 x*a+b", 4, "M4F f32 x*a+b")):
        for layout, ch in SHAPES[:2]:
            v = per.get(("m4", fw_opt, label, layout, ch))
            sec.targets.append(Target(f"{name} {layout.upper()} C={ch} at {fw_opt} (firmware)",
                                      None if v is None else v[0], "instructions/element",
                                      "<=", limit))
    ipe = lambda *k: per[k][0] if k in per else None  # noqa: E731
    for layout, ch, limit in (("nchw", 4, 4.5), ("nhwc", 16, 5.0)):
        sec.targets.append(Target(f"M4 s8 {layout.upper()} C={ch}, stretch goal (firmware)",
                                  ipe("m4", fw_opt, "s8", layout, ch), "instructions/element",
                                  "<=", limit))
    for layout, ch in SHAPES[:2]:
        sec.targets.append(Target(f"M3 f32 fma {layout.upper()} C={ch} (software fmaf, firmware)",
                                  ipe("m3", fw_opt, "f32 fma", layout, ch),
                                  "instructions/element", "<=", 80))
    for label in ("f32 fma", "s8", "s16"):
        one, two = ipe("m4", fw_opt, label, "bn1d", 16), ipe("m4", fw_opt, label, "nchw", 4)
        sec.targets.append(Target(f"M4 {label} BatchNorm1d (N, 16) / BatchNorm2d NCHW C=4 per "
                                  "element", None if one is None or two is None else one / two,
                                  "x", "<=", 1.2, "" if one is None else
                                  f"{one:.3g} vs {two:.3g} instructions/element"))
    over = [r for r in sec.rows if r["core"] == "m4" and r["opt"] == fw_opt
            and r["kernel"] == "f32 fma" and r["layout"] == "nhwc" and r["channels"] == 16]
    sec.targets.append(Target("M4F f32 fma NHWC C=16 per-call overhead (firmware)",
                              over[0]["call_overhead"] if over else None, "instructions", "<=",
                              250))
    if fw_opt != "-O2" and ("m4", "-O2", "s8", "nchw", 4) in per:
        sec.notes.append("The same kernels at -O2 are listed too: the firmware builds with "
                         f"{fw_opt}; the targets are judged on that.")
    # where the instructions go: the hot loop of each M4 kernel at the firmware opt level
    for (core, opt, label, layout, ch), (ipe, elf, res, n, dtype) in per.items():
        if core != "m4" or opt != fw_opt or ch == 3 or layout == "bn1d":
            continue
        insns = armcount.disassemble(elf, SYMBOL[dtype])
        hot = armcount.hot_loop(insns, res.hot, n, n // ch if layout == "nhwc" else n)
        if hot:
            body = "; ".join(f"{t} (x{c:g})" if abs(c - 1) > 1e-9 else t for _, t, c in hot)
            sec.details.append(f"m4 {opt} {label} {layout} C={ch}: {ipe:g}/element: {body}")
    return sec
