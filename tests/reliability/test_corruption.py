"""Exhaustive corruption: every truncation and every single-bit flip of small
model files is rejected with the status docs/format.md's validation order
predicts (conftest.expected_flip_status), and with the same status name by the
Python reader, the C runtime (ctypes) and the host simulator's LOAD."""
from __future__ import annotations

import pytest

from toolkit.errors import ProtocolError
from toolkit.format import reader
from toolkit.protocol.client import Client

from rel_helpers import corruption_blobs, expected_flip_status, flipped, status_of

BLOBS = corruption_blobs()
IDS = [name for name, _ in BLOBS]


@pytest.fixture(scope="module")
def rt():
    from toolkit.runtime import default_runtime

    return default_runtime()


def runtime_status(rt, blob: bytes) -> str:
    try:
        rt.load(blob)
    except reader.FormatError as e:
        return e.status
    return "OK"


def damaged_versions(blob: bytes):
    """(description, damaged blob, expected status) for every truncation and flip."""
    for n in range(len(blob)):
        yield f"truncated to {n}", blob[:n], "ERR_TRUNCATED"
    for byte in range(len(blob)):
        for bit in range(8):
            yield (f"bit {bit} of byte {byte} flipped", flipped(blob, byte, bit),
                   expected_flip_status(blob, byte, bit))


@pytest.mark.parametrize("name,blob", BLOBS, ids=IDS)
def test_intact_blob_loads_everywhere(rt, name, blob):
    assert reader.validation_status(blob) == "OK"
    assert runtime_status(rt, blob) == "OK"


@pytest.mark.parametrize("name,blob", BLOBS, ids=IDS)
def test_every_truncation_and_bit_flip_rejected_by_reader_and_runtime(rt, name, blob):
    wrong, count = [], 0
    for what, damaged, expected in damaged_versions(blob):
        got_py, got_c = reader.validation_status(damaged), runtime_status(rt, damaged)
        count += 1
        if not (got_py == got_c == expected):
            wrong.append(f"{what}: reader {got_py}, runtime {got_c}, expected {expected}")
    assert count == len(blob) * 9
    assert not wrong, f"{len(wrong)} of {count} damaged versions misjudged:\n" + "\n".join(wrong[:20])


@pytest.mark.parametrize("name,blob", BLOBS, ids=IDS)
def test_every_truncation_and_bit_flip_rejected_through_load_on_host_sim(host_sim, name, blob):
    """The board reports the parser's status for each damaged upload, and the
    model that was active before stays active and intact."""
    wrong = []
    with Client(host_sim) as c:
        crc, layers = c.load(blob)
        for what, damaged, expected in damaged_versions(blob):
            if not damaged:
                expected = "ERR_ARG"      # LOAD_BEGIN refuses an empty upload
            try:
                c.load(damaged)
                got = "OK"
            except ProtocolError as e:
                got = status_of(e)
            info = c.model_info(0)
            if got != expected or (info.crc32, info.layer_count) != (crc, layers):
                wrong.append(f"{what}: board said {got}, expected {expected}; "
                             f"active model crc {info.crc32:#x} (was {crc:#x})")
    assert not wrong, f"{len(wrong)} misjudged:\n" + "\n".join(wrong[:20])
