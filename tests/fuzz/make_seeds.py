"""Write the fuzzers' seed corpora (not committed; scripts/fuzz.sh calls this).

    python tests/fuzz/make_seeds.py OUTDIR      -> OUTDIR/parser/*, OUTDIR/cmdloop/*

parser: tests/golden/*.bnm plus small models from toolkit.format.writer.
cmdloop: the input formats of tests/fuzz/fuzz_cmdloop.c -- mode 0 (a recorded
wire stream built with toolkit.protocol.framing), mode 1 (frames without CRC),
mode 2 (uploads of the parser seeds).
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

from toolkit.format import spec
from toolkit.format.writer import LayerBlob, write_model
from toolkit.protocol import framing

ROOT = Path(__file__).resolve().parents[2]
CMD = spec.COMMANDS


def small_models() -> dict[str, bytes]:
    """A handful of valid models covering every dtype, layout and the strings section."""
    rng = np.random.default_rng(1)
    f32 = lambda c, layout, fused, name=None: LayerBlob(
        "f32", layout, c, {"a": rng.standard_normal(c).astype(np.float32),
                           "b": rng.standard_normal(c).astype(np.float32)}, fused=fused, name=name)
    s8 = lambda c, layout: LayerBlob(
        "s8", layout, c, {"mult": rng.integers(-2**20, 2**20, c).astype(np.int32),
                          "bias": rng.integers(-2**28, 2**28, c).astype(np.int32)},
        in_scale=0.05, in_zero_point=-3, out_scale=0.1, out_zero_point=5, shift=16)
    s16 = lambda c, layout: LayerBlob(
        "s16", layout, c, {"mult": rng.integers(-2**30, 2**30, c).astype(np.int32),
                           "bias": rng.integers(-2**40, 2**40, c).astype(np.int64)},
        in_scale=0.001, out_scale=0.002, shift=30)
    return {
        "f32_fma": write_model([f32(3, "nchw", True)]),
        "f32_named": write_model([f32(2, "nhwc", False, "bn1")]),
        "s8": write_model([s8(4, "nhwc")]),
        "s16": write_model([s16(3, "nchw")]),
        "mixed": write_model([f32(2, "nchw", True, "a"), s8(3, "nchw"), s16(1, "nhwc", )]),
    }


def golden() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted((ROOT / "tests" / "golden").glob("*.bnm"))}


def raw(cmd: int, seq: int, payload: bytes = b"") -> bytes:
    """Frame header + payload, without the CRC (mode 1 adds it)."""
    return spec.FRAME_HEADER.pack(cmd, seq, 0, 0) + payload


def upload_frames(blob: bytes, chunk: int = 200) -> list[tuple[int, bytes]]:
    out = [(CMD["LOAD_BEGIN"], spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))]
    for off in range(0, len(blob), chunk):
        out.append((CMD["LOAD_CHUNK"], spec.LOAD_CHUNK.pack(off) + blob[off:off + chunk]))
    out.append((CMD["LOAD_COMMIT"], b""))
    out.append((CMD["MODEL_INFO"], spec.MODEL_INFO.pack(0)))
    out.append((CMD["RUN"], spec.RUN.pack(0, 0, 1, 0, 4) + bytes(range(16))))
    return out


def train_frames(channels: int) -> list[tuple[int, bytes]]:
    """Train-mode BN on layer 0 (f32, `channels` channels), then FREEZE into the model."""
    ph, c, batch = spec.TRAIN_PHASES, channels, 2
    floats = lambda n, k=1.0: struct.pack(f"<{n}f", *[k * (i % 7 - 3) for i in range(n)])  # noqa: E731
    return [
        (CMD["TRAIN"], spec.TRAIN_SETUP.pack(ph["SETUP"], 0, 0, c, 1e-5, 0.1, 0)),
        (CMD["TRAIN"], spec.TRAIN.pack(ph["PARAMS"], 0, 0, 0, c) + floats(3 * c) + struct.pack(f"<{c}f", *[1.0] * c)),
        (CMD["TRAIN"], spec.TRAIN_BEGIN.pack(ph["BEGIN"], 0, 0, batch, 1, 0)),
        (CMD["TRAIN"], spec.TRAIN.pack(ph["DATA"], spec.TRAIN_PASSES["SUM"], 0, 0, batch * c) + floats(batch * c, 0.5)),
        (CMD["TRAIN"], spec.TRAIN.pack(ph["DATA"], spec.TRAIN_PASSES["VAR"], 0, 0, batch * c) + floats(batch * c, 0.5)),
        (CMD["TRAIN"], spec.TRAIN.pack(ph["APPLY"], 0, 0, 0, batch * c) + floats(batch * c, 0.5)),
        (CMD["STATS"], spec.STATS.pack(0, c)),
        (CMD["FREEZE"], spec.FREEZE.pack(0)),
        (CMD["MODEL_INFO"], spec.MODEL_INFO.pack(0)),
    ]


def cmdloop_seeds(models: dict[str, bytes]) -> dict[str, bytes]:
    seeds = {}
    small = min(models.values(), key=len)
    session = [(CMD["INFO"], b"")] + upload_frames(small) + [(CMD["RESET"], b"")]
    wire = b"".join(framing.build_frame(c, i, p) for i, (c, p) in enumerate(session))
    seeds["m0_session"] = b"\x00" + wire
    seeds["m0_garbage"] = b"\x00" + bytes(range(256)) + wire[:40]
    listed = b""
    for i, (c, p) in enumerate(session):
        body = raw(c, i, p)
        listed += struct.pack("<H", len(body)) + body
    seeds["m1_session"] = b"\x01" + listed
    f32 = models["f32_fma"]
    train = upload_frames(f32) + train_frames(3)
    listed = b"".join(struct.pack("<H", len(raw(c, i, p))) + raw(c, i, p) for i, (c, p) in enumerate(train))
    seeds["m1_train"] = b"\x01" + listed
    seeds["m0_train"] = b"\x00" + b"".join(framing.build_frame(c, i, p) for i, (c, p) in enumerate(train))
    seeds["m1_bad"] = b"\x01" + struct.pack("<H", 6) + raw(0x55, 1, b"xy") + struct.pack("<H", 0x8003) + b"\x01\x02\x03"
    for name, blob in models.items():
        for sel, damage in ((3, 0), (4, 5), (0, 2), (7, 3)):
            seeds[f"m2_{name}_{sel}_{damage}"] = bytes([2, sel, damage]) + blob
    return seeds


def main(out: str) -> None:
    out = Path(out)
    models = {**small_models(), **golden()}
    for sub, items in (("parser", models), ("cmdloop", cmdloop_seeds(models))):
        d = out / sub
        d.mkdir(parents=True, exist_ok=True)
        for name, data in items.items():
            (d / name).write_bytes(data)
    print(f"seeds: {len(models)} parser, {len(cmdloop_seeds(models))} cmdloop in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "firmware" / "build" / "fuzz" / "seeds"))
