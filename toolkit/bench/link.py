"""Section 5: link efficiency.

(a) Framing overhead, computed with toolkit.protocol.framing: payload bytes
    over bytes on the wire for frames carrying 1 KiB of tensor data (RUN
    request and its answer, i.e. the verify traffic), random f32 data.
(b) The verify traffic (model upload + RUN of a tensor) through the protocol
    client against an emulated board, timed, with every byte on the wire
    counted; compared with the ideal transfer time at the board's line rate
    (10 bits per byte, request/answer back to back: the protocol waits for
    each answer).
"""
from __future__ import annotations

import time

import numpy as np

from ..format import spec
from .report import Section, Target


class CountingSerial:
    """Wraps a pyserial port, counting bytes each way."""

    def __init__(self, ser):
        self.__dict__["_ser"] = ser
        self.__dict__["tx"] = 0
        self.__dict__["rx"] = 0

    def write(self, data):
        self.__dict__["tx"] += len(data)
        return self._ser.write(data)

    def read(self, n=1):
        data = self._ser.read(n)
        self.__dict__["rx"] += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._ser, name)

    def __setattr__(self, name, value):
        setattr(self._ser, name, value)


def frame_efficiency(data_bytes: int = 1024, seed: int = 0) -> dict:
    from ..protocol import framing
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(data_bytes // 4).astype("<f4").tobytes()
    req = framing.build_frame(spec.COMMANDS["RUN"], 1,
                              spec.RUN.pack(0, 0, 1, 0, data_bytes // 4) + data)
    resp = framing.build_frame(spec.COMMANDS["RUN"] | spec.RESPONSE_BIT, 1,
                               spec.RUN_RESPONSE.pack(0) + data)
    bare = framing.build_frame(spec.COMMANDS["RUN"], 1, data)
    return {"data": data_bytes, "request_wire": len(req), "response_wire": len(resp),
            "bare_frame_wire": len(bare),
            "efficiency": 2 * data_bytes / (len(req) + len(resp)),
            "bare_efficiency": data_bytes / len(bare)}


def traffic(board_name: str, elements: int, dtype: str = "f32") -> dict:
    """Upload a one-layer model and run `elements` through it; time and count."""
    import torch

    from ..boards import get_board, start_board
    from ..model.export import export
    from ..protocol.client import Client

    board = get_board(board_name)
    c = 16
    m = torch.nn.Sequential(torch.nn.BatchNorm2d(c)).eval()
    x = np.random.default_rng(5).standard_normal((1, c, max(1, elements // c), 1)).astype(np.float32)
    blob = export(m, dtype=dtype, layout="nchw", calib=x).blob
    baud = int(board.get("uart.baud", 0) or 0)
    with start_board(board) as session:
        with Client(session.url, timeout=10) as cl:
            cl._ser = CountingSerial(cl._ser)
            cl.info()
            t0 = time.perf_counter()
            cl.load(blob)
            res = cl.run(0, x.reshape(-1), x.shape[2] * x.shape[3])
            wall = time.perf_counter() - t0
            wire = cl._ser.tx + cl._ser.rx
    ideal = wire * 10 / baud if baud else None
    return {"board": board_name, "elements": x.size, "model_bytes": len(blob), "frames": res.frames,
            "wire_bytes": wire, "payload_bytes": 2 * x.nbytes + len(blob), "wall_s": wall,
            "baud": baud or None, "ideal_s": ideal,
            "wall_over_ideal": (wall / ideal) if ideal else None,
            "throughput": wire / wall}


def run(quick: bool, qemu_board: str = "qemu-mps2-an386") -> Section:
    sec = Section("link", "Link efficiency: framing overhead and verify traffic time",
                  [("board", ""), ("elements", "count"), ("frames", "count"),
                   ("payload_bytes", "bytes"), ("wire_bytes", "bytes"),
                   ("efficiency", "payload/wire"), ("wall_s", "s"), ("baud", "bit/s"),
                   ("ideal_s", "s"), ("wall_over_ideal", "x"), ("throughput", "wire bytes/s")])
    fe = frame_efficiency()
    sec.rows.append({"board": "(framing, 1 KiB RUN round trip)", "elements": 256, "frames": 2,
                     "payload_bytes": 2 * fe["data"],
                     "wire_bytes": fe["request_wire"] + fe["response_wire"],
                     "efficiency": fe["efficiency"]})
    sec.notes.append(
        f"Framing: 1 KiB of random f32 data as a RUN request ({fe['request_wire']} bytes on the "
        f"wire, with the 16-byte RUN header) and its answer ({fe['response_wire']} bytes, with "
        f"the 4-byte tick count): {100 * (1 - fe['efficiency']):.2f}% overhead. A bare frame "
        f"with 1 KiB payload: {fe['bare_frame_wire']} bytes, {100 * (1 - fe['bare_efficiency']):.2f}% "
        "overhead (4-byte header, CRC-32, COBS, delimiter).")
    sec.targets.append(Target("framing overhead, 1 KiB RUN frames (verify traffic)",
                              100 * (1 - fe["efficiency"]), "%", "<=", 3.0))
    sec.notes.append("Traffic: toolkit.protocol.client.Client uploads a one-layer f32 model and "
                     "runs one tensor through it (what `toolkit verify` sends, without the torch "
                     "side); wire bytes counted on the port both ways; ideal = wire bytes x 10 "
                     "bits / baud. payload = tensor in + out + model bytes.")
    n = 4096 if quick else 16384
    boards = ["host-sim"] + ([] if quick else [qemu_board])
    ratio = None
    for b in boards:
        try:
            r = traffic(b, n)
        except Exception as e:   # a launcher not built or missing is reported, not fatal
            sec.notes.append(f"{b}: not measured: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            continue
        r["efficiency"] = r["payload_bytes"] / r["wire_bytes"]
        sec.rows.append({k: r.get(k) for k, _ in sec.columns})
        if b == qemu_board:
            ratio = r["wall_over_ideal"]
    if not quick:
        sec.targets.append(Target(f"verify traffic wall time / ideal at line rate ({qemu_board})",
                                  ratio, "x", "<=", 1.5,
                                  "QEMU's UART is not paced at the baud rate" if ratio else ""))
    return sec
