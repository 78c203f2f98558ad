"""Build switches (BNRT_DTYPES, BNRT_TRAIN) on the host simulator: INFO
reports what the image contains, the image refuses what it lacks, and the
host refuses it clearly before trying; the non-blocking bnrt_cmd_poll()
serves the protocol like bnrt_main()."""
from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from toolkit import reference
from toolkit.cli import main
from toolkit.errors import BoardError, ProtocolError
from toolkit.format import spec
from toolkit.format.reader import read_model
from toolkit.launchers import sim
from toolkit.protocol.client import Client

ROOT = Path(__file__).resolve().parents[2]


def build_sim(build: Path, **switches) -> Path:
    args = [f"{k}={v}" for k, v in switches.items()]
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware"), "sim", f"BUILD={build}", *args],
                   check=True, capture_output=True, timeout=300)
    return build / "host" / "bnrt-sim"


@contextmanager
def serve(binary: Path, *extra: str):
    proc = subprocess.Popen([str(binary), "--tcp", "0", *extra], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def s8_only(tmp_path_factory) -> Path:
    return build_sim(tmp_path_factory.mktemp("s8only"), BNRT_DTYPES="s8", BNRT_TRAIN=0)


@pytest.fixture(scope="module")
def blobs():
    from toolkit.examples import tiny
    from toolkit.model.export import export
    return {"f32": export(tiny.build()).blob,
            "s8": export(tiny.build(), dtype="s8", calib=tiny.example_inputs()).blob}


def test_info_lists_what_the_image_contains(s8_only):
    with serve(sim.build()) as url, Client(url) as c:
        full = c.info()
    assert full.dtypes == ["f32", "s8", "s16"] and full.has("train") and not full.has("boot_model")
    with serve(s8_only) as url, Client(url) as c:
        small = c.info()
    assert small.dtypes == ["s8"] and small.capabilities == 0 and small.contents == ["s8"]


def test_training_brings_its_f32_kernel_without_f32_models(tmp_path):
    with serve(build_sim(tmp_path, BNRT_DTYPES="s8")) as url, Client(url) as c:
        info = c.info()
    assert info.dtypes == ["s8"] and info.has("train")


def test_the_image_refuses_what_it_lacks(s8_only, blobs):
    blob = blobs["f32"]
    with serve(s8_only) as url, Client(url) as c:
        c.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))
        c.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + blob)
        c.request("LOAD_COMMIT")                   # a valid file loads ...
        with pytest.raises(ProtocolError, match="ERR_UNSUPPORTED"):   # ... but cannot run
            c.run(0, np.zeros((1, 8, 4), np.float32), spatial=4)
        with pytest.raises(ProtocolError, match="ERR_UNSUPPORTED"):
            c.request("STATS", spec.STATS.pack(0, 1))


def test_the_host_refuses_a_dtype_and_training_the_image_lacks(s8_only, blobs, capsys):
    import torch
    from toolkit.adapt import adapt
    from toolkit.examples import tiny
    with serve(s8_only) as url:
        code = main(["verify", "toolkit.examples.tiny:build", "--dtype", "f32", "--port", url,
                     "--samples", "2"])
        err = capsys.readouterr().err
        assert code == 5 and "does not run f32 (it lists s8)" in err and err.count("\n") == 1
        with Client(url) as c, pytest.raises(BoardError, match="has f32 layers but board"):
            c.load(blobs["f32"])                   # `toolkit flash`, soak, ... upload through this
        with Client(url) as c, pytest.raises(BoardError, match="without on-device training"):
            adapt(tiny.build(), torch.randn(4, *tiny.INPUT_SHAPE).numpy(), c, batch_size=2)


def test_poll_serves_the_protocol_from_an_application_loop(blobs):
    blob = blobs["s8"]
    m = read_model(blob)
    rng = np.random.default_rng(3)
    with serve(sim.build(), "--poll") as url, Client(url) as c:
        assert c.load(blob) == (m.crc32, len(m.layers))
        for i, layer in enumerate(m.layers):
            x = rng.integers(-128, 128, (3, layer.channels, 5), dtype=np.int8)
            want = reference.bn_affine_int(x, layer.params["mult"], layer.params["bias"],
                                           layer.shift, "s8", "nchw")
            assert np.array_equal(c.run(i, x, spatial=5).output, want)
        c._ser.write(b"\x05\x01\x02")                # half a frame, then silence:
        time.sleep(2 * spec.FRAME_TIMEOUT_MS / 1000)  # the poll loop drops it, so the
        c.retries = 0                                 # next frame is answered at once
        assert c.info().dtypes == ["f32", "s8", "s16"]
