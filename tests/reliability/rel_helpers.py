"""Helpers shared by the reliability tests (docs/reliability.md)."""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from toolkit import reference
from toolkit.format import reader, spec
from toolkit.format.writer import LayerBlob, write_model

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
STATUS_IN_MESSAGE = re.compile(r"\((ERR_[A-Z0-9_]+)\)")


def mixed_model() -> bytes:
    """A small model with every dtype, both layouts and a strings section."""
    rng = np.random.default_rng(7)
    return write_model([
        LayerBlob("f32", "nchw", 3, {"a": rng.standard_normal(3).astype(np.float32),
                                     "b": rng.standard_normal(3).astype(np.float32)}, name="bn1"),
        LayerBlob("s8", "nhwc", 2, {"mult": np.array([1 << 20, -(1 << 19)], np.int32),
                                    "bias": np.array([1 << 15, -7], np.int32)},
                  in_scale=0.05, in_zero_point=-3, out_scale=0.1, out_zero_point=4, shift=16),
        LayerBlob("s16", "nchw", 1, {"mult": np.array([1 << 29], np.int32),
                                     "bias": np.array([-(1 << 40)], np.int64)},
                  in_scale=0.001, out_scale=0.002, shift=30, name="bn3"),
    ])


def smallest_golden() -> tuple[str, bytes] | None:
    files = sorted(GOLDEN.glob("*.bnm"), key=lambda p: p.stat().st_size)
    return (files[0].name, files[0].read_bytes()) if files else None


def corruption_blobs() -> list[tuple[str, bytes]]:
    """The blobs the corruption tests damage: the smallest golden file (once
    the exporter has produced them) and a writer-built mixed model."""
    out = [("mixed", mixed_model())]
    g = smallest_golden()
    if g is not None:
        out.insert(0, g)
    return out


def status_of(exc: BaseException) -> str:
    """The spec status name an error carries (attribute or "(ERR_X)" in the text)."""
    status = getattr(exc, "status", None)
    if status:
        return status
    m = STATUS_IN_MESSAGE.search(str(exc))
    return m.group(1) if m else f"no status in {exc!r}"


def expected_flip_status(blob: bytes, byte: int, bit: int) -> str:
    """What a reader must report for `blob` with one bit flipped, derived from
    the validation order of docs/format.md (independent of both readers): the
    header fields checked before the CRC report their own status; anything
    else is caught by the CRC."""
    tokens = re.findall(r"\d*[a-zA-Z]", spec.HEADER.format)
    fields = {name: (struct.calcsize("<" + "".join(tokens[:i])), struct.calcsize("<" + tok))
              for i, (name, tok) in enumerate(zip(spec.HEADER_FIELDS, tokens))}

    def inside(name):
        start, size = fields[name]
        return start <= byte < start + size
    if inside("magic"):
        return "ERR_MAGIC"
    if inside("major"):
        return "ERR_VERSION"
    if inside("header_size"):
        return "ERR_HEADER"
    if inside("total_size"):
        start, _ = fields["total_size"]
        damaged = bytearray(blob)
        damaged[byte] ^= 1 << bit
        total = int.from_bytes(damaged[start:start + 4], "little")
        return "ERR_TRUNCATED" if total > len(blob) else "ERR_SIZE"
    return "ERR_CRC"


def flipped(blob: bytes, byte: int, bit: int) -> bytes:
    b = bytearray(blob)
    b[byte] ^= 1 << bit
    return bytes(b)


# ---- safe model updates: an old model, a new one, and the upload's frames

CHUNK = 48          # small chunks, so that a small model takes several
X = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)


def new_model() -> bytes:
    """The update: a different f32 model with 3 channels in layer 0, several chunks long."""
    rng = np.random.default_rng(8)
    layers = [LayerBlob("f32", "nchw", 3, {"a": rng.standard_normal(3).astype(np.float32),
                                           "b": rng.standard_normal(3).astype(np.float32)},
                        fused=False, name="updated")]
    layers += [LayerBlob("f32", "nhwc", 16, {"a": np.ones(16, np.float32), "b": np.zeros(16, np.float32)})]
    return write_model(layers)


def expected_output(blob: bytes) -> np.ndarray:
    layer = reader.read_model(blob).layers[0]
    return reference.bn_affine_f32(X, layer.params["a"], layer.params["b"], "nchw", layer.fused)


def upload_frames(blob: bytes) -> list[tuple[str, bytes]]:
    frames = [("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))]
    frames += [("LOAD_CHUNK", spec.LOAD_CHUNK.pack(o) + blob[o:o + CHUNK]) for o in range(0, len(blob), CHUNK)]
    return frames + [("LOAD_COMMIT", b"")]
