/* f32 bn_affine: y = fmaf(x, a[c], b[c]) (BNRT_LAYER_FLAG_FMA) or x*a[c] + b[c].
 *
 * The unfused form must round twice, like torch's default dispatch: the build
 * pins -ffp-contract=off (GCC ignores the STDC pragma; clang honours it).  The
 * fused form is one VFMA on Cortex-M4F/M7 and on x86 with -mfma, glibc's
 * correctly rounded fmaf on other hosts, and bnrt_fmaf_soft() below on cores
 * without an FMA instruction (Cortex-M3): newlib's fmaf computes
 * (float)((double)x*y + z), which rounds twice and is not exact. */
#include <math.h>

#include "kernel_args.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(BNRT_SOFT_FMA) || (defined(__arm__) && !defined(__ARM_FEATURE_FMA))
/* Correctly rounded fmaf from double arithmetic: x*y is exact in double
 * (24 + 24 bits); TwoSum gives x*y + z = s + e exactly; rounding s to float
 * is right unless s lies exactly halfway between two floats, where the sign
 * of e decides (the same method as toolkit/reference.py fma_f32). */
static float bnrt_fmaf_soft(float x, float y, float z)
{
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
#define BNRT_FMAF bnrt_fmaf_soft
#else
#define BNRT_FMAF fmaf
#endif

bnrt_status_t bnrt_bn_affine_f32(const float *in, float *out, uint32_t batch,
                                 uint32_t channels, uint32_t spatial, uint8_t layout,
                                 const float *a, const float *b, uint8_t flags)
{
    size_t n;
    const int fused = (flags & BNRT_LAYER_FLAG_FMA) != 0u;
    bnrt_status_t st = bnrt_kernel_args(batch, channels, spatial, layout, in, out, a, b, &n);
    if (st != BNRT_OK || n == 0u) {
        return st;
    }
    if (layout == BNRT_LAYOUT_NCHW) {
        uint32_t i, c, s;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                const float ac = a[c], bc = b[c];
                if (fused) {
                    for (s = 0; s < spatial; s++) {
                        out[s] = BNRT_FMAF(in[s], ac, bc);
                    }
                } else {
                    for (s = 0; s < spatial; s++) {
                        out[s] = in[s] * ac + bc;
                    }
                }
                in += spatial;
                out += spatial;
            }
        }
    } else {
        size_t p, pixels = n / channels;
        uint32_t c;
        for (p = 0; p < pixels; p++) {
            if (fused) {
                for (c = 0; c < channels; c++) {
                    out[c] = BNRT_FMAF(in[c], a[c], b[c]);
                }
            } else {
                for (c = 0; c < channels; c++) {
                    out[c] = in[c] * a[c] + b[c];
                }
            }
            in += channels;
            out += channels;
        }
    }
    return BNRT_OK;
}
