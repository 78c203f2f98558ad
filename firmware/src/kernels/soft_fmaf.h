/* Internal (included by bn_affine_f32.c on cores without an FMA instruction):
 * correctly rounded fmaf(x, a, b) for one channel's fixed a and b, in integer
 * arithmetic.
 *
 * bnrt_fmaf_soft() below (double arithmetic, about 450 instructions on a
 * Cortex-M3) is the general version.  BN calls fmaf with the same a and b for
 * a whole row, so soft_fma_prepare() decodes them once and soft_fma() does
 * the common case with 32x32->64 multiplies and shifts:
 *   x, a normal and finite, b normal or zero, result normal or overflowing;
 *   x zero with b nonzero (the result is b).
 * Everything else (NaN, inf, subnormal inputs or results, an exactly zero
 * sum) goes to bnrt_fmaf_soft().
 *
 * The sum is exact in a 64-bit window: the larger operand's top bit is put at
 * bit 61, the smaller one is shifted to the same scale and any bits shifted
 * out below bit 0 are OR-ed into bit 0 (sticky).  Bits are lost only when the
 * smaller operand is at least 14 bits below the larger one, so the sum keeps
 * its top bit at 60 or above and bit 0 sits far below the rounding position.
 * The sum is rounded to 24 bits (ties to even) at its top bit (normalized
 * to bit 63 first when cancellation moved it below bit 56) and packed; a carry out of the significand steps the exponent (up to inf). */
#ifndef BNRT_SOFT_FMAF_H
#define BNRT_SOFT_FMAF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Correctly rounded fmaf from double arithmetic: x*y is exact in double
 * (24 + 24 bits); TwoSum gives x*y + z = s + e exactly; rounding s to float
 * is right unless s lies exactly halfway between two floats, where the sign
 * of e decides (the same method as toolkit/reference.py fma_f32). */
static float bnrt_fmaf_soft(float x, float y, float z)
{
    if (x != x || y != y || z != z) {
        /* A NaN operand comes back quieted, the first of x, y, z, like the
         * FPU's fma (through double, the soft-float conversions lost its
         * payload); float multiply and add keep it. */
        return (x != x || y != y) ? x * y : z + z;
    }
    const double p = (double)x * (double)y;
    const double s = p + (double)z;
    const double bp = s - p;
    const double e = (p - (s - bp)) + ((double)z - bp);
    float r = (float)s;
    if (e != 0.0 && (double)r != s) {
        const float other = nextafterf(r, s > (double)r ? HUGE_VALF : -HUGE_VALF);
        if (((double)r + (double)other) * 0.5 == s && ((e > 0.0) == (s > (double)r))) {
            r = other;
        }
    }
    return r;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* v >> t for 1 <= t, with the bits shifted out OR-ed into bit 0. */
static uint64_t shr_sticky(uint64_t v, int32_t t)
{
    if (t >= 64) {
        return v != 0u;
    }
    return (v >> t) | ((v << (64 - t)) != 0u);
}

/* out[i * stride] = fmaf(in[i * stride], a, b) for i < len. */
static void soft_fma_row(const float *in, float *out, uint32_t len, size_t stride, float a, float b)
{
    const uint32_t ua = f32_bits(a), ub = f32_bits(b);
    const uint32_t ea = (ua >> 23) & 0xFFu, eb = (ub >> 23) & 0xFFu;
    const uint32_t ma = (ua & 0x7FFFFFu) | 0x800000u; /* a's significand */
    const uint32_t sa = ua & 0x80000000u, sb = ub & 0x80000000u;
    const int32_t eab = (int32_t)ea - 300; /* + x's exponent: the product's LSB exponent */
    /* b's significand (0 when b is zero: then any scale works) and LSB exponent */
    const uint32_t mb = eb != 0u ? (ub & 0x7FFFFFu) | 0x800000u : 0u;
    const int32_t lb = eb != 0u ? (int32_t)eb - 150 : -1000;
    uint32_t i;
    if (ea == 0u || ea == 0xFFu || eb == 0xFFu || (eb == 0u && (ub << 1) != 0u)) {
        for (i = 0; i < len; i++, in += stride, out += stride) {
            *out = bnrt_fmaf_soft(*in, a, b);
        }
        return;
    }
    for (i = 0; i < len; i++, in += stride, out += stride) {
        const uint32_t u = f32_bits(*in);
        const uint32_t ex = (u >> 23) & 0xFFu;
        uint64_t X, Y, S;
        uint32_t hi, lo, sign, m, up;
        int32_t lp, L, sh, n, E;
        if (ex - 1u >= 254u) {
            /* x zero with b nonzero: exactly b; NaN, inf, subnormal x: general */
            *out = ((u << 1) == 0u && mb != 0u) ? b : bnrt_fmaf_soft(*in, a, b);
            continue;
        }
        X = (uint64_t)((u & 0x7FFFFFu) | 0x800000u) * ma; /* [2^46, 2^48) */
        lp = (int32_t)ex + eab;                           /* LSB exponent of X */
        if (lp + 47 >= lb + 23) {                         /* product on top */
            X <<= 14;
            L = lp - 14;
            sh = lb - L; /* <= 38 */
            Y = sh >= 0 ? (uint64_t)mb << sh : shr_sticky(mb, -sh);
        } else { /* b on top */
            Y = (uint64_t)mb << 38;
            L = lb - 38;
            sh = lp - L; /* <= 13 */
            X = sh >= 0 ? X << sh : shr_sticky(X, -sh);
        }
        sign = (u ^ sa) & 0x80000000u;
        if (sign == sb) {
            S = X + Y;
        } else if (X >= Y) {
            S = X - Y;
        } else {
            S = Y - X;
            sign = sb;
        }
        if (S == 0u) {
            *out = f32_from(0u); /* an exact zero sum of opposite signs is +0 */
            continue;
        }
        hi = (uint32_t)(S >> 32);
        lo = (uint32_t)S;
        n = hi != 0u ? 63 - __builtin_clz(hi) : 31 - __builtin_clz(lo);
        E = n + L + 127; /* biased exponent of the top bit */
        if (E < 1 || E > 254) {
            *out = bnrt_fmaf_soft(*in, a, b); /* subnormal or far out of range */
            continue;
        }
        if (n >= 56) { /* the usual case: the 24 bits and the guard bit are in hi */
            const uint32_t r = (uint32_t)n - 55u; /* 1..7 */
            m = hi >> r;
            up = (hi >> (r - 1u)) & 1u & (((hi & ((1u << (r - 1u)) - 1u)) | lo | (m & 1u)) != 0u);
        } else { /* cancellation: normalize the whole sum first */
            S <<= 63 - n;
            hi = (uint32_t)(S >> 32);
            lo = (uint32_t)S;
            m = hi >> 8;
            up = (hi >> 7) & 1u & (((hi & 0x7Fu) | lo | (m & 1u)) != 0u);
        }
        /* (E - 1) << 23 plus the significand: its hidden bit adds the 1 back,
         * and a carry out of a rounded-up 0xFFFFFF steps the exponent (255: inf). */
        *out = f32_from(sign | ((((uint32_t)E - 1u) << 23) + m + up));
    }
}

#endif /* BNRT_SOFT_FMAF_H */
