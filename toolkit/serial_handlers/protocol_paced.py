"""`paced://HOST:PORT?chunk=N&gap_ms=M` -- `socket://HOST:PORT` whose writes go
out in pieces of N bytes (default 32) with M milliseconds (default 4) after
each.  For boards whose receive buffer is smaller than a frame and that drop
what does not fit while the interpreter is busy (the micro:bit's MicroPython
under QEMU; docs/micropython.md).  Call toolkit.serial_handlers.register()
first."""
from __future__ import annotations

import time
import urllib.parse as urlparse

from serial.urlhandler import protocol_socket


class Serial(protocol_socket.Serial):
    chunk = 32
    gap = 0.004

    def from_url(self, url):
        parts = urlparse.urlsplit(url)
        for key, values in urlparse.parse_qs(parts.query, True).items():
            if key == "chunk":
                self.chunk = max(1, int(values[0]))
            elif key == "gap_ms":
                self.gap = float(values[0]) / 1000.0
            else:
                raise ValueError(f"paced://: unknown option {key!r} (chunk, gap_ms)")
        return super().from_url(f"socket://{parts.netloc}")

    def write(self, data):
        data = bytes(data)
        for i in range(0, len(data), self.chunk):
            super().write(data[i:i + self.chunk])
            time.sleep(self.gap)
        return len(data)
