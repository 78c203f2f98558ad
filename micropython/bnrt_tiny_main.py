# The protocol loop of bnrt_tiny (see there): COBS frames with a CRC-32 over
# a UART object with readinto/write (microbit.uart); the commands are
# bnrt_tiny_cmd.Server.
import ustruct as struct
import micropython
import bnrt_tiny as T
import bnrt_tiny_cmd
from bnrt_spec import *  # noqa: F401,F403


def cobs_decode(d):
    out = bytearray()
    i, n = 0, len(d)
    while i < n:
        c = d[i]
        if c == 0 or i + c > n:
            return None
        out += d[i + 1:i + c]
        i += c
        if c != 0xFF and i < n:
            out.append(0)
    return out


def cobs_encode(d, w):
    i, n = 0, len(d)
    while True:
        j = i
        while j < n and j - i < 254 and d[j]:
            j += 1
        w(bytes([j - i + 1]))
        w(d[i:j])
        if j == n:
            break
        i = j if j - i == 254 else j + 1
    w(b"\0")


def handle(s, f, w):
    if f is None or len(f) < FRAME_OVERHEAD:
        return reply(NAK, f[1] if f and len(f) > 1 else 0, ERR_FRAME_FORMAT, b"", w)
    c, seq = f[0], f[1]
    if T.crc32(f, 0, 0, len(f) - 4) != struct.unpack_from("<I", f, len(f) - 4)[0]:
        return reply(NAK, seq, ERR_FRAME_CRC, b"", w)
    st, out = (ERR_FRAME_FORMAT, b"") if f[2] or f[3] else bnrt_tiny_cmd.cmd(s, c, seq, f[4:-4])
    s.last = (c, seq) if c == CMD_LOAD_COMMIT and st == OK else None
    reply(c | RESPONSE_BIT, seq, st, out if st == OK else b"", w)


def reply(c, seq, st, out, w):
    body = bytearray(struct.pack(FRAME_FMT, c, seq, st, 0)) + out
    body += struct.pack("<I", T.crc32(body))
    cobs_encode(body, w)


def serve(uart, name, max_payload, max_model):
    """Answer frames on uart until reset."""
    loop(bnrt_tiny_cmd.server(name, max_payload, max_model), uart)


def loop(s, uart):
    limit = s.mp + FRAME_OVERHEAD + (s.mp >> 7) + 2
    buf, pend = bytearray(32), bytearray()
    micropython.kbd_intr(-1)           # 0x03 is data inside frames, not Ctrl-C
    while True:
        n = uart.readinto(buf)
        if not n:
            continue
        for k in range(n):
            b = buf[k]
            if b:
                if len(pend) <= limit:
                    pend.append(b)
            elif pend:
                handle(s, cobs_decode(pend) if len(pend) <= limit else None, uart.write)
                pend = bytearray()
