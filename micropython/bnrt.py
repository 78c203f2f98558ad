# bnrt for MicroPython: validate a .bnm model blob and run its BatchNorm layers.
#
# The same format, checks and status names as the C runtime (firmware/src,
# firmware/include/bnrt.h); constants come from bnrt_spec (generated from
# toolkit/format/spec.py).  Parameters are read in place from the blob through
# uctypes views: the model is never copied into the heap.
#
#   m = bnrt.load(blob)                         # raises bnrt.BnrtError(status)
#   m.run(layer, x, y, spatial, first=0)        # x, y: buffers of len(x) elements
#
# f32 arithmetic: MicroPython floats are doubles on the unix and WebAssembly
# ports.  x*a is exact in a double; s = x*a + b is then rounded twice (to double,
# then to float32), which differs from fmaf only when s lands exactly on a
# float32 midpoint.  `_f32_fix` detects that case (Veltkamp split) and repairs
# it with the TwoSum error, so fused outputs equal fmaf.  Unfused (x*a)+b is
# exact with doubles (double rounding of one + or * is innocuous when
# 53 >= 2*24+2).  On ports with single-precision floats (DOUBLE false), fused
# layers run bnrt_fma32.fma_bits, an exact fma in integer arithmetic on the
# float bits (see docs/micropython.md).
import array
import struct
import sys
import uctypes
from bnrt_spec import *  # noqa: F401,F403

try:
    from binascii import crc32 as _crc32
except ImportError:  # pragma: no cover - ports without binascii.crc32
    _crc32 = None

try:
    import bnrt_fast as _fast   # viper/native kernels; absent where the port rejects them
except Exception:  # noqa: BLE001 - SyntaxError/ValueError/ImportError by port
    _fast = None

DOUBLE = (1.0 + 2.0 ** -40) != 1.0
WORD64 = sys.maxsize > (1 << 32)
_LE = uctypes.LITTLE_ENDIAN
_SPLIT = 268435457.0          # 2^28 + 1: Veltkamp split to 25 significant bits
_ELEM = {DTYPE_F32: (uctypes.FLOAT32, 4), DTYPE_S8: (uctypes.INT8, 1), DTYPE_S16: (uctypes.INT16, 2)}
_PARAM_BYTES = {DTYPE_F32: PARAM_BYTES_F32, DTYPE_S8: PARAM_BYTES_S8, DTYPE_S16: PARAM_BYTES_S16}


class BnrtError(Exception):
    def __init__(self, status):
        super().__init__(status_name(status))
        self.status = status


def status_name(code):
    return STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else "STATUS_%d" % code


def crc32(data, crc=0):
    if _crc32 is not None:
        return _crc32(data, crc) & 0xFFFFFFFF
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def file_crc(blob):
    mv = memoryview(blob)
    return crc32(mv[CRC_OFFSET + 4:], crc32(mv[:CRC_OFFSET]))


def view(addr, kind, n):
    """A typed, zero-copy array of n elements at address addr."""
    return uctypes.struct(addr, {"v": (uctypes.ARRAY | 0, kind | max(n, 1))}, _LE).v


def _finite_positive(v):
    return 0.0 < v < 1e39     # float32 max is 3.4e38; rejects nan and inf


class Layer:
    def __init__(self, fields, addr):
        (self.op, self.dtype, self.layout, self.flags, self.channels, self.params_offset,
         self.params_size, self.in_scale, self.in_zero_point, self.out_scale,
         self.out_zero_point, self.shift, self.name_offset) = fields
        c = self.channels
        p = addr + self.params_offset
        # p0: a (f32) or mult; p1: b (f32) or bias; array order from bnrt_spec
        if self.dtype == DTYPE_F32:      # a[C] f32, b[C] f32
            self.addr0, self.addr1 = p + c * PARAM_F32_A_START, p + c * PARAM_F32_B_START
            t0 = t1 = uctypes.FLOAT32
        elif self.dtype == DTYPE_S8:     # mult[C] i32, bias[C] i32
            self.addr0, self.addr1 = p + c * PARAM_S8_MULT_START, p + c * PARAM_S8_BIAS_START
            t0 = t1 = uctypes.INT32
        else:                            # mult[C] i32, bias[C] i64
            self.addr0, self.addr1 = p + c * PARAM_S16_MULT_START, p + c * PARAM_S16_BIAS_START
            t0, t1 = uctypes.INT32, uctypes.INT64
        self.p0 = view(self.addr0, t0, c)
        self.p1 = view(self.addr1, t1, c)


def _check_layer(blob, base, layers_end, params_limit, strings_size):
    # Same checks, same order as toolkit/format/reader.py and the C parser.
    (op, dtype, layout, flags, ch, poff, psize, isc, izp, osc, ozp, shift,
     name) = struct.unpack_from(LAYER_FMT, blob, base)
    if op != OP_BN_AFFINE:
        return ERR_OP
    if dtype not in _ELEM:
        return ERR_DTYPE
    if layout not in (LAYOUT_NCHW, LAYOUT_NHWC):
        return ERR_LAYOUT
    r = base + LAYER_SIZE - 7          # the three reserved bytes before name_offset
    if flags & ~LAYER_FLAGS_KNOWN or (flags and dtype != DTYPE_F32) or blob[r] or blob[r + 1] or blob[r + 2]:
        return ERR_HEADER
    if ch == 0 or ch > MAX_CHANNELS:
        return ERR_CHANNELS
    if poff % PARAM_ALIGN:
        return ERR_ALIGN
    if psize != ch * _PARAM_BYTES[dtype]:
        return ERR_SIZE
    if poff < layers_end or not _fits(poff, psize, params_limit):
        return ERR_BOUNDS
    if name != NAME_NONE and name >= strings_size:
        return ERR_STRINGS
    if dtype == DTYPE_F32:
        return ERR_QUANT if shift else _check_finite(blob, ch, poff)
    if dtype == DTYPE_S8:
        ok = (shift <= S8_SHIFT_MAX and S8_MIN <= izp <= S8_MAX and S8_MIN <= ozp <= S8_MAX)
    else:
        ok = shift <= S16_SHIFT_MAX and izp == 0 and ozp == 0
    if not (ok and _finite_positive(isc) and _finite_positive(osc)):
        return ERR_QUANT
    return _check_params(blob, dtype, ch, poff)


def _check_params(blob, dtype, ch, poff):
    addr = uctypes.addressof(blob) + poff
    if dtype == DTYPE_S8:
        mult = view(addr + ch * PARAM_S8_MULT_START, uctypes.INT32, ch)
        bias = view(addr + ch * PARAM_S8_BIAS_START, uctypes.INT32, ch)
        for c in range(ch):
            if not (-S8_MULT_MAX <= mult[c] <= S8_MULT_MAX and -S8_BIAS_MAX <= bias[c] <= S8_BIAS_MAX):
                return ERR_QUANT
        return OK
    bias = view(addr + ch * PARAM_S16_BIAS_START, uctypes.INT64, ch)
    for c in range(ch):
        if not -S16_BIAS_MAX <= bias[c] <= S16_BIAS_MAX:
            return ERR_QUANT
    return OK


def _check_finite(blob, ch, poff):
    # a[C] then b[C], float32: exponent bits all ones = inf or NaN
    for k in range(poff + 3, poff + 8 * ch, 4):
        if (blob[k] & 0x7F) == 0x7F and blob[k - 1] & 0x80:
            return ERR_NONFINITE
    return OK


def _fits(offset, size, limit):
    return offset <= limit and size <= limit - offset


def validate(blob):
    """Check everything the C parser checks, in its order; return (status, header)."""
    if uctypes.addressof(blob) % PARAM_ALIGN:
        return ERR_ALIGN, None
    n = len(blob)
    if n < HEADER_SIZE:
        return ERR_TRUNCATED, None
    h = struct.unpack_from(HEADER_FMT, blob, 0)
    magic, major, _minor, hsize, crc, total, count, flags, l_off, s_off, s_size = h
    if magic != MAGIC:
        return ERR_MAGIC, None
    if major != VERSION_MAJOR:
        return ERR_VERSION, None
    if hsize != HEADER_SIZE:
        return ERR_HEADER, None
    if total > n:
        return ERR_TRUNCATED, None
    if total != n:
        return ERR_SIZE, None
    if file_crc(blob) != crc:
        return ERR_CRC, None
    if flags & ~FILE_FLAGS_KNOWN or count == 0:
        return ERR_HEADER, None
    if l_off % LAYER_TABLE_ALIGN:
        return ERR_ALIGN, None
    if l_off < HEADER_SIZE or not _fits(l_off, count * LAYER_SIZE, n):
        return ERR_BOUNDS, None
    layers_end = l_off + count * LAYER_SIZE
    params_limit, strings_size = n, 0
    if flags & FILE_FLAG_STRINGS:
        if s_off < layers_end or s_size == 0 or not _fits(s_off, s_size, n) or blob[s_off + s_size - 1]:
            return ERR_STRINGS, None
        params_limit, strings_size = s_off, s_size
    elif s_off or s_size:
        return ERR_HEADER, None
    blocks = []
    for i in range(count):
        base = l_off + i * LAYER_SIZE
        st = _check_layer(blob, base, layers_end, params_limit, strings_size)
        if st != OK:
            return st, None
        start, size = struct.unpack_from("<II", blob, base + LAYER_OFF_PARAMS_OFFSET)
        for s0, s1 in blocks:            # each layer against the earlier ones
            if start < s1 and s0 < start + size:
                return ERR_OVERLAP, None
        blocks.append((start, start + size))
    return OK, h


class Model:
    """A validated model: views into `blob`, which must stay alive and unchanged."""

    def __init__(self, blob, header):
        self.blob = blob
        self.size = len(blob)
        self.crc32 = header[4]
        self.layer_count = header[6]
        self._strings = (header[9], header[10])
        addr = uctypes.addressof(blob)
        off = header[8]
        self.layers = [Layer(struct.unpack_from(LAYER_FMT, blob, off + i * LAYER_SIZE), addr)
                       for i in range(self.layer_count)]

    def name(self, index):
        nm = self.layers[index].name_offset
        if nm == NAME_NONE:
            return None
        start = self._strings[0] + nm
        return str(self.blob[start:self.blob.find(b"\0", start)], "utf-8")

    def run(self, index, x, y, spatial, first=0):
        """Run layer `index` on elements [first, first+n) of a tensor with
        `spatial` elements per channel, in the layer's layout.  x and y hold
        exactly those n elements: bytes/bytearray of raw little-endian
        elements, or arrays of typecode 'f' (f32), 'b' (s8), 'h' (s16).
        x and y may be the same object (in place)."""
        if not 0 <= index < self.layer_count:
            raise BnrtError(ERR_LAYER)
        L = self.layers[index]
        kind, size = _ELEM[L.dtype]
        count = _elements(x, size)
        if spatial <= 0 or first < 0 or count != _elements(y, size) or count < 0:
            raise BnrtError(ERR_SHAPE)
        if count == 0:
            return
        xa, ya = uctypes.addressof(x), uctypes.addressof(y)
        if xa % size or ya % size:
            raise BnrtError(ERR_ALIGN)
        C = L.channels
        if L.layout == LAYOUT_NCHW and spatial != 1:
            c0, left, seg = (first // spatial) % C, spatial - first % spatial, spatial
        else:               # NHWC, and NCHW with spatial 1 (the same memory)
            c0, left, seg = first % C, 1, 1
        if _fast is not None and L.dtype == DTYPE_S8:
            _fast.s8(xa, ya, count, c0, left, seg, C, L.addr0, L.addr1, L.shift, 32 if WORD64 else 0)
        elif _fast is not None and L.dtype == DTYPE_S16 and WORD64:
            _fast.s16(xa, ya, count, c0, left, seg, C, L.addr0, L.addr1, L.shift)
        elif L.dtype == DTYPE_F32:
            if L.flags & LAYER_FLAG_FMA and not DOUBLE:    # single-precision floats
                u32 = uctypes.UINT32
                _f32_bits(view(xa, u32, count), view(ya, u32, count), count, c0, left, seg, C,
                          view(L.addr0, u32, C), view(L.addr1, u32, C))
                return
            fn = _f32_fix if L.flags & LAYER_FLAG_FMA else _f32_two
            fn(view(xa, kind, count), view(ya, kind, count), count, c0, left, seg, C, L.p0, L.p1)
        else:
            lo, hi = (S8_MIN, S8_MAX) if L.dtype == DTYPE_S8 else (S16_MIN, S16_MAX)
            _int_kernel(view(xa, kind, count), view(ya, kind, count), count, c0, left, seg, C,
                        L.p0, L.p1, L.shift, lo, hi)


def _elements(buf, size):
    if isinstance(buf, (bytes, bytearray)):
        return len(buf) // size if len(buf) % size == 0 else -1
    return len(buf)     # an array of the dtype's typecode


def load(blob):
    """Validate blob and return a Model, or raise BnrtError(status)."""
    st, h = validate(blob)
    if st != OK:
        raise BnrtError(st)
    return Model(blob, h)


# ---- portable kernels: the channel advances every `seg` elements (NCHW: spatial,
# NHWC: 1) and wraps at C; `left` elements remain in the first segment.

def _int_kernel(x, y, n, c, left, seg, C, mult, bias, shift, lo, hi):
    m, b = mult[c], bias[c]
    for i in range(n):
        if left == 0:
            c += 1
            if c == C:
                c = 0
            m, b, left = mult[c], bias[c], seg
        v = (x[i] * m + b) >> shift
        y[i] = lo if v < lo else hi if v > hi else v
        left -= 1


def _f32_two(x, y, n, c, left, seg, C, pa, pb):
    t = array.array("f", [0.0])       # rounds x*a to float32 before adding b
    a, b = pa[c], pb[c]
    for i in range(n):
        if left == 0:
            c += 1
            if c == C:
                c = 0
            a, b, left = pa[c], pb[c], seg
        t[0] = x[i] * a
        y[i] = t[0] + b
        left -= 1


def _f32_fused(x, y, n, c, left, seg, C, pa, pb):
    # x*a + b in the port's floats (micropython/bench.py: the cost of _f32_fix)
    a, b = pa[c], pb[c]
    for i in range(n):
        if left == 0:
            c += 1
            if c == C:
                c = 0
            a, b, left = pa[c], pb[c], seg
        y[i] = x[i] * a + b
        left -= 1


def _f32_bits(x, y, n, c, left, seg, C, pa, pb):
    # fused on single-precision ports: exact integer fma on the bit patterns
    from bnrt_fma32 import fma_bits
    a, b = pa[c], pb[c]
    for i in range(n):
        if left == 0:
            c += 1
            if c == C:
                c = 0
            a, b, left = pa[c], pb[c], seg
        y[i] = fma_bits(x[i], a, b)
        left -= 1


def _f32_fix(x, y, n, c, left, seg, C, pa, pb):
    a, b = pa[c], pb[c]
    for i in range(n):
        if left == 0:
            c += 1
            if c == C:
                c = 0
            a, b, left = pa[c], pb[c], seg
        s = x[i] * a + b
        y[i] = s
        g = s * _SPLIT
        if g + (s - g) == s:          # s has <= 25 significant bits: maybe a midpoint
            r = y[i]
            if r != s:                # it is one; TwoSum tells which side the truth is on
                p = x[i] * a
                bp = s - p
                e = (p - (s - bp)) + (b - bp)
                if e != 0.0 and (e > 0.0) == (s > r):
                    y[i] = s + s - r
        left -= 1
