/* s8 bn_affine on Helium (MVE, Cortex-M55): the same contract as
 * ../bn_affine_s8.c, which stays the reference:
 *   acc = x*mult[c] + bias[c] (int32), y = sat8(acc >> shift).
 *
 * Four int8 lanes widen into int32 lanes (VLDRB.S32), VMLAS gives
 * x*mult + bias (the parser's bounds keep it inside int32, so the wrapping
 * vector multiply is exact), and one saturating shift by a register,
 * VQSHL by 24 - shift, puts sat8(acc >> shift) into the top byte of each lane:
 * for shift <= 24 it is sat32(acc << (24 - shift)), whose top byte is
 * floor(acc / 2^shift) clamped to [-128, 127]; for shift > 24 it is the
 * arithmetic shift acc >> (shift - 24), which cannot saturate.  VSHR #24 and
 * a narrowing VSTRB.32 store the byte.  Integer lanes have no rounding mode
 * and no flushing: every lane is exact. */
#include <arm_mve.h>

#include "../kernel_args.h"

#define BLOCK 256u /* NHWC tile length (elements) */

/* y[i] for i < len with one channel's m, b.  8 elements per iteration. */
static void chan(const int8_t *in, int8_t *out, uint32_t len, int32_t m, int32_t b, int32_t sh)
{
    const uint32_t k = len >> 3;
    uint32_t i;

    __asm__ volatile("vdup.32 q2, %[m]\n\t"
                     "wls lr, %[k], 2f\n"
                     "1:\n\t"
                     "vldrb.s32 q1, [%[in], #4]\n\t"
                     "vldrb.s32 q0, [%[in]], #8\n\t"
                     "vmlas.s32 q1, q2, %[b]\n\t"
                     "vmlas.s32 q0, q2, %[b]\n\t"
                     "vqshl.s32 q1, %[sh]\n\t"
                     "vqshl.s32 q0, %[sh]\n\t"
                     "vshr.s32 q1, q1, #24\n\t"
                     "vshr.s32 q0, q0, #24\n\t"
                     "vstrb.32 q1, [%[out], #4]\n\t"
                     "vstrb.32 q0, [%[out]], #8\n\t"
                     "le lr, 1b\n"
                     "2:\n\t"
                     : [in] "+r"(in), [out] "+r"(out)
                     : [k] "r"(k), [m] "r"(m), [b] "r"(b), [sh] "r"(sh)
                     : "d0", "d1", "d2", "d3", "d4", "d5", "lr", "memory");
    for (i = 0; i < (len & 7u); i++) {
        out[i] = BNRT_SAT8((in[i] * m + b) >> (24 - sh));
    }
}

/* y[i] for i < len with per-element m[i], b[i]. */
static void lanes(const int8_t *in, int8_t *out, uint32_t len, const int32_t *m, const int32_t *b,
                  int32_t sh)
{
    const uint32_t k = len >> 3;
    uint32_t i;

    __asm__ volatile("wls lr, %[k], 2f\n"
                     "1:\n\t"
                     "vldrb.s32 q1, [%[in], #4]\n\t"
                     "vldrb.s32 q0, [%[in]], #8\n\t"
                     "vldrw.u32 q3, [%[m], #16]\n\t"
                     "vldrw.u32 q2, [%[m]], #32\n\t"
                     "vldrw.u32 q5, [%[b], #16]\n\t"
                     "vldrw.u32 q4, [%[b]], #32\n\t"
                     "vmul.i32 q1, q1, q3\n\t"
                     "vmul.i32 q0, q0, q2\n\t"
                     "vadd.i32 q1, q1, q5\n\t"
                     "vadd.i32 q0, q0, q4\n\t"
                     "vqshl.s32 q1, %[sh]\n\t"
                     "vqshl.s32 q0, %[sh]\n\t"
                     "vshr.s32 q1, q1, #24\n\t"
                     "vshr.s32 q0, q0, #24\n\t"
                     "vstrb.32 q1, [%[out], #4]\n\t"
                     "vstrb.32 q0, [%[out]], #8\n\t"
                     "le lr, 1b\n"
                     "2:\n\t"
                     : [in] "+r"(in), [out] "+r"(out), [m] "+r"(m), [b] "+r"(b)
                     : [k] "r"(k), [sh] "r"(sh)
                     : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",
                       "lr", "memory");
    for (i = 0; i < (len & 7u); i++) {
        out[i] = BNRT_SAT8((in[i] * m[i] + b[i]) >> (24 - sh));
    }
}

bnrt_status_t bnrt_bn_affine_s8(const int8_t *in, int8_t *out, uint32_t batch, uint32_t channels,
                                uint32_t spatial, uint8_t layout, const int32_t *mult,
                                const int32_t *bias, uint8_t shift)
{
    size_t n;
    int32_t sh;
    bnrt_status_t st = bnrt_kernel_args(batch, channels, spatial, layout, in, out, mult, bias, &n);
    if (st != BNRT_OK) {
        return st;
    }
    if (shift > BNRT_S8_SHIFT_MAX) {
        return BNRT_ERR_QUANT;
    }
    if (n == 0u) {
        return BNRT_OK;
    }
    if (spatial == 1u) {
        layout = BNRT_LAYOUT_NHWC; /* (N, C): the same memory as NHWC, run as N pixels */
    }
    sh = 24 - (int32_t)shift; /* VQSHL amount; the scalar tails shift by 24 - sh */
    if (layout == BNRT_LAYOUT_NCHW) {
        uint32_t i, c;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                chan(in, out, spatial, mult[c], bias[c], sh);
                in += spatial;
                out += spatial;
            }
        }
    } else if (channels <= BLOCK / 8u) {
        /* Tiles of whole pixels and a multiple of 8 elements. */
        int32_t tm[BLOCK], tb[BLOCK];
        uint32_t unit = channels, len;
        while (unit & 7u) {
            unit += channels;
        }
        len = BNRT_TILE_LEN(BLOCK, unit);
        BNRT_TILE_FILL(tm, tb, mult, bias, channels, len);
        while (n != 0u) {
            const uint32_t m = n < len ? (uint32_t)n : len;
            lanes(in, out, m, tm, tb, sh);
            in += m;
            out += m;
            n -= m;
        }
    } else {
        size_t p, pixels = n / channels;
        for (p = 0; p < pixels; p++) {
            lanes(in, out, channels, mult, bias, sh);
            in += channels;
            out += channels;
        }
    }
    return BNRT_OK;
}
