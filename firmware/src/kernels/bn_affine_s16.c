/* s16 bn_affine: acc = x*mult[c] + bias[c] (int64), y = sat16(acc >> shift).
 *
 * |x*mult| <= 2^46 and the parser bounds |bias| <= 2^62, so acc fits int64.
 * For shift >= 32 only the high word matters: floor(acc / 2^shift) ==
 * floor(hi / 2^(shift-32)) where hi = acc >> 32, because the low word adds
 * less than one unit to hi.  That path is SMLAL, ASR, SSAT on Cortex-M4; the
 * shift < 32 path needs a 64-bit shift and compare.  The branch on the shift
 * sits outside the innermost loops. */
#include "kernel_args.h"

static int16_t sat16_64(int64_t v)
{
    v = v < -32768 ? -32768 : v; /* min then max: vectorizes on x86 */
    return (int16_t)(v > 32767 ? 32767 : v);
}

/* One channel's constants over `len` consecutive elements (NCHW rows). */
static void row_one_channel(const int16_t *in, int16_t *out, uint32_t len, int32_t m, int64_t b,
                            unsigned shift)
{
    uint32_t i;
    if (shift >= 32u) {
        const unsigned sh = shift - 32u;
        for (i = 0; i < len; i++) {
            out[i] = BNRT_SAT16((int32_t)(((int64_t)in[i] * m + b) >> 32) >> sh);
        }
    } else {
        for (i = 0; i < len; i++) {
            out[i] = sat16_64(((int64_t)in[i] * m + b) >> shift);
        }
    }
}

/* Channel i's constants for element i (NHWC pixels). */
static void row_all_channels(const int16_t *in, int16_t *out, uint32_t len, const int32_t *mult,
                             const int64_t *bias, unsigned shift)
{
    uint32_t i;
    if (shift >= 32u) {
        const unsigned sh = shift - 32u;
        for (i = 0; i < len; i++) {
            out[i] = BNRT_SAT16((int32_t)(((int64_t)in[i] * mult[i] + bias[i]) >> 32) >> sh);
        }
    } else {
        for (i = 0; i < len; i++) {
            out[i] = sat16_64(((int64_t)in[i] * mult[i] + bias[i]) >> shift);
        }
    }
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
        return BNRT_OK; /* also avoids looping over batch*channels empty rows */
    }
    /* spatial 1 ((N, C)): the same memory as NHWC, run as N pixels (bn_affine_s8.c) */
    if (layout == BNRT_LAYOUT_NCHW && spatial != 1u) {
        uint32_t i, c;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                row_one_channel(in, out, spatial, mult[c], bias[c], shift);
                in += spatial;
                out += spatial;
            }
        }
    } else {
        size_t p, pixels = n / channels;
#ifdef BNRT_NHWC_TILES
        if (BNRT_USE_TILES(channels, n, BNRT_TILE_LEN(BNRT_TILE, channels))) {
            int32_t tm[BNRT_TILE];
            int64_t tb[BNRT_TILE];
            const uint32_t len = BNRT_TILE_LEN(BNRT_TILE, channels);
            BNRT_TILE_FILL(tm, tb, mult, bias, channels, len);
            for (; n >= len; n -= len, pixels -= len / channels) {
                row_all_channels(in, out, len, tm, tb, shift);
                in += len;
                out += len;
            }
        }
#endif
        for (p = 0; p < pixels; p++) {
            row_all_channels(in, out, channels, mult, bias, shift);
            in += channels;
            out += channels;
        }
    }
    return BNRT_OK;
}
