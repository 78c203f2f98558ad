"""Serial fault injection (faulty://, docs/reliability.md): on a link that
drops, doubles, flips and delays bytes, every damaged frame is detected and
retried, nothing corrupted gets through, and `toolkit verify` reports exactly
what it reports on a clean link.  Plus: the host simulator survives 1 MB of
random garbage."""
from __future__ import annotations

import json
import os
import urllib.parse

import numpy as np
import pytest
import serial

from toolkit import reference
from toolkit.cli import main
from toolkit.protocol import client as client_mod
from toolkit.protocol.client import Client
from toolkit.serial_handlers import protocol_faulty, register

from rel_helpers import mixed_model

register()

# rate = total per-byte probability of damage, split evenly between drop, dup
# and flip; (samples, batch sizes) sized so that each rate damages some frames.
RATES = {1e-4: 192, 1e-3: 64, 1e-2: 8}
LINK_TIMEOUT = 0.25      # a lost delimiter costs one timeout: keep it short
LINK_RETRIES = 60        # at 1e-2, a 100-byte round trip succeeds ~1 in 6

MODEL_PY = """
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    m = nn.Sequential(nn.BatchNorm1d(4))
    with torch.no_grad():
        m[0].running_mean.copy_(torch.randn(4))
        m[0].running_var.copy_(torch.rand(4) + 0.5)
        m[0].weight.copy_(torch.randn(4))
        m[0].bias.copy_(torch.randn(4))
    return m.eval()
"""


def faulty(inner: str, rate: float, seed: int, **extra) -> str:
    q = {"url": inner, "drop": rate / 3, "dup": rate / 3, "flip": rate / 3, "seed": seed, **extra}
    return "faulty://?" + urllib.parse.urlencode(q)


def run_verify(model: str, port: str, samples: int, out) -> tuple[int, dict]:
    report = out / f"report-{len(os.listdir(out))}.json"
    code = main(["verify", model, "--port", port, "--input-shape", "4", "--samples", str(samples),
                 "--batch-sizes", "1", "--report", str(report), "--timeout", str(LINK_TIMEOUT),
                 "--retries", str(LINK_RETRIES)])
    return code, json.loads(report.read_text()) if report.exists() else {}


def comparable(report: dict) -> dict:
    """The report without what legitimately differs between runs: timings,
    retries and the frame count (frames shrink on a noisy link)."""
    r = json.loads(json.dumps(report))
    r.pop("link", None)
    for layer in r.get("layers", []):
        layer.pop("device_ticks", None)
        layer.pop("frames", None)
        for b in layer.get("batches", {}).values() if isinstance(layer.get("batches"), dict) else []:
            if isinstance(b, dict):
                b.pop("device_ticks", None)
    return r


@pytest.mark.parametrize("rate", list(RATES))
def test_verify_through_faulty_link_matches_clean_run(host_sim, tmp_path, rate):
    (tmp_path / "bn.py").write_text(MODEL_PY)
    model = f"{tmp_path / 'bn.py'}:build"
    samples = RATES[rate]
    first = len(protocol_faulty.OPENED)
    code, clean = run_verify(model, faulty(host_sim, 0.0, 0), samples, tmp_path)
    assert code == 0 and clean["pass"]
    code, damaged = run_verify(model, faulty(host_sim, rate, 11), samples, tmp_path)
    clean_stats, stats = protocol_faulty.OPENED[first:first + 2]
    assert code == 0, f"verify failed on a {rate} link: {stats}"
    assert comparable(damaged) == comparable(clean)
    retries = damaged["link"]["retries"]
    assert clean["link"]["retries"] == 0
    damaged_frames = stats["tx"]["damaged_frames"] + stats["rx"]["damaged_frames"]
    print(f"rate {rate}: {stats['tx']['frames']} request frames, {damaged_frames} damaged "
          f"(tx {stats['tx']['damaged_frames']}, rx {stats['rx']['damaged_frames']}), {retries} retries")
    # every damaged request had to be sent again
    assert retries >= stats["tx"]["damaged_frames"]
    assert damaged_frames > 0 or rate < 1e-3, "the link damaged nothing: raise the traffic"


def test_streamed_outputs_bit_exact_through_faulty_link(host_sim):
    """RUN traffic checked element by element against toolkit.reference."""
    blob = mixed_model()
    from toolkit.format.reader import read_model
    layer = read_model(blob).layers[0]              # f32, nchw, 3 channels
    x = np.random.default_rng(3).standard_normal((4, 3, 2)).astype(np.float32)
    want = reference.bn_affine_f32(x, layer.params["a"], layer.params["b"], "nchw", layer.fused)
    url = faulty(host_sim, 3e-3, 5)
    with Client(url, timeout=LINK_TIMEOUT, retries=LINK_RETRIES) as c:
        c.load(blob)
        for _ in range(40):
            got = c.run(0, x, spatial=2).output
            assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist()
        stats = c._ser.stats
    assert stats["tx"]["damaged_frames"] + stats["rx"]["damaged_frames"] > 0


def test_cut_link_reports_board_not_answering(host_sim):
    """A link that goes dead mid-request ends in one clear BoardError."""
    from toolkit.errors import BoardError
    with pytest.raises(BoardError, match="not answering"):
        with Client(faulty(host_sim, 0.0, 0, cut=20), timeout=0.2, retries=1) as c:
            c.info()
            c.load(mixed_model())


def drain(port, quiet_s: float = 0.3) -> int:
    """Read until the board has been silent for quiet_s; returns the bytes read."""
    port.timeout = quiet_s
    n = 0
    while chunk := port.read(1 << 16):
        n += len(chunk)
    return n


def test_device_answers_info_after_1mb_of_garbage(host_sim):
    blob = mixed_model()
    with Client(host_sim) as c:
        crc, _ = c.load(blob)
    rng = np.random.default_rng(99)
    with serial.serial_for_url(host_sim, timeout=0) as raw:
        answered = 0
        for _ in range(256):                     # 256 x 4 KiB = 1 MiB
            raw.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
            answered += len(raw.read(1 << 20))   # drain NAKs so neither side blocks
        answered += drain(raw)
    with Client(host_sim) as c:
        info = c.info()
        assert info.protocol_version == client_mod.spec.PROTOCOL_VERSION
        assert c.model_info(0).crc32 == crc     # the garbage changed no model
    assert answered > 0                          # the board NAKed the garbage it could frame


def test_stale_naks_from_line_noise_do_not_fail_the_next_request(host_sim):
    """Regression: the client once took every NAK as the answer to its current
    request, so NAKs for noise sent *before* the request used up its retries."""
    # Ten broken frames (a COBS block cut short) just before INFO: the board
    # NAKs each of them before it sees INFO.
    noise = b"\x05\x01\x00" * 10
    with Client(host_sim, retries=3) as c:
        c._ser.write(noise)
        assert c.info().protocol_version == client_mod.spec.PROTOCOL_VERSION


def test_large_tensor_streams_through_a_noisy_link_in_smaller_frames(host_sim):
    """At 1e-3 per byte a 16 KiB frame almost never arrives whole: the client
    resends the data in smaller frames, and every output is still exact."""
    from toolkit.format.writer import LayerBlob, write_model

    rng = np.random.default_rng(21)
    c = 8
    layer = LayerBlob("f32", "nchw", c, {"a": rng.standard_normal(c).astype(np.float32),
                                         "b": rng.standard_normal(c).astype(np.float32)})
    x = rng.standard_normal((4, c, 512)).astype(np.float32)          # 16,384 elements, 64 KiB
    with Client(host_sim) as clean:
        clean.load(write_model([layer]))
        big_frames = clean.run(0, x, spatial=512).frames
    with Client(faulty(host_sim, 1e-3, 4), timeout=LINK_TIMEOUT, retries=LINK_RETRIES) as noisy:
        result = noisy.run(0, x, spatial=512)
        retries = noisy.retries_used
    want = reference.bn_affine_f32(x, layer.params["a"], layer.params["b"], "nchw", layer.fused)
    assert result.output.view(np.uint32).tobytes() == want.view(np.uint32).tobytes()
    assert retries > 0 and result.frames > big_frames
