/* s16 bn_affine on Helium (MVE, Cortex-M55): the same contract as
 * ../bn_affine_s16.c, which stays the reference:
 *   acc = x*mult[c] + bias[c] (int64), y = sat16(acc >> shift).
 *
 * MVE has no 64-bit lanes, so each lane carries acc as hi:lo in two 32-bit
 * lanes: VMULH/VMUL give the high and low words of x*mult, the low words of
 * bias add with a carry (an unsigned compare: lo < x*mult's low word),
 * the high words add.  Then, with j = 32 - shift:
 *   r = sat32(hi * 2^j) | (lo >> shift)   (VQSHL, VSHL.U32, VORR)
 * is floor(acc / 2^shift) whenever that fits int32 (the low j bits of hi*2^j
 * are zero and lo >> shift < 2^j), and saturated with the right sign when it
 * does not; for shift >= 32 the VQSHL is an arithmetic right shift and
 * lo >> shift is 0.  VQMOVNB saturates r to 16 bits, VSTRH.32 stores it.
 * shift == 0 (j = 32, lo would not fit) runs the scalar loop. */
#include <arm_mve.h>

#include "../kernel_args.h"

#define BLOCK 128u /* NHWC tile length (elements) */

static int16_t sat16_64(int64_t v)
{
    return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

static void scalar_lanes(const int16_t *in, int16_t *out, uint32_t len, const int32_t *m,
                         const int64_t *b, uint32_t mstep, unsigned shift)
{
    uint32_t i;
    for (i = 0; i < len; i++) {
        out[i] = sat16_64(((int64_t)in[i] * m[i * mstep] + b[i * mstep]) >> shift);
    }
}

/* One channel's mult, bias over len elements. */
static void chan(const int16_t *in, int16_t *out, uint32_t len, int32_t m, int64_t b,
                 unsigned shift)
{
    const uint32_t k = len >> 2, bl = (uint32_t)b, bh = (uint32_t)(b >> 32), one = 1u;
    const int32_t j = 32 - (int32_t)shift, ns = shift < 32u ? -(int32_t)shift : -32;

    __asm__ volatile("vdup.32 q7, %[m]\n\t"
                     "wls lr, %[k], 2f\n"
                     "1:\n\t"
                     "vldrh.s32 q0, [%[in]], #8\n\t"
                     "vmulh.s32 q1, q0, q7\n\t"
                     "vmul.i32 q2, q0, q7\n\t"
                     "vadd.i32 q3, q2, %[bl]\n\t"
                     "vadd.i32 q1, q1, %[bh]\n\t"
                     "vpt.u32 hi, q2, q3\n\t"
                     "vaddt.i32 q1, q1, %[one]\n\t"
                     "vqshl.s32 q1, %[j]\n\t"
                     "vshl.u32 q3, %[ns]\n\t"
                     "vorr q1, q1, q3\n\t"
                     "vqmovnb.s32 q1, q1\n\t"
                     "vstrh.32 q1, [%[out]], #8\n\t"
                     "le lr, 1b\n"
                     "2:\n\t"
                     : [in] "+r"(in), [out] "+r"(out)
                     : [k] "r"(k), [m] "r"(m), [bl] "r"(bl), [bh] "r"(bh), [one] "r"(one),
                       [j] "r"(j), [ns] "r"(ns)
                     : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d14", "d15", "lr",
                       "memory");
    scalar_lanes(in, out, len & 3u, &m, &b, 0u, shift);
}

/* `tiles` repetitions of per-element mult m[0..len), bias words bl/bh[0..len)
 * over consecutive elements (len % 4 == 0 when tiles > 1). */
static void lanes(const int16_t *in, int16_t *out, uint32_t tiles, uint32_t len, const int32_t *m,
                  const uint32_t *bl, const uint32_t *bh, const int64_t *b, unsigned shift)
{
    const int32_t *pm;
    const uint32_t *pl, *ph;
    const uint32_t k = len >> 2, v = len & ~3u, one = 1u;
    const int32_t j = 32 - (int32_t)shift, ns = shift < 32u ? -(int32_t)shift : -32;
    uint32_t t = tiles;

    __asm__ volatile("3:\n\t"
                     "mov %[pm], %[m]\n\t"
                     "mov %[pl], %[bl]\n\t"
                     "mov %[ph], %[bh]\n\t"
                     "wls lr, %[k], 2f\n"
                     "1:\n\t"
                     "vldrh.s32 q0, [%[in]], #8\n\t"
                     "vldrw.u32 q7, [%[pm]], #16\n\t"
                     "vldrw.u32 q4, [%[pl]], #16\n\t"
                     "vldrw.u32 q5, [%[ph]], #16\n\t"
                     "vmulh.s32 q1, q0, q7\n\t"
                     "vmul.i32 q2, q0, q7\n\t"
                     "vadd.i32 q3, q2, q4\n\t"
                     "vadd.i32 q1, q1, q5\n\t"
                     "vpt.u32 hi, q2, q3\n\t"
                     "vaddt.i32 q1, q1, %[one]\n\t"
                     "vqshl.s32 q1, %[j]\n\t"
                     "vshl.u32 q3, %[ns]\n\t"
                     "vorr q1, q1, q3\n\t"
                     "vqmovnb.s32 q1, q1\n\t"
                     "vstrh.32 q1, [%[out]], #8\n\t"
                     "le lr, 1b\n"
                     "2:\n\t"
                     "subs %[t], %[t], #1\n\t"
                     "bne 3b\n\t"
                     : [in] "+r"(in), [out] "+r"(out), [t] "+r"(t), [pm] "=&r"(pm), [pl] "=&r"(pl),
                       [ph] "=&r"(ph)
                     : [k] "r"(k), [m] "r"(m), [bl] "r"(bl), [bh] "r"(bh), [one] "r"(one),
                       [j] "r"(j), [ns] "r"(ns)
                     : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",
                       "d14", "d15", "lr", "cc", "memory");
    scalar_lanes(in, out, len & 3u, m + v, b + v, 1u, shift);
}

bnrt_status_t bnrt_bn_affine_s16(const int16_t *in, int16_t *out, uint32_t batch, uint32_t channels,
                                 uint32_t spatial, uint8_t layout, const int32_t *mult,
                                 const int64_t *bias, uint8_t shift)
{
    size_t n;
    bnrt_status_t st = bnrt_kernel_args(batch, channels, spatial, layout, in, out, mult, bias, &n);
    if (st != BNRT_OK) {
        return st;
    }
    if (shift > BNRT_S16_SHIFT_MAX) {
        return BNRT_ERR_QUANT;
    }
    if (n == 0u) {
        return BNRT_OK;
    }
    if (spatial == 1u) {
        layout = BNRT_LAYOUT_NHWC; /* (N, C): the same memory as NHWC, run as N pixels */
    }
    if (layout == BNRT_LAYOUT_NCHW) {
        uint32_t i, c;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                if (shift == 0u) {
                    scalar_lanes(in, out, spatial, mult + c, bias + c, 0u, 0u);
                } else {
                    chan(in, out, spatial, mult[c], bias[c], shift);
                }
                in += spatial;
                out += spatial;
            }
        }
    } else if (shift == 0u || channels > BLOCK / 4u) {
        size_t p;
        for (p = 0; p < n / channels; p++) {
            if (shift == 0u) {
                scalar_lanes(in, out, channels, mult, bias, 1u, 0u);
            } else {
                uint32_t c, bl[BLOCK], bh[BLOCK];
                const uint32_t len = channels < BLOCK ? channels : BLOCK;
                for (c = 0; c < channels; c += len) {
                    const uint32_t m = channels - c < len ? channels - c : len;
                    uint32_t i;
                    for (i = 0; i < m; i++) {
                        bl[i] = (uint32_t)bias[c + i];
                        bh[i] = (uint32_t)(bias[c + i] >> 32);
                    }
                    lanes(in + c, out + c, 1u, m, mult + c, bl, bh, bias + c, shift);
                }
            }
            in += channels;
            out += channels;
        }
    } else {
        /* Tiles of whole pixels and a multiple of 4 elements. */
        int32_t tm[BLOCK];
        int64_t tb[BLOCK];
        uint32_t tl[BLOCK], th[BLOCK], unit = channels, len, i;
        size_t tiles;
        while (unit & 3u) {
            unit += channels;
        }
        len = BNRT_TILE_LEN(BLOCK, unit);
        BNRT_TILE_FILL(tm, tb, mult, bias, channels, len);
        for (i = 0; i < len; i++) {
            tl[i] = (uint32_t)tb[i];
            th[i] = (uint32_t)(tb[i] >> 32);
        }
        tiles = n / len;
        if (tiles != 0u) {
            lanes(in, out, (uint32_t)tiles, len, tm, tl, th, tb, shift);
        }
        if (n != tiles * len) {
            lanes(in + tiles * len, out + tiles * len, 1u, (uint32_t)(n - tiles * len), tm, tl, th,
                  tb, shift);
        }
    }
    return BNRT_OK;
}
