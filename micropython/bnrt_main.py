# The bnrt serial protocol (docs/protocol.md) on MicroPython: the same frames,
# commands and statuses as the C command loop (firmware/src/cmdloop.c), over
# sys.stdin.buffer / sys.stdout.buffer (a pty on the unix port, USB serial on
# a board).
#
#   import bnrt_main; bnrt_main.serve(name="rp2-pico-micropython")
import struct
import sys
import time
import micropython
import select
import bnrt
from bnrt_spec import *  # noqa: F401,F403

_COUNTER_TIME = COUNTER_TIME
_TIMEOUT_MS = FRAME_TIMEOUT_MS
_MASK_DTYPE = DTYPE_MASK_ALL
_MASK_LAYOUT = LAYOUT_MASK_ALL
_MASK_OP = OP_MASK_ALL
_ESIZE = {DTYPE_F32: DTYPE_SIZE_F32, DTYPE_S8: DTYPE_SIZE_S8, DTYPE_S16: DTYPE_SIZE_S16}


def cobs_encode(data):
    out = bytearray()
    i, n = 0, len(data)
    while True:
        end = data.find(b"\0", i, min(n, i + 254)) if i < n else n
        if end < 0:
            end = min(n, i + 254)
        out.append(end - i + 1)
        out += data[i:end]
        if end == n:
            return out
        i = end if end - i == 254 else end + 1


def cobs_decode(data):
    """(decoded bytes, ok); ok is False for a block cut short."""
    out = bytearray()
    i, n = 0, len(data)
    code = 0xFF
    while i < n:
        if i and code != 0xFF:
            out.append(0)
        code = data[i]
        end = i + code
        out += data[i + 1:min(end, n)]
        if end > n:
            return out, False
        i = end
    return out, True


class Server:
    def __init__(self, name, max_payload=4096, max_model=1 << 20):
        self.name = name.encode()[:255]
        self.max_payload = max_payload
        self.max_model = max_model
        self.model = None
        self.upload = None        # the staging slot; self.model keeps the active blob
        self.loading = False
        self.total = self.received = self.load_crc = 0
        self.commit_done = False
        self.last = (-1, -1)

    def load_file(self, path):
        try:
            with open(path, "rb") as f:
                blob = bytearray(f.read())
            self.model = bnrt.load(blob)
        except (OSError, bnrt.BnrtError):
            self.model = None

    # Each handler returns (status, response payload).
    def info(self, p):
        if len(p):
            return ERR_FRAME_FORMAT, b""
        return OK, struct.pack(INFO_FMT, PROTOCOL_VERSION, FIRMWARE_VERSION, self.max_payload,
                               self.max_model, 1000000 if _COUNTER_TIME else 0, _MASK_DTYPE,
                               _MASK_LAYOUT, _MASK_OP, _COUNTER_TIME, len(self.name),
                               0) + self.name   # capabilities: no TRAIN, no linked model

    def load_begin(self, p):
        if len(p) != struct.calcsize(LOAD_BEGIN_FMT):
            return ERR_FRAME_FORMAT, b""
        total, crc = struct.unpack(LOAD_BEGIN_FMT, p)
        self.loading = False
        self.upload = None
        if total == 0:
            return ERR_ARG, b""
        if total > self.max_model:
            return ERR_TOO_LARGE, b""
        self.upload = bytearray(total)
        self.total, self.load_crc, self.received, self.loading = total, crc, 0, True
        return OK, b""

    def load_chunk(self, p):
        if len(p) < LOAD_CHUNK_SIZE:
            return ERR_FRAME_FORMAT, b""
        if not self.loading:
            return ERR_LOAD_STATE, b""
        offset = struct.unpack_from(LOAD_CHUNK_FMT, p)[0]
        n = len(p) - LOAD_CHUNK_SIZE
        if offset > self.received or n > self.total - offset:   # retries may repeat, never leave a gap
            return ERR_LOAD_RANGE, b""
        self.upload[offset:offset + n] = p[LOAD_CHUNK_SIZE:]
        self.received = max(self.received, offset + n)
        return OK, b""

    def commit_response(self):
        return struct.pack(LOAD_COMMIT_FMT, self.model.crc32, self.model.layer_count)

    def load_commit(self, p, seq):
        if len(p):
            return ERR_FRAME_FORMAT, b""
        if not self.loading:
            if self.commit_done and self.last == (CMD_LOAD_COMMIT, seq):   # a retried commit
                return OK, self.commit_response()
            return ERR_LOAD_STATE, b""
        if self.received != self.total:
            return ERR_INCOMPLETE, b""
        blob, self.upload, self.loading = self.upload, None, False
        if bnrt.crc32(blob) != self.load_crc:
            return ERR_CRC, b""
        try:
            model = bnrt.load(blob)
        except bnrt.BnrtError as e:
            return e.status, b""
        self.model = model        # only now does the new model replace the old one
        return OK, self.commit_response()

    def run(self, p):
        if len(p) < RUN_SIZE:
            return ERR_FRAME_FORMAT, b""
        layer, reserved, spatial, first, count = struct.unpack_from(RUN_FMT, p)
        if reserved:
            return ERR_ARG, b""
        if self.model is None:
            return ERR_NO_MODEL, b""
        if layer >= self.model.layer_count:
            return ERR_LAYER, b""
        esize = _ESIZE[self.model.layers[layer].dtype]
        n = len(p) - RUN_SIZE
        if n % esize or n // esize != count:
            return ERR_SHAPE, b""
        if n > self.max_payload - struct.calcsize(RUN_RESPONSE_FMT):
            return ERR_FRAME_SIZE, b""
        if count == 0:
            return OK, struct.pack(RUN_RESPONSE_FMT, 0)
        if spatial == 0 or first + count > 0xFFFFFFFF:
            return ERR_SHAPE, b""
        x = bytearray(p[RUN_SIZE:])       # aligned copy of the input; the kernel runs in place
        t0 = time.ticks_us()
        try:
            self.model.run(layer, x, x, spatial, first)
        except bnrt.BnrtError as e:
            return e.status, b""
        ticks = time.ticks_diff(time.ticks_us(), t0) if _COUNTER_TIME else 0
        return OK, struct.pack(RUN_RESPONSE_FMT, ticks & 0xFFFFFFFF) + x

    def model_info(self, p):
        if len(p) != struct.calcsize(MODEL_INFO_FMT):
            return ERR_FRAME_FORMAT, b""
        if self.model is None:
            return ERR_NO_MODEL, b""
        index = struct.unpack(MODEL_INFO_FMT, p)[0]
        if index >= self.model.layer_count:
            return ERR_LAYER, b""
        L = self.model.layers[index]
        return OK, struct.pack(MODEL_INFO_RESPONSE_FMT, self.model.crc32, self.model.layer_count,
                               index, L.op, L.dtype, L.layout, L.flags, L.channels)

    def dispatch(self, cmd, seq, p):
        if cmd == CMD_INFO:
            return self.info(p)
        if cmd == CMD_LOAD_BEGIN:
            return self.load_begin(p)
        if cmd == CMD_LOAD_CHUNK:
            return self.load_chunk(p)
        if cmd == CMD_LOAD_COMMIT:
            return self.load_commit(p, seq)
        if cmd == CMD_RUN:
            return self.run(p)
        if cmd == CMD_MODEL_INFO:
            return self.model_info(p)
        if cmd == CMD_RESET:
            if len(p):
                return ERR_FRAME_FORMAT, b""
            self.loading, self.upload = False, None
            return OK, b""
        return ERR_COMMAND, b""

    def handle(self, frame):
        """A decoded frame -> the decoded response frame."""
        if len(frame) < FRAME_OVERHEAD:
            return _frame(NAK, frame[FRAME_OFF_SEQ] if len(frame) > FRAME_OFF_SEQ else 0, ERR_FRAME_FORMAT, b"")
        body = memoryview(frame)[:-FRAME_CRC_SIZE]
        cmd, seq, status, flags = frame[0], frame[1], frame[2], frame[3]
        if bnrt.crc32(body) != struct.unpack_from("<I", frame, len(frame) - 4)[0]:
            return _frame(NAK, seq, ERR_FRAME_CRC, b"")
        if status or flags:
            st, out = ERR_FRAME_FORMAT, b""
        else:
            st, out = self.dispatch(cmd, seq, body[FRAME_SIZE:])
            if st != OK:
                out = b""
        self.commit_done = cmd == CMD_LOAD_COMMIT and st == OK
        self.last = (cmd, seq)
        return _frame(cmd | RESPONSE_BIT, seq, st, out)


def _frame(cmd, seq, status, payload):
    body = bytearray(struct.pack(FRAME_FMT, cmd, seq, status, 0))
    body += payload
    return body + struct.pack("<I", bnrt.crc32(body))


def serve(name="micropython", max_payload=4096, max_model=1 << 20, model_path=None,
          chunked=False, stdin=None, stdout=None):
    """Answer protocol frames until stdin closes.  chunked=True reads whatever
    bytes are waiting in one call (a tty with VMIN=0, as the unix launcher sets
    it); otherwise one byte per read (USB serial on boards)."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    server = Server(name, max_payload, max_model)
    if model_path:
        server.load_file(model_path)
    micropython.kbd_intr(-1)          # 0x03 is data inside frames, not Ctrl-C
    poller = select.poll()
    poller.register(stdin, select.POLLIN)
    limit = bnrt_cobs_max(max_payload + FRAME_OVERHEAD)
    rbuf = bytearray(4096 if chunked else 1)
    pending = bytearray()
    overflow = False
    while True:
        if not poller.poll(_TIMEOUT_MS):
            pending, overflow = bytearray(), False     # the sender stalled mid-frame
            continue
        n = stdin.readinto(rbuf)
        if not n:
            if chunked:
                return                                  # EOF: the host went away
            continue
        data = memoryview(rbuf)[:n]
        start = 0
        while True:
            end = rbuf.find(b"\0", start, n)
            if end < 0:
                if not overflow:
                    pending += data[start:]
                    if len(pending) > limit:
                        pending, overflow = bytearray(), True
                break
            if not overflow:
                pending += data[start:end]
            if overflow:
                resp = _frame(NAK, 0, ERR_FRAME_SIZE, b"")
            elif pending:
                frame, ok = cobs_decode(pending)
                if ok:
                    resp = server.handle(frame)
                else:
                    resp = _frame(NAK, frame[FRAME_OFF_SEQ] if len(frame) > FRAME_OFF_SEQ else 0, ERR_FRAME_FORMAT, b"")
            else:
                resp = None                             # an empty frame is a flush
            pending, overflow = bytearray(), False
            if resp is not None:
                stdout.write(cobs_encode(resp) + b"\0")
            start = end + 1
            if start >= n:
                break


def bnrt_cobs_max(n):
    return n + n // 254 + 1
