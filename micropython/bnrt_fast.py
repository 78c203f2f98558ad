# Viper kernels for bnrt (s8 and s16).  Imported by bnrt inside try/except:
# ports without the native emitter (WebAssembly) reject this module at compile
# time and bnrt falls back to its portable loops.  Same arithmetic and the same
# channel walk as bnrt._int_kernel: the channel advances every `seg` elements
# and wraps at C; `left` elements remain in the first segment.
import micropython


@micropython.viper
def s8(xa: int, ya: int, n: int, c: int, left: int, seg: int, C: int,
       ma: int, ba: int, shift: int, ext: int):
    # ext = 32 on 64-bit ports: ptr32 loads zero-extend there, (v << 32) >> 32
    # sign-extends; on 32-bit ports the machine word is already the int32.
    x = ptr8(xa)
    y = ptr8(ya)
    mult = ptr32(ma)
    bias = ptr32(ba)
    m = (int(mult[c]) << ext) >> ext
    b = (int(bias[c]) << ext) >> ext
    i = 0
    while i < n:
        if left == 0:
            c += 1
            if c == C:
                c = 0
            m = (int(mult[c]) << ext) >> ext
            b = (int(bias[c]) << ext) >> ext
            left = seg
        q = int(x[i])
        if q > 127:
            q -= 256
        v = (q * m + b) >> shift
        if v > 127:
            v = 127
        elif v < -128:
            v = -128
        y[i] = v
        left -= 1
        i += 1


@micropython.viper
def s16(xa: int, ya: int, n: int, c: int, left: int, seg: int, C: int,
        ma: int, ba: int, shift: int):
    # 64-bit ports only: the int64 bias and accumulator need a 64-bit word.
    x = ptr16(xa)
    y = ptr16(ya)
    mult = ptr32(ma)
    bias = ptr32(ba)            # int64 as (low, high) uint32 pairs
    m = (int(mult[c]) << 32) >> 32
    b = (int(bias[2 * c + 1]) << 32) | int(bias[2 * c])
    i = 0
    while i < n:
        if left == 0:
            c += 1
            if c == C:
                c = 0
            m = (int(mult[c]) << 32) >> 32
            b = (int(bias[2 * c + 1]) << 32) | int(bias[2 * c])
            left = seg
        q = int(x[i])
        if q > 32767:
            q -= 65536
        v = (q * m + b) >> shift
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        y[i] = v
        left -= 1
        i += 1
