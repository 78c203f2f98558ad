# bnrt for the smallest MicroPython boards: the serial protocol (docs/protocol.md)
# with s8 and s16 layers, for ports without uctypes, binascii, sys.stdin or
# more than about 9 KB of heap (BBC micro:bit, MicroPython 1.9.2).  The model
# blob is the only large allocation; RUN frames are answered element by
# element.  f32 layers are refused with ERR_UNSUPPORTED: single-precision
# floats need an exact fma.  Constants come from bnrt_spec; the micro:bit
# installer (toolkit/launchers/microbit.py) puts them in as literals.
#
#   import bnrt_tiny_main; bnrt_tiny_main.serve(microbit.uart, b"name", 128, 2048)
import ustruct as struct
from bnrt_spec import *  # noqa: F401,F403

def crc32(data, crc=0, a=0, b=None):
    """CRC-32 of data[a:b] without a copy (no memoryview on the micro:bit)."""
    crc ^= 0xFFFFFFFF
    for i in range(a, len(data) if b is None else b):
        crc ^= data[i]
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def check(blob):
    """The status of a model blob: header, size, CRC, and per layer the dtype
    (s8/s16), layout, parameter bounds and shift.  Fewer checks than bnrt.py
    (the heap has no room for them); Python's integers cannot overflow and
    its buffers are bounds-checked, so a blob that passes cannot crash RUN."""
    n = len(blob)
    if n < HEADER_SIZE:
        return ERR_TRUNCATED
    h = struct.unpack_from(HEADER_FMT, blob, 0)
    if h[0] != MAGIC or h[1] != VERSION_MAJOR:
        return ERR_MAGIC if h[0] != MAGIC else ERR_VERSION
    if h[5] != n:
        return ERR_SIZE
    if crc32(blob, crc32(blob, 0, 0, CRC_OFFSET), CRC_OFFSET + 4) != h[4]:
        return ERR_CRC
    if h[6] == 0 or h[8] + h[6] * LAYER_SIZE > n:
        return ERR_BOUNDS
    for i in range(h[6]):
        dt, lay, ch, poff, sh = layer(blob, i)
        if dt not in (DTYPE_S8, DTYPE_S16):
            return ERR_UNSUPPORTED if dt == DTYPE_F32 else ERR_DTYPE
        if lay > LAYOUT_NHWC:
            return ERR_LAYOUT
        if ch == 0 or poff + ch * (PARAM_BYTES_S8 if dt == DTYPE_S8 else PARAM_BYTES_S16) > n:
            return ERR_BOUNDS
        if sh > S16_SHIFT_MAX:
            return ERR_QUANT
    return OK


def layer(blob, i):
    """(dtype, layout, channels, params offset, shift) of layer i (field by
    field: the micro:bit's ustruct has no pad bytes)."""
    e = struct.unpack_from("<I", blob, HEADER_OFF_LAYERS_OFFSET)[0] + i * LAYER_SIZE
    return (blob[e + LAYER_OFF_DTYPE], blob[e + LAYER_OFF_LAYOUT],
            struct.unpack_from("<I", blob, e + LAYER_OFF_CHANNELS)[0],
            struct.unpack_from("<I", blob, e + LAYER_OFF_PARAMS_OFFSET)[0], blob[e + LAYER_OFF_SHIFT])


def run(blob, i, x, spatial, first):
    """Elements first.. of layer i on the raw bytes x; returns the output bytes."""
    dt, lay, C, p, sh = layer(blob, i)
    s8 = dt == DTYPE_S8
    fmt, size, lo, hi = ("<b", 1, -128, 127) if s8 else ("<h", 2, -32768, 32767)
    y = bytearray(len(x))
    for k in range(len(x) // size):
        e = first + k
        c = (e // spatial) % C if lay == LAYOUT_NCHW else e % C
        if s8:
            m = struct.unpack_from("<i", blob, p + 4 * c)[0]
            b = struct.unpack_from("<i", blob, p + 4 * (C + c))[0]
        else:
            m = struct.unpack_from("<i", blob, p + 8 * C + 4 * c)[0]
            w, b = struct.unpack_from("<Ii", blob, p + 8 * c)    # no "q" on the micro:bit
            b = b * 4294967296 + w
        v = (struct.unpack_from(fmt, x, k * size)[0] * m + b) >> sh
        struct.pack_into(fmt, y, k * size, lo if v < lo else hi if v > hi else v)
    return y
