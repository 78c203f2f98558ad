"""Talk to a board over the serial protocol (docs/protocol.md).

Every link goes through `serial.serial_for_url`: a device path, a pty,
`socket://HOST:PORT`, `loop://`.  Every request is retried with the same seq on
a NAK, a garbled answer or a timeout; the firmware makes each command safe to
repeat.
"""
from __future__ import annotations

import errno
import fcntl
import socket
import struct
import termios
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import serial
from serial.urlhandler import protocol_socket

from ..errors import BoardError, InputError, ProtocolError
from ..format import spec
from .framing import Frame, FrameError, FrameSplitter, build_frame, decode_frame

DEFAULT_TIMEOUT = 2.0      # seconds to wait for an answer (plus transfer time)
DEFAULT_RETRIES = 3        # extra attempts after the first
DEFAULT_BAUDRATE = 115200
MIN_PAYLOAD = spec.MIN_PAYLOAD   # smallest data frame payload (every board accepts it)
GROW_AFTER = 8             # clean data frames before the frame size doubles again
_DATA_COMMANDS = ("LOAD_CHUNK", "RUN")


class _Resplit(Exception):
    """A data frame failed and the frame size shrank below it: the caller
    sends the same data again in smaller frames (RUN and LOAD_CHUNK are
    idempotent, so abandoning the big frame is safe)."""
# NAKs that line noise causes: the client never sends an oversized frame, so
# ERR_FRAME_SIZE means bytes were duplicated or a delimiter was lost on the way.
_RETRY_NAKS = {spec.STATUS["ERR_FRAME_CRC"], spec.STATUS["ERR_FRAME_FORMAT"],
               spec.STATUS["ERR_FRAME_SIZE"]}
# element type on the wire, per layer dtype
NUMPY_DTYPES = {dt: np.dtype("<" + code) for dt, code in spec.DTYPE_CODE.items()}


def _names(mask: int, table: dict) -> list[str]:
    return [name for name, ident in table.items() if mask >> ident & 1]


@dataclass(frozen=True)
class BoardInfo:
    protocol_version: int
    firmware_version: int
    max_payload: int
    max_model: int
    counter_hz: int
    dtype_mask: int
    layout_mask: int
    op_mask: int
    counter_kind: int
    name: str
    capabilities: int = 0

    def has(self, capability: str) -> bool:
        """Whether the image was built with `capability` (spec.CAPABILITIES)."""
        return bool(self.capabilities & spec.CAPABILITIES[capability])

    @property
    def contents(self) -> list[str]:
        """What the image contains: its dtypes, then its capabilities."""
        return self.dtypes + [k for k in spec.CAPABILITIES if self.has(k)]

    @property
    def dtypes(self) -> list[str]:
        return _names(self.dtype_mask, spec.DTYPES)

    @property
    def layouts(self) -> list[str]:
        return _names(self.layout_mask, spec.LAYOUTS)

    @property
    def ops(self) -> list[str]:
        return _names(self.op_mask, spec.OPS)

    @property
    def counter(self) -> str:
        kinds = {v: k for k, v in spec.COUNTER_KINDS.items()}
        return kinds.get(self.counter_kind, f"kind {self.counter_kind}")


@dataclass(frozen=True)
class LayerInfo:
    crc32: int
    layer_count: int
    layer: int
    op: str
    dtype: str
    layout: str
    flags: int
    channels: int


@dataclass(frozen=True)
class RunResult:
    output: np.ndarray
    ticks: int           # counter ticks summed over the frames (0: no counter)
    frames: int


def _open_serial(url: str, baudrate: int, timeout: float):
    from ..serial_handlers import register
    register()      # our URL schemes (faulty://) next to pyserial's own
    options = dict(baudrate=baudrate, timeout=timeout, exclusive=True)
    if not url.startswith("rfc2217://"):     # pyserial's RFC 2217 client has no write timeout
        options["write_timeout"] = timeout
    try:
        ser = serial.serial_for_url(url, **options)
    except (serial.SerialException, OSError, ValueError) as e:
        text = str(e)
        code = getattr(e, "errno", None)
        if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "busy" in text.lower() \
                or "lock" in text.lower():
            raise BoardError(f"port {url} is busy", "close the other program using it "
                             "(a serial monitor, mpremote, another toolkit run)") from None
        if code == errno.EACCES or "ermission" in text:
            raise BoardError(f"no permission to open {url}",
                             "add yourself to the dialout group (then log in again)") from None
        if code == errno.ENOENT:
            text = "no such device"
        elif code == errno.ECONNREFUSED or "refused" in text:
            text = "nothing listens there"
        raise BoardError(f"cannot open port {url}: {text}",
                         "check --port (`ls /dev/ttyACM* /dev/ttyUSB*`) and that the board is "
                         "plugged in and running") from None
    if url.startswith(("socket://", "rfc2217://")):
        sock = getattr(ser, "_socket", None)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ser


def _bytes_waiting(ser) -> int:
    """Bytes ready to read.  pyserial's socket:// in_waiting says only 0 or 1,
    which would make us read byte by byte (200 ms per 16 KiB frame); ask the
    socket itself.  (rfc2217:// reads the socket on a thread of its own and
    counts what it holds: its in_waiting is right.)"""
    if not isinstance(ser, protocol_socket.Serial):
        return ser.in_waiting
    sock = ser._socket
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
    except OSError:
        return ser.in_waiting


class Client:
    """A connection to one board.  Use as a context manager or call close()."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES, baudrate: int = DEFAULT_BAUDRATE):
        self.url, self.timeout, self.retries, self.baudrate = url, timeout, retries, baudrate
        self.retries_used = 0           # attempts beyond the first, over this connection
        # Frames shrink (halve, down to MIN_PAYLOAD) after a retried request, so a
        # noisy link still gets data through, and grow back after clean ones.
        self._payload_cap = 1 << 31
        self._clean = 0
        self._ser = _open_serial(url, baudrate, timeout)
        self._splitter = FrameSplitter()
        self._inbox: deque[bytes] = deque()
        self._seq = 0
        self._info: BoardInfo | None = None
        self._layers: dict[int, LayerInfo] = {}
        # A lone delimiter ends any half-received frame on the board.
        self._write(bytes([spec.FRAME_DELIMITER]))
        self._ser.reset_input_buffer()

    def close(self) -> None:
        if self._ser is not None:
            self._ser.close()
            self._ser = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ transport
    def _transfer_time(self, nbytes: int) -> float:
        return 2.0 * nbytes * 10 / self.baudrate    # 10 bits per byte, with margin

    def _next_frame(self, deadline: float) -> Frame | None:
        """The next frame from the board, or None at the deadline.  Raises
        FrameError for a garbled one."""
        while not self._inbox:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            wait = min(left, 0.5)
            if self._ser.timeout != wait:   # rfc2217:// renegotiates the port on every change
                self._ser.timeout = wait
            self._inbox.extend(self._splitter.feed(self._ser.read(max(1, _bytes_waiting(self._ser)))))
        return decode_frame(self._inbox.popleft())

    def _lost(self, e: Exception) -> BoardError:
        return BoardError(f"lost the connection to {self.url}: {e}",
                          "check that the board is still connected and running, then retry")

    def _write(self, wire: bytes) -> None:
        try:
            self._ser.write(wire)
        except serial.SerialException as e:    # includes the write timeout
            raise self._lost(e) from None

    def request(self, command: str, payload: bytes = b"", answer_bytes: int = 64,
                resplit: bool = False) -> bytes:
        """Send one command and return the payload of its OK answer."""
        if self._ser is None:
            raise BoardError("the connection is closed", "open a new Client")
        cmd = spec.COMMANDS[command]
        # seq runs 1..255: 0 is what the board puts in NAKs of frames too short to carry one
        self._seq = self._seq % 255 + 1
        wire = build_frame(cmd, self._seq, payload)
        wait = self.timeout + self._transfer_time(len(wire) + answer_bytes)
        heard, last = False, "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                self.retries_used += 1
                if command in _DATA_COMMANDS:
                    self._payload_cap = max(MIN_PAYLOAD, min(self._payload_cap, len(payload)) // 2)
                    self._clean = 0
                    if resplit and len(payload) > self._max_payload():
                        raise _Resplit
            self._write(wire)
            deadline = time.monotonic() + wait
            while True:
                try:
                    frame = self._next_frame(deadline)
                except FrameError as e:
                    heard, last = True, f"garbled answer ({e})"
                    break
                except serial.SerialException as e:
                    raise self._lost(e) from None
                if frame is None:
                    break
                heard = True
                if frame.is_nak:
                    if frame.seq != self._seq:
                        continue    # line noise before our request, or an older frame
                    if frame.status not in _RETRY_NAKS:
                        raise _status_error(command, frame.status)
                    last = f"the board could not read the request ({spec.status_name(frame.status)})"
                    break
                if frame.cmd == cmd | spec.RESPONSE_BIT and frame.seq == self._seq:
                    if frame.status != spec.STATUS["OK"]:
                        raise _status_error(command, frame.status)
                    if attempt == 0 and command in _DATA_COMMANDS:
                        self._clean += 1
                        if self._clean >= GROW_AFTER:
                            self._payload_cap, self._clean = self._payload_cap * 2, 0
                    return frame.payload
                # a stale answer to an earlier attempt: keep reading
        if not heard:
            raise BoardError(f"board not answering on {self.url}",
                             "check the port, that the firmware runs and the baud rate; "
                             "reset the board")
        raise ProtocolError(f"{command} failed after {self.retries + 1} attempts: {last}",
                            "check the serial link (cable, baud rate)")

    # ------------------------------------------------------------- commands
    def info(self) -> BoardInfo:
        payload = self.request("INFO")
        fixed = spec.INFO_RESPONSE.size
        if len(payload) < fixed:
            raise ProtocolError(f"INFO answer of {len(payload)} bytes is too short",
                                "update the firmware (`toolkit flash`)")
        fields = dict(zip(spec.INFO_FIELDS, spec.INFO_RESPONSE.unpack_from(payload)))
        if fields["protocol_version"] != spec.PROTOCOL_VERSION:
            raise ProtocolError(
                f"the board speaks protocol version {fields['protocol_version']}, this toolkit "
                f"version {spec.PROTOCOL_VERSION}", "flash firmware built by this toolkit (`toolkit flash`)")
        n = fields.pop("name_length")
        name = payload[fixed:fixed + n].decode("utf-8", "replace")
        self._info = BoardInfo(name=name, **fields)
        return self._info

    @property
    def board(self) -> BoardInfo:
        return self._info if self._info is not None else self.info()

    def _max_payload(self) -> int:
        """Payload bytes for the next data frame: the board's limit, or less
        while the link is noisy."""
        return max(MIN_PAYLOAD, min(self.board.max_payload, self._payload_cap))

    def reset(self) -> None:
        self.request("RESET")

    def model_info(self, layer: int = 0) -> LayerInfo:
        payload = self.request("MODEL_INFO", spec.MODEL_INFO.pack(layer))
        f = dict(zip(spec.MODEL_INFO_FIELDS, spec.MODEL_INFO_RESPONSE.unpack_from(payload)))
        ids = {kind: {v: k for k, v in table.items()}
               for kind, table in (("op", spec.OPS), ("dtype", spec.DTYPES), ("layout", spec.LAYOUTS))}
        for kind in ids:
            f[kind] = ids[kind].get(f[kind], str(f[kind]))
        info = LayerInfo(**f)
        self._layers[layer] = info
        return info

    def load(self, blob: bytes, progress=None) -> tuple[int, int]:
        """Upload a model; it replaces the active one only if it validates.
        Returns (crc32, layer_count) as the board reports them."""
        blob = bytes(blob)
        board = self.board
        if len(blob) > board.max_model:
            raise BoardError(f"the model is {len(blob)} bytes but board {board.name!r} holds at most "
                             f"{board.max_model} bytes per model", "use fewer layers or a board with more RAM")
        missing = sorted(_blob_dtypes(blob) - set(board.dtypes))
        if missing:
            raise BoardError(f"the model has {', '.join(missing)} layers but board {board.name!r} runs "
                             f"{', '.join(board.dtypes)} only (an image built without them)",
                             f"export in {', '.join(board.dtypes)} or flash an image with "
                             f"`toolkit build --dtypes {','.join(sorted(set(board.dtypes) | set(missing)))}`")
        self._layers.clear()
        self.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))
        offset = 0
        while offset < len(blob):
            step = self._max_payload() - spec.LOAD_CHUNK.size
            try:
                self.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(offset) + blob[offset:offset + step],
                             resplit=True)
            except _Resplit:
                continue
            offset = min(offset + step, len(blob))
            if progress is not None:
                progress(offset, len(blob))
        crc, layers = spec.LOAD_COMMIT_RESPONSE.unpack(self.request("LOAD_COMMIT"))
        return crc, layers

    def run(self, layer: int, data: np.ndarray, spatial: int, progress=None) -> RunResult:
        """Run `layer` on `data` (any shape, in the layer's layout and dtype);
        streams it in frame-sized element ranges.  Returns the output with
        `data`'s shape."""
        info = self._layers.get(layer) or self.model_info(layer)
        dt = NUMPY_DTYPES[info.dtype]
        arr = np.asarray(data)
        if arr.dtype != dt.newbyteorder("="):
            raise InputError(f"layer {layer} is {info.dtype} but the input is {arr.dtype}",
                             f"pass a {dt.name} array in the layer's layout")
        flat = np.ascontiguousarray(arr.reshape(-1), dtype=dt)
        if flat.size >= 1 << 32:
            raise InputError("a tensor of 2^32 or more elements does not fit the protocol",
                             "split the input into smaller batches")
        out = np.empty_like(flat)
        ticks = frames = first = 0
        while first < flat.size:
            per_frame = (self._max_payload() - spec.RUN.size) // dt.itemsize
            chunk = flat[first:first + per_frame]
            head = spec.RUN.pack(layer, 0, spatial, first, chunk.size)
            try:
                answer = self.request("RUN", head + chunk.tobytes(), answer_bytes=chunk.nbytes + 16,
                                      resplit=True)
            except _Resplit:
                continue
            (t,) = spec.RUN_RESPONSE.unpack_from(answer)
            body = answer[spec.RUN_RESPONSE.size:]
            if len(body) != chunk.nbytes:
                raise ProtocolError(f"RUN answered {len(body)} bytes for {chunk.nbytes}",
                                    "update the firmware (`toolkit flash`)")
            out[first:first + chunk.size] = np.frombuffer(body, dt)
            ticks += t
            frames += 1
            first += chunk.size
            if progress is not None:
                progress(first, flat.size)
        return RunResult(out.reshape(arr.shape).astype(dt.newbyteorder("=")), ticks, frames)


def _blob_dtypes(blob: bytes) -> set[str]:
    """The dtypes of the layers a model file declares, read leniently: a file
    too broken to tell gives what could be read (the board validates it)."""
    names = {v: k for k, v in spec.DTYPES.items()}
    if len(blob) < spec.HEADER_SIZE:
        return set()
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    out = set()
    for i in range(h["layer_count"]):
        off = h["layers_offset"] + i * spec.LAYER_SIZE
        if off + spec.LAYER_SIZE > len(blob):
            break
        dtype = names.get(spec.LAYER.unpack_from(blob, off)[1])
        if dtype is not None:
            out.add(dtype)
    return out


def _status_error(command: str, status: int) -> ProtocolError:
    error = ProtocolError(f"the board rejected {command}: {spec.status_message(status)}")
    error.status = spec.status_name(status)    # the name, as FormatError and StatusError carry it
    return error
