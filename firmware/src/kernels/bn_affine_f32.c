/* f32 bn_affine: y = fmaf(x, a[c], b[c]) (BNRT_LAYER_FLAG_FMA) or x*a[c] + b[c].
 *
 * The unfused form must round twice, like torch's default dispatch: the build
 * pins -ffp-contract=off (GCC ignores the STDC pragma; clang honours it).  The
 * fused form is one VFMA on Cortex-M4F/M7 and on x86 with -mfma, glibc's
 * correctly rounded fmaf on other hosts, and the integer fmaf of soft_fmaf.h
 * on cores without an FMA instruction (Cortex-M3): newlib's fmaf computes
 * (float)((double)x*y + z), which rounds twice and is not exact. */
#include <math.h>

#include "kernel_args.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(BNRT_SOFT_FMA) || (defined(__arm__) && !defined(__ARM_FEATURE_FMA))
#include "soft_fmaf.h"
#define BNRT_FMAF bnrt_fmaf_soft
#define BNRT_FMA_PREPARED 1 /* rows go through soft_fma() with a and b decoded once */
#else
#define BNRT_FMAF fmaf
#endif

#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) \
    && defined(__ARM_FEATURE_FMA) && !defined(BNRT_NO_ASM)
/* Cortex-M4F/M7: four elements per iteration with multi-register VLDM/VSTM,
 * about 3 instructions per element instead of 6 (VFMA accumulates into its
 * destination, so C code needs a VMOV and a single load/store per element).
 * Each VFMA/VMUL/VADD is the same single IEEE operation as the C fallback. */
#define BNRT_F32_BLOCKS 1
static uint32_t blocks_scalar(const float **in, float **out, uint32_t len, float ac, float bc,
                              int fused)
{
    uint32_t k = len >> 2;
    if (k == 0u) {
        return 0u;
    }
    if (fused) {
        __asm__ volatile("1:\n\t"
                         "vldmia %[in]!, {s8-s11}\n\t"
                         "vmov.f32 s12, %[b]\n\t"
                         "vmov.f32 s13, %[b]\n\t"
                         "vmov.f32 s14, %[b]\n\t"
                         "vmov.f32 s15, %[b]\n\t"
                         "vfma.f32 s12, s8, %[a]\n\t"
                         "vfma.f32 s13, s9, %[a]\n\t"
                         "vfma.f32 s14, s10, %[a]\n\t"
                         "vfma.f32 s15, s11, %[a]\n\t"
                         "vstmia %[out]!, {s12-s15}\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         : [in] "+r"(*in), [out] "+r"(*out), [k] "+r"(k)
                         : [a] "t"(ac), [b] "t"(bc)
                         : "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "cc", "memory");
    } else {
        __asm__ volatile("1:\n\t"
                         "vldmia %[in]!, {s8-s11}\n\t"
                         "vmul.f32 s8, s8, %[a]\n\t"
                         "vmul.f32 s9, s9, %[a]\n\t"
                         "vmul.f32 s10, s10, %[a]\n\t"
                         "vmul.f32 s11, s11, %[a]\n\t"
                         "vadd.f32 s8, s8, %[b]\n\t"
                         "vadd.f32 s9, s9, %[b]\n\t"
                         "vadd.f32 s10, s10, %[b]\n\t"
                         "vadd.f32 s11, s11, %[b]\n\t"
                         "vstmia %[out]!, {s8-s11}\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         : [in] "+r"(*in), [out] "+r"(*out), [k] "+r"(k)
                         : [a] "t"(ac), [b] "t"(bc)
                         : "s8", "s9", "s10", "s11", "cc", "memory");
    }
    return len & ~3u;
}

static uint32_t blocks_vector(const float **in, float **out, const float **a, const float **b,
                              uint32_t len, int fused)
{
    uint32_t k = len >> 2;
    if (k == 0u) {
        return 0u;
    }
    if (fused) {
        __asm__ volatile("1:\n\t"
                         "vldmia %[in]!, {s8-s11}\n\t"
                         "vldmia %[a]!, {s12-s15}\n\t"
                         "vldmia %[b]!, {s4-s7}\n\t"
                         "vfma.f32 s4, s8, s12\n\t"
                         "vfma.f32 s5, s9, s13\n\t"
                         "vfma.f32 s6, s10, s14\n\t"
                         "vfma.f32 s7, s11, s15\n\t"
                         "vstmia %[out]!, {s4-s7}\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         : [in] "+r"(*in), [out] "+r"(*out), [a] "+r"(*a), [b] "+r"(*b), [k] "+r"(k)
                         :
                         : "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14",
                           "s15", "cc", "memory");
    } else {
        __asm__ volatile("1:\n\t"
                         "vldmia %[in]!, {s8-s11}\n\t"
                         "vldmia %[a]!, {s12-s15}\n\t"
                         "vldmia %[b]!, {s4-s7}\n\t"
                         "vmul.f32 s8, s8, s12\n\t"
                         "vmul.f32 s9, s9, s13\n\t"
                         "vmul.f32 s10, s10, s14\n\t"
                         "vmul.f32 s11, s11, s15\n\t"
                         "vadd.f32 s8, s8, s4\n\t"
                         "vadd.f32 s9, s9, s5\n\t"
                         "vadd.f32 s10, s10, s6\n\t"
                         "vadd.f32 s11, s11, s7\n\t"
                         "vstmia %[out]!, {s8-s11}\n\t"
                         "subs %[k], %[k], #1\n\t"
                         "bne 1b\n\t"
                         : [in] "+r"(*in), [out] "+r"(*out), [a] "+r"(*a), [b] "+r"(*b), [k] "+r"(k)
                         :
                         : "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14",
                           "s15", "cc", "memory");
    }
    return len & ~3u;
}

/* NHWC with a multiple of 4 channels, the whole tensor: the inner loop runs
 * over the channels in blocks of 4 and the outer loop restarts the parameter
 * pointers at every pixel (5 instructions per pixel, no parameter tiles). */
#define BNRT_PIXEL_BLOCK(op)                                                                  \
    __asm__ volatile("2:\n\t"                                                                 \
                     "mov %[pa], %[a]\n\t"                                                    \
                     "mov %[pb], %[b]\n\t"                                                    \
                     "mov %[k], %[q]\n\t"                                                     \
                     "1:\n\t"                                                                 \
                     "vldmia %[in]!, {s8-s11}\n\t"                                            \
                     "vldmia %[pa]!, {s12-s15}\n\t"                                           \
                     "vldmia %[pb]!, {s4-s7}\n\t" op "subs %[k], %[k], #1\n\t"                \
                     "bne 1b\n\t"                                                             \
                     "subs %[px], %[px], #1\n\t"                                              \
                     "bne 2b\n\t"                                                             \
                     : [in] "+r"(in), [out] "+r"(out), [px] "+r"(pixels), [pa] "=&r"(pa),     \
                       [pb] "=&r"(pb), [k] "=&r"(k)                                           \
                     : [a] "r"(a), [b] "r"(b), [q] "r"(quads)                                 \
                     : "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", \
                       "s15", "cc", "memory")

static void blocks_pixels(const float *in, float *out, const float *a, const float *b,
                          uint32_t quads, uint32_t pixels, int fused)
{
    const float *pa, *pb;
    uint32_t k;
    if (fused) {
        BNRT_PIXEL_BLOCK("vfma.f32 s4, s8, s12\n\t"
                         "vfma.f32 s5, s9, s13\n\t"
                         "vfma.f32 s6, s10, s14\n\t"
                         "vfma.f32 s7, s11, s15\n\t"
                         "vstmia %[out]!, {s4-s7}\n\t");
    } else {
        BNRT_PIXEL_BLOCK("vmul.f32 s8, s8, s12\n\t"
                         "vmul.f32 s9, s9, s13\n\t"
                         "vmul.f32 s10, s10, s14\n\t"
                         "vmul.f32 s11, s11, s15\n\t"
                         "vadd.f32 s8, s8, s4\n\t"
                         "vadd.f32 s9, s9, s5\n\t"
                         "vadd.f32 s10, s10, s6\n\t"
                         "vadd.f32 s11, s11, s7\n\t"
                         "vstmia %[out]!, {s8-s11}\n\t");
    }
}
#endif

/* One channel's a, b over `len` consecutive elements (an NCHW row). */
static void row_scalar(const float *in, float *out, uint32_t len, float ac, float bc, int fused)
{
    uint32_t s = 0;
#ifdef BNRT_F32_BLOCKS
    s = blocks_scalar(&in, &out, len, ac, bc, fused);
    len -= s;
    s = 0;
#endif
    if (fused) {
#ifdef BNRT_FMA_PREPARED
        soft_fma_row(in, out, len, 1u, ac, bc);
#else
        for (; s < len; s++) {
            out[s] = BNRT_FMAF(in[s], ac, bc);
        }
#endif
    } else {
        for (; s < len; s++) {
            out[s] = in[s] * ac + bc;
        }
    }
}

/* Element c with channel c's a, b (one NHWC pixel). */
static void row_vector(const float *in, float *out, uint32_t len, const float *a, const float *b,
                       int fused)
{
    uint32_t c = 0;
#ifdef BNRT_F32_BLOCKS
    c = blocks_vector(&in, &out, &a, &b, len, fused);
    len -= c;
    c = 0;
#endif
    if (fused) {
#ifdef BNRT_FMA_PREPARED
        for (; c < len; c++) {
            soft_fma_row(in + c, out + c, 1u, 1u, a[c], b[c]);
        }
#else
        for (; c < len; c++) {
            out[c] = BNRT_FMAF(in[c], a[c], b[c]);
        }
#endif
    } else {
        for (; c < len; c++) {
            out[c] = in[c] * a[c] + b[c];
        }
    }
}

bnrt_status_t bnrt_bn_affine_f32(const float *in, float *out, uint32_t batch, uint32_t channels,
                                 uint32_t spatial, uint8_t layout, const float *a, const float *b,
                                 uint8_t flags)
{
    size_t n;
    const int fused = (flags & BNRT_LAYER_FLAG_FMA) != 0u;
    bnrt_status_t st = bnrt_kernel_args(batch, channels, spatial, layout, in, out, a, b, &n);
    if (st != BNRT_OK || n == 0u) {
        return st;
    }
    /* spatial 1 ((N, C)): the same memory as NHWC, run as N pixels (bn_affine_s8.c) */
    if (layout == BNRT_LAYOUT_NCHW && spatial != 1u) {
        uint32_t i, c;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                row_scalar(in, out, spatial, a[c], b[c], fused);
                in += spatial;
                out += spatial;
            }
        }
    } else {
        size_t p, pixels = n / channels;
#ifdef BNRT_FMA_PREPARED
        /* Software fmaf: decode each channel's a and b once and walk its
         * elements with a stride (no data cache on a Cortex-M3). */
        if (fused && pixels >= 4u) {
            uint32_t c;
            for (c = 0; c < channels; c++) {
                soft_fma_row(in + c, out + c, (uint32_t)pixels, channels, a[c], b[c]);
            }
            return BNRT_OK;
        }
#endif
#ifdef BNRT_F32_BLOCKS
        if ((channels & 3u) == 0u) { /* pixels >= 1 and fits uint32_t on a 32-bit core */
            blocks_pixels(in, out, a, b, channels >> 2, (uint32_t)pixels, fused);
            return BNRT_OK;
        }
#endif
#ifdef BNRT_NHWC_TILES
        if (BNRT_USE_TILES(channels, n, BNRT_TILE_LEN(BNRT_TILE, channels))) {
            float ta[BNRT_TILE], tb[BNRT_TILE];
            const uint32_t len = BNRT_TILE_LEN(BNRT_TILE, channels);
            BNRT_TILE_FILL(ta, tb, a, b, channels, len);
            for (; n >= len; n -= len, pixels -= len / channels) {
                row_vector(in, out, len, ta, tb, fused);
                in += len;
                out += len;
            }
        }
#endif
        for (p = 0; p < pixels; p++) {
            row_vector(in, out, channels, a, b, fused);
            in += channels;
            out += channels;
        }
    }
    return BNRT_OK;
}
