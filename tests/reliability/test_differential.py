"""Differential check of the two validators: random damage to valid models,
with the file CRC recomputed so that the damage reaches the deep checks
(layer table, parameters, strings, quantization).  The Python reader and the
C parser must give the same status for every damaged file, and accept the
same files."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from toolkit.format import reader, spec

from rel_helpers import GOLDEN, mixed_model

CASES_PER_BLOB = 3000
BLOBS = [(p.name, p.read_bytes()) for p in sorted(GOLDEN.glob("*.bnm"))] + [("mixed", mixed_model())]


def with_crc(blob: bytearray) -> bytes:
    if len(blob) >= spec.HEADER_SIZE:
        blob[spec.CRC_OFFSET:spec.CRC_OFFSET + 4] = spec.file_crc(bytes(blob)).to_bytes(4, "little")
    return bytes(blob)


def mutate(rng: random.Random, blob: bytes) -> bytes:
    b = bytearray(blob)
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        pos = rng.randrange(len(b))
        if kind < 0.5:
            b[pos] ^= 1 << rng.randrange(8)
        elif kind < 0.8:
            b[pos] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        elif kind < 0.9:                        # a 32-bit field set to an edge value
            pos -= pos % 4
            b[pos:pos + 4] = rng.choice([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                         len(b), len(b) - 8]).to_bytes(4, "little")
        else:                                   # grow or shrink, total_size kept consistent
            b = b + bytes(8) if rng.random() < 0.5 else b[:-8]
            if len(b) >= 16:
                b[12:16] = len(b).to_bytes(4, "little")
    return with_crc(b)


def status(fn, blob) -> str:
    try:
        fn(blob)
    except reader.FormatError as e:
        return e.status
    return "OK"


@pytest.mark.parametrize("name,blob", BLOBS, ids=[n for n, _ in BLOBS])
def test_reader_and_c_parser_agree_on_damaged_models(name, blob):
    from toolkit.runtime import default_runtime
    rt = default_runtime()
    rng = random.Random(name)
    seen, wrong = Counter(), []
    for i in range(CASES_PER_BLOB):
        damaged = mutate(rng, blob)
        py, c = status(reader.read_model, damaged), status(rt.load, damaged)
        seen[py] += 1
        if py != c:
            wrong.append(f"case {i}: reader {py}, C {c}: {damaged.hex()}")
    assert not wrong, f"{len(wrong)} disagreements:\n" + "\n".join(wrong[:10])
    # the damage reached past the CRC into the deep checks
    assert len(set(seen) - {"OK", "ERR_CRC", "ERR_TRUNCATED", "ERR_SIZE"}) >= 3, seen
