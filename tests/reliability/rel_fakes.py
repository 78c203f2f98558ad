"""Fake boards on pseudo-terminals for the user-error tests: one that never
answers, and one that answers INFO (and nothing else) with chosen fields."""
from __future__ import annotations

import os
import select
import threading
import tty

from toolkit.format import spec
from toolkit.protocol.framing import FrameError, FrameSplitter, build_frame, decode_frame


def info_payload(**override) -> bytes:
    """An INFO answer as the firmware builds it (spec.INFO_RESPONSE + name)."""
    name = override.pop("name", "fake").encode()
    fields = dict(protocol_version=spec.PROTOCOL_VERSION, firmware_version=spec.FIRMWARE_VERSION,
                  max_payload=1024, max_model=16384, counter_hz=0,
                  dtype_mask=sum(1 << i for i in spec.DTYPES.values()),
                  layout_mask=sum(1 << i for i in spec.LAYOUTS.values()),
                  op_mask=sum(1 << i for i in spec.OPS.values()),
                  counter_kind=spec.COUNTER_KINDS["none"], name_length=len(name),
                  capabilities=spec.CAPABILITIES["train"])
    fields.update(override)
    return spec.INFO_RESPONSE.pack(*(fields[k] for k in spec.INFO_FIELDS)) + name


class FakeBoard:
    """A pty whose far end is this object.  `info=None`: never answers."""

    def __init__(self, info: bytes | None = None):
        self.info = info
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        splitter = FrameSplitter()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self.received += len(data)
            for wire in splitter.feed(data):
                if self.info is None:
                    continue
                try:
                    frame = decode_frame(wire)
                except FrameError:
                    continue
                if frame.cmd == spec.COMMANDS["INFO"]:
                    os.write(self.master, build_frame(frame.cmd | spec.RESPONSE_BIT, frame.seq, self.info))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
