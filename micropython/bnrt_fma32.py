# Correctly rounded float32 fused multiply-add on float32 bit patterns, in
# integer arithmetic only: for MicroPython ports whose floats are single
# precision (rp2, esp32, nRF, the micro:bit), where x*a + b rounds twice.
# x*a is exact as a product of 24-bit integers, the sum is exact as one big
# integer, and one round-to-nearest-even step gives the float32 result,
# subnormals included.  NaNs and infinities follow torch's host (x86): the
# first NaN among x, a, b comes back quieted; an invalid operation (inf*0,
# inf-inf) gives 0xFFC00000.
#
#   fma_bits(x, a, b) -> bits of fmaf(x, a, b); arguments are uint32 patterns

_QUIET = 0x400000
_INF = 0x7F800000
_ABS = 0x7FFFFFFF
_SIGN = 0x80000000
_INVALID = 0xFFC00000


def _bitlen(n):
    k = 0
    while n >> 32:
        n >>= 32
        k += 32
    for s in (16, 8, 4, 2, 1):
        if n >> s:
            n >>= s
            k += s
    return k + n


def _special(x, a, b):
    for u in (x, a):
        if u & _ABS > _INF:
            return u | _QUIET
    if x & _ABS == _INF or a & _ABS == _INF:
        if x & _ABS == 0 or a & _ABS == 0:
            return _INVALID
        p = ((x ^ a) & _SIGN) | _INF
        if b & _ABS > _INF:
            return b | _QUIET
        return _INVALID if b & _ABS == _INF and b != p else p
    return b | _QUIET if b & _ABS > _INF else b


def fma_bits(x, a, b):
    ex, ea, eb = (x >> 23) & 255, (a >> 23) & 255, (b >> 23) & 255
    if ex == 255 or ea == 255 or eb == 255:
        return _special(x, a, b)
    mx, ma, mb = x & 0x7FFFFF, a & 0x7FFFFF, b & 0x7FFFFF
    if ex:
        mx |= 0x800000
    if ea:
        ma |= 0x800000
    if eb:
        mb |= 0x800000
    p = mx * ma
    pe = (ex or 1) + (ea or 1) - 300            # x*a = p * 2^pe
    be = (eb or 1) - 150                        # b = mb * 2^be
    if p == 0:
        if mb == 0:                             # zero + zero: -0 only when both are -0
            return (x ^ a) & b & _SIGN
        return b
    if (x ^ a) & _SIGN:
        p = -p
    if b & _SIGN:
        mb = -mb
    e0 = pe if pe < be else be
    s = (p << (pe - e0)) + (mb << (be - e0))
    if s == 0:
        return 0                                # exact cancellation: +0
    sign = 0
    if s < 0:
        sign, s = _SIGN, -s
    r = _bitlen(s) - 24
    if r < -149 - e0:
        r = -149 - e0                           # subnormal: the last bit weighs 2^-149
    if r > 0:
        q = s >> r
        rem = s - (q << r)
        half = 1 << (r - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
    else:
        q = s << -r
    if q == 0:
        return sign
    bits = ((e0 + r + 149) << 23) + q
    return sign | min(bits, _INF)
