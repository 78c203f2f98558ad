"""Soak test as a library (`toolkit soak`, docs/reliability.md): stream RUN
traffic to a board for a long time and check that nothing drifts.

Every output is compared bit for bit with toolkit/reference.py (mismatches
must be 0).  Memory is sampled after a warm-up and at the end: the host
process's resident set (/proc/self/statm; peak from resource.getrusage), the
emulator's resident set when we started one, and the board's INFO fields (the
firmware allocates nothing, so they must not change).
"""
from __future__ import annotations

import os
import resource
import shutil
import time

import numpy as np

from . import reference
from .format import reader, spec
from .format.writer import LayerBlob, write_model
from .protocol.connect import board_client

HOST_TOLERANCE_MB = 16.0     # allowed host RSS growth between warm-up and end
DEVICE_TOLERANCE_MB = 4.0    # allowed emulator RSS growth
QEMU_DEFAULT = "qemu-mps2-an386"
_NP = {dt: np.dtype(code).type for dt, code in spec.DTYPE_CODE.items()}


def default_board() -> str:
    """An emulated Cortex-M board when QEMU and the cross compiler are here, else host-sim."""
    if shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc"):
        return QEMU_DEFAULT
    return "host-sim"


def soak_model() -> bytes:
    """A model with every dtype and layout, and parameters near the format's limits."""
    rng = np.random.default_rng(2024)
    f32 = lambda c: {"a": (rng.standard_normal(c) * 3).astype(np.float32),   # noqa: E731
                     "b": rng.standard_normal(c).astype(np.float32)}
    return write_model([
        LayerBlob("f32", "nchw", 8, f32(8), fused=True, name="f32_fma"),
        LayerBlob("f32", "nhwc", 5, f32(5), fused=False, name="f32_plain"),
        LayerBlob("s8", "nchw", 6, {"mult": rng.integers(-2**23, 2**23, 6).astype(np.int32),
                                    "bias": rng.integers(-2**29, 2**29, 6).astype(np.int32)},
                  in_scale=0.02, in_zero_point=-5, out_scale=0.05, out_zero_point=3, shift=22, name="s8"),
        LayerBlob("s16", "nhwc", 7, {"mult": rng.integers(-2**31, 2**31, 7).astype(np.int32),
                                     "bias": rng.integers(-2**52, 2**52, 7).astype(np.int64)},
                  in_scale=0.001, out_scale=0.002, shift=40, name="s16"),
    ])


def host_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return host_peak_mb()


def host_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def process_rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _inputs(rng, layer, batch: int, spatial: int) -> np.ndarray:
    shape = (batch, layer.channels, spatial) if layer.layout == "nchw" else (batch, spatial, layer.channels)
    if layer.dtype == "f32":
        scale = rng.choice([1e-3, 1.0, 1e3, 1e36])     # 1e36: some outputs overflow to inf
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    lo, hi = np.iinfo(_NP[layer.dtype]).min, np.iinfo(_NP[layer.dtype]).max
    return rng.integers(lo, hi + 1, shape).astype(_NP[layer.dtype])


def _expected(layer, x: np.ndarray) -> np.ndarray:
    p = layer.params
    if layer.dtype == "f32":
        return reference.bn_affine_f32(x, p["a"], p["b"], layer.layout, layer.fused)
    return reference.bn_affine_int(x, p["mult"], p["bias"], layer.shift, layer.dtype, layer.layout)


def _mismatches(got: np.ndarray, want: np.ndarray) -> int:
    if got.dtype == np.float32:
        both_nan = np.isnan(got) & np.isnan(want)
        return int(np.count_nonzero((got.view(np.uint32) != want.view(np.uint32)) & ~both_nan))
    return int(np.count_nonzero(got != want))


def _device_snapshot(client) -> dict:
    info = client.info()
    return {"max_payload": info.max_payload, "max_model": info.max_model,
            "protocol_version": info.protocol_version, "firmware_version": info.firmware_version}


def run_soak(board: str | None = None, samples: int = 100_000, *, port: str | None = None,
             seed: int = 0, blob: bytes | None = None, max_batch: int = 32,
             host_tolerance_mb: float = HOST_TOLERANCE_MB,
             device_tolerance_mb: float = DEVICE_TOLERANCE_MB, on_progress=None) -> dict:
    """Run `samples` samples (one sample = channels x spatial elements of one
    layer) through the board, cycling over the model's layers.  Returns the
    report dict; report["pass"] says whether mismatches == 0 and memory held."""
    board = board or default_board()
    blob = blob if blob is not None else soak_model()
    model = reader.read_model(blob)
    rng = np.random.default_rng(seed)
    progress = on_progress or (lambda done, total: None)
    warmup = max(1, min(samples // 10, 1000))
    done = frames = elements = mismatches = runs = 0
    first_bad = None
    with board_client(board, port) as (client, _, session):
        proc = getattr(session, "proc", None)     # real MicroPython boards have none
        pid = proc.pid if proc is not None else None
        info = client.board
        layers = [(i, l) for i, l in enumerate(model.layers) if l.dtype in info.dtypes]
        client.load(blob)
        start = None
        t0 = time.monotonic()
        while done < samples:
            if start is None and done >= warmup:
                start = {"host_rss_mb": host_rss_mb(), "host_peak_mb": host_peak_mb(),
                         "device_rss_mb": process_rss_mb(pid), "device": _device_snapshot(client)}
                t0 = time.monotonic()
            index, layer = layers[runs % len(layers)]
            batch = int(min(rng.integers(1, max_batch + 1), samples - done))
            spatial = int(rng.integers(1, 10))
            x = _inputs(rng, layer, batch, spatial)
            res = client.run(index, x, spatial)
            bad = _mismatches(res.output, _expected(layer, x))
            if bad and first_bad is None:
                first_bad = {"layer": index, "run": runs, "elements": bad}
            mismatches += bad
            frames += res.frames
            elements += x.size
            done += batch
            runs += 1
            progress(done, samples)
        seconds = time.monotonic() - t0
        end = {"host_rss_mb": host_rss_mb(), "host_peak_mb": host_peak_mb(),
               "device_rss_mb": process_rss_mb(pid), "device": _device_snapshot(client)}
        if start is None:
            start = end
    host_growth = end["host_rss_mb"] - start["host_rss_mb"]
    device_growth = (end["device_rss_mb"] - start["device_rss_mb"]
                     if start["device_rss_mb"] is not None and end["device_rss_mb"] is not None else None)
    problems = []
    if mismatches:
        problems.append(f"{mismatches} output elements differ from toolkit.reference (first: {first_bad})")
    if host_growth > host_tolerance_mb:
        problems.append(f"host RSS grew {host_growth:.1f} MB (tolerance {host_tolerance_mb} MB)")
    if device_growth is not None and device_growth > device_tolerance_mb:
        problems.append(f"emulator RSS grew {device_growth:.1f} MB (tolerance {device_tolerance_mb} MB)")
    if start["device"] != end["device"]:
        problems.append(f"board INFO changed: {start['device']} -> {end['device']}")
    return {"board": board, "board_name": info.name, "samples": done, "runs": runs, "frames": frames,
            "elements": elements, "mismatches": mismatches, "first_mismatch": first_bad,
            "seconds_after_warmup": round(seconds, 3), "warmup_samples": warmup,
            "start": start, "end": end, "host_growth_mb": round(host_growth, 3),
            "device_growth_mb": None if device_growth is None else round(device_growth, 3),
            "tolerance_mb": {"host": host_tolerance_mb, "device": device_tolerance_mb},
            "layers": [f"{l.dtype}/{l.layout}" for _, l in layers], "problems": problems,
            "pass": not problems}
