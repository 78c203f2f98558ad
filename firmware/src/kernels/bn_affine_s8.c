/* s8 bn_affine: acc = x*mult[c] + bias[c] (int32), y = sat8(acc >> shift).
 *
 * The parser bounds |mult| <= 2^23 and |bias| <= 2^30, so the accumulator
 * never overflows int32 (|acc| <= 2^31 - 1).  Per element on Cortex-M4:
 * LDRSB, MLA, ASR, SSAT, STRB.  (A 4-lane SMLAD path does not apply: mult
 * needs up to 24 bits.)  ">>" on a negative int is an arithmetic shift on
 * every compiler we target.  The plain loops vectorize on the host. */
#include "kernel_args.h"

/* On Cortex-M, unrolling by 4 spreads the loop's compare and branch over four
 * elements (NHWC: 10 -> under 8 instructions per element on the M4). */
#if defined(__arm__) && defined(__GNUC__) && !defined(__clang__)
#define BNRT_UNROLL4 _Pragma("GCC unroll 4")
#else
#define BNRT_UNROLL4
#endif

/* Cortex-M NHWC: the strided channel-by-channel loop from this many pixels on. */
#define BNRT_S8_STRIDED_MIN_PIXELS 8u

bnrt_status_t bnrt_bn_affine_s8(const int8_t *in, int8_t *out, uint32_t batch, uint32_t channels,
                                uint32_t spatial, uint8_t layout, const int32_t *mult,
                                const int32_t *bias, uint8_t shift)
{
    size_t n;
    bnrt_status_t st = bnrt_kernel_args(batch, channels, spatial, layout, in, out, mult, bias, &n);
    if (st != BNRT_OK) {
        return st;
    }
    if (shift > BNRT_S8_SHIFT_MAX) {
        return BNRT_ERR_QUANT;
    }
    if (n == 0u) {
        return BNRT_OK; /* also avoids looping over batch*channels empty rows */
    }
    /* spatial 1 ((N, C), BatchNorm1d): NCHW and NHWC are the same memory, and
     * the NHWC path runs it as N pixels instead of N*C rows of one element. */
    if (layout == BNRT_LAYOUT_NCHW && spatial != 1u) {
        uint32_t i, c, s;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                const int32_t m = mult[c], b = bias[c];
                BNRT_UNROLL4
                for (s = 0; s < spatial; s++) {
                    const int32_t acc = in[s] * m + b;
                    out[s] = BNRT_SAT8(acc >> shift);
                }
                in += spatial;
                out += spatial;
            }
        }
    } else {
        size_t p, pixels = n / channels;
        uint32_t c;
#if defined(__arm__)
        /* Channel by channel with a stride: mult and bias stay in registers
         * (no data cache on Cortex-M4, so the stride costs nothing).  Each
         * channel costs about 20 instructions to start, so short calls (a
         * few pixels, e.g. BatchNorm1d on a small batch) go pixel by pixel. */
        if (pixels >= BNRT_S8_STRIDED_MIN_PIXELS) {
            for (c = 0; c < channels; c++) {
                const int32_t m = mult[c], b = bias[c];
                const int8_t *src = in + c;
                int8_t *dst = out + c;
                BNRT_UNROLL4
                for (p = 0; p < pixels; p++) {
                    const int32_t acc = *src * m + b;
                    *dst = BNRT_SAT8(acc >> shift);
                    src += channels;
                    dst += channels;
                }
            }
            return BNRT_OK;
        }
#elif defined(BNRT_NHWC_TILES)
        /* (host only) int8 lanes are narrow: a 4x longer tile keeps the vector loop full */
        if (BNRT_USE_TILES(channels, n, BNRT_TILE_LEN(4u * BNRT_TILE, channels))) {
            int32_t tm[4u * BNRT_TILE], tb[4u * BNRT_TILE];
            const uint32_t len = BNRT_TILE_LEN(4u * BNRT_TILE, channels);
            BNRT_TILE_FILL(tm, tb, mult, bias, channels, len);
            for (; n >= len; n -= len, pixels -= len / channels) {
                for (c = 0; c < len; c++) {
                    const int32_t acc = in[c] * tm[c] + tb[c];
                    out[c] = BNRT_SAT8(acc >> shift);
                }
                in += len;
                out += len;
            }
        }
#endif
        for (p = 0; p < pixels; p++) {
            for (c = 0; c < channels; c++) {
                const int32_t acc = in[c] * mult[c] + bias[c];
                out[c] = BNRT_SAT8(acc >> shift);
            }
            in += channels;
            out += channels;
        }
    }
    return BNRT_OK;
}
