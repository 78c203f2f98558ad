"""`faulty://` -- a pyserial link that wraps another URL and damages bytes.

    faulty://?url=<inner url>&drop=P&dup=P&flip=P&delay=P&delay_ms=MS&seed=N
             [&dir=both|tx|rx][&cut=BYTES][&stats=PATH]
    faulty://<device path>?drop=...          (shorthand: the inner URL is the path)

Every byte crossing the link in a damaged direction (`dir`, default both) is,
independently: dropped with probability `drop`; otherwise sent twice with
probability `dup`; has one random bit flipped with probability `flip`; and is
preceded by a stall of `delay_ms` milliseconds (default 50) with probability
`delay`.  `cut=N` kills the link after N bytes were written (later writes are
swallowed, reads return nothing), like a pulled cable.  Percent-encode an inner
URL that has its own `?` or `&`.  The damage is a pure function of `seed` and of
the byte sequence in each direction, so a failing run can be replayed.

`self.stats` counts what was done: {"tx"|"rx": {"bytes", "drop", "dup", "flip",
"delay", "frames", "damaged_frames"}}.  A frame is everything up to and
including a 0x00 of the undamaged stream; a damaged frame lost, gained or
changed a byte (a doubled 0x00 only adds an empty frame, which is no damage).
`stats=PATH` writes the stats as JSON on close; OPENED lists the stats of every
link this process opened.  Call toolkit.serial_handlers.register() first.
"""
from __future__ import annotations

import json
import random
import time
import urllib.parse as urlparse

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException, to_bytes

RATE_OPTIONS = ("drop", "dup", "flip", "delay")
POLL_S = 0.005          # inner read timeout while we wait for our own deadline
# The stats of every link opened in this process, in order (for tests that
# open links indirectly, e.g. through the CLI).
OPENED: list[dict] = []


class _Damage:
    """The fault model of one direction."""

    def __init__(self, rates: dict, delay_s: float, seed: int, enabled: bool):
        self.rates, self.delay_s, self.enabled = rates, delay_s, enabled
        self.rng = random.Random(seed)
        self.stats = {"bytes": 0, "drop": 0, "dup": 0, "flip": 0, "delay": 0,
                      "frames": 0, "damaged_frames": 0}
        self._hit = False       # the frame in progress lost, gained or changed a byte

    def apply(self, data: bytes) -> list[tuple[float, bytes]]:
        """Return the damaged bytes as (stall seconds before, bytes) pieces."""
        self.stats["bytes"] += len(data)
        if not self.enabled or not any(self.rates.values()):
            self.count_frames(data)
            return [(0.0, bytes(data))]
        r, rnd = self.rates, self.rng.random
        pieces = [[0.0, bytearray()]]
        for b in data:
            delimiter = b == 0
            if r["delay"] and rnd() < r["delay"]:
                self.stats["delay"] += 1
                pieces.append([self.delay_s, bytearray()])
            if r["drop"] and rnd() < r["drop"]:
                self.stats["drop"] += 1
                self._end_of(delimiter, True)
                continue
            hit = False
            if r["flip"] and rnd() < r["flip"]:
                self.stats["flip"] += 1
                b ^= 1 << self.rng.randrange(8)
                hit = True
            pieces[-1][1].append(b)
            if r["dup"] and rnd() < r["dup"]:
                self.stats["dup"] += 1
                pieces[-1][1].append(b)
                hit = hit or b != 0     # a doubled delimiter is only an empty frame
            self._end_of(delimiter, hit)
        return [(stall, bytes(buf)) for stall, buf in pieces]

    def count_frames(self, data: bytes) -> None:
        """Frame accounting for an undamaged direction."""
        for b in data:
            self._end_of(b == 0, False)

    def _end_of(self, delimiter: bool, hit: bool) -> None:
        self._hit = self._hit or hit
        if delimiter:
            self.stats["frames"] += 1
            self.stats["damaged_frames"] += self._hit
            self._hit = False


def parse_url(url: str) -> tuple[str, dict]:
    """Split a faulty:// URL into the inner URL and the option dict."""
    parts = urlparse.urlsplit(url)
    if parts.scheme != "faulty":
        raise SerialException(f"expected faulty://?url=...: not starting with faulty:// ({url!r})")
    opts = {"drop": 0.0, "dup": 0.0, "flip": 0.0, "delay": 0.0, "delay_ms": 50.0,
            "seed": 0, "dir": "both", "cut": None, "stats": None}
    inner = (parts.netloc + parts.path) or None
    try:
        for key, values in urlparse.parse_qs(parts.query, keep_blank_values=True).items():
            value = values[-1]
            if key == "url":
                inner = value
            elif key in RATE_OPTIONS:
                opts[key] = float(value)
                if not 0.0 <= opts[key] <= 1.0:
                    raise ValueError(f"{key}={value} is not a probability in [0, 1]")
            elif key == "delay_ms":
                opts[key] = float(value)
            elif key in ("seed", "cut"):
                opts[key] = int(value)
            elif key == "stats":
                opts[key] = value
            elif key == "dir":
                if value not in ("both", "tx", "rx"):
                    raise ValueError(f"dir={value}: use both, tx or rx")
                opts[key] = value
            else:
                raise ValueError(f"unknown option {key!r}")
    except ValueError as e:
        raise SerialException(f"faulty:// URL {url!r}: {e}") from None
    if not inner:
        raise SerialException(f"faulty:// URL {url!r} names no inner link; add ?url=socket://HOST:PORT")
    return inner, opts


class Serial(SerialBase):
    """A link that damages bytes on their way to and from the inner link."""

    def __init__(self, *args, **kwargs):
        self.inner = None
        self.stats = {}
        self._rx_buf = bytearray()
        self._tx = self._rx = None
        self._written = 0
        self._cut = None
        self._stats_path = None
        super().__init__(*args, **kwargs)

    def open(self):
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        inner_url, o = parse_url(self._port)
        rates = {k: o[k] for k in RATE_OPTIONS}
        self._tx = _Damage(rates, o["delay_ms"] / 1000, o["seed"] * 2 + 1, o["dir"] in ("both", "tx"))
        self._rx = _Damage(rates, o["delay_ms"] / 1000, o["seed"] * 2 + 2, o["dir"] in ("both", "rx"))
        self.stats = {"tx": self._tx.stats, "rx": self._rx.stats}
        self._stats_path = o["stats"]
        self._cut, self._written = o["cut"], 0
        self._rx_buf = bytearray()
        extra = {} if self._exclusive is None else {"exclusive": self._exclusive}
        self.inner = serial.serial_for_url(inner_url, baudrate=self._baudrate, timeout=POLL_S,
                                           write_timeout=self._write_timeout, **extra)
        OPENED.append(self.stats)
        self.is_open = True

    def close(self):
        if self._stats_path and self.is_open:
            with open(self._stats_path, "w") as f:
                json.dump(self.stats, f)
        if self.inner is not None:
            try:
                self.inner.close()
            finally:
                self.inner = None
        self.is_open = False

    def _reconfigure_port(self):
        pass

    @property
    def dead(self) -> bool:
        return self._cut is not None and self._written >= self._cut

    def _pull(self, n: int) -> None:
        """Read up to n bytes from the inner link (waiting at most POLL_S) and damage them."""
        if self.dead:
            time.sleep(POLL_S)
            return
        data = self.inner.read(max(1, n))
        for stall, piece in self._rx.apply(data):
            if stall:
                time.sleep(stall)
            self._rx_buf += piece

    @property
    def in_waiting(self):
        if not self.is_open:
            raise PortNotOpenError()
        if not self.dead:
            n = self.inner.in_waiting
            if n:
                self._pull(n)
        return len(self._rx_buf)

    def read(self, size=1):
        if not self.is_open:
            raise PortNotOpenError()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while len(self._rx_buf) < size:
            if deadline is not None and time.monotonic() >= deadline:
                break
            self._pull(size - len(self._rx_buf))
            if self._timeout == 0:
                break
        out = bytes(self._rx_buf[:size])
        del self._rx_buf[:size]
        return out

    def write(self, data):
        if not self.is_open:
            raise PortNotOpenError()
        data = to_bytes(data)
        sent = len(data)
        if self._cut is not None:
            live = max(0, self._cut - self._written)
            self._written += len(data)
            data = data[:live]
        for stall, piece in self._tx.apply(data):
            if stall:
                time.sleep(stall)
            if piece:
                self.inner.write(piece)
        return sent

    def flush(self):
        if self.inner is not None:
            self.inner.flush()

    def reset_input_buffer(self):
        self._rx_buf.clear()
        if self.inner is not None:
            self.inner.reset_input_buffer()

    def reset_output_buffer(self):
        if self.inner is not None:
            self.inner.reset_output_buffer()

    def cancel_read(self):
        if self.inner is not None and hasattr(self.inner, "cancel_read"):
            self.inner.cancel_read()

    def _update_dtr_state(self):
        pass

    def _update_rts_state(self):
        pass

    def _update_break_state(self):
        pass
