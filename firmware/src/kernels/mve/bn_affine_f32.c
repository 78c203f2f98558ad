/* f32 bn_affine on Helium (MVE, Cortex-M55): the same contract as
 * ../bn_affine_f32.c, which stays the reference:
 *   y = fmaf(x, a[c], b[c]) (BNRT_LAYER_FLAG_FMA) or x*a[c] + b[c].
 *
 * MVE floating point always flushes subnormal inputs and results to zero and
 * returns the default NaN, where the scalar FPU (and torch) keep subnormals
 * and propagate a NaN operand.  So every block of up to BLOCK elements runs
 * on MVE with the FPSCR cumulative flags cleared, and is recomputed with the
 * scalar FPU when the block
 *   - flushed an input (IDC: a subnormal x, a or b),
 *   - flushed a result (UFC: a result or, unfused, a product below 2^-126), or
 *   - holds a NaN or an infinity in x (caught by acc += x*0 turning NaN;
 *     parameters are checked once per block).
 * Each MVE VFMA/VMUL/VADD lane is the same single IEEE operation as the
 * scalar code whenever no flush happened, so accepted blocks are exact.
 * In-place calls (in == out) copy the block to the stack first, so that a
 * recomputation still has the input. */
#include <arm_mve.h>
#include <string.h>

#include "../kernel_args.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define BLOCK 256u                 /* elements per flag check; NHWC tile length */
#define FPSCR_FLUSHED 0x88u        /* IDC (bit 7) | UFC (bit 3) */

static inline void flags_clear(void)
{
    __builtin_arm_set_fpscr(__builtin_arm_get_fpscr() & ~FPSCR_FLUSHED);
}

static inline int flags_flushed(void)
{
    return (__builtin_arm_get_fpscr() & FPSCR_FLUSHED) != 0u;
}

/* Any lane NaN (x*0 is NaN exactly when x is NaN or infinite). */
static inline int has_nan(float32x4_t acc)
{
    return vcmpneq_f32(acc, acc) != 0u;
}

static int finite2(float a, float b)
{
    const float z = a * 0.0f + b * 0.0f;
    return z == z;
}

/* Scalar reference loops (the contract, subnormals and NaN payloads included). */
static void scalar_chan(const float *in, float *out, uint32_t len, float a, float b, int fused)
{
    uint32_t i;
    if (fused) {
        for (i = 0; i < len; i++) {
            out[i] = __builtin_fmaf(in[i], a, b);
        }
    } else {
        for (i = 0; i < len; i++) {
            out[i] = in[i] * a + b;
        }
    }
}

static void scalar_lanes(const float *in, float *out, uint32_t len, const float *a,
                         const float *b, int fused)
{
    uint32_t i;
    if (fused) {
        for (i = 0; i < len; i++) {
            out[i] = __builtin_fmaf(in[i], a[i], b[i]);
        }
    } else {
        for (i = 0; i < len; i++) {
            out[i] = in[i] * a[i] + b[i];
        }
    }
}

/* Hot loops: 8 elements per low-overhead-loop iteration (GCC 12 spends 7
 * more instructions per iteration on pointer copies).  q6/q7 accumulate x*0
 * (NaN when x is NaN or infinite) and are summed into nan[0..3]. */
#define LOOP_BEGIN                                                            \
    "vmov.i32 q6, #0\n\t"                                                     \
    "vmov.i32 q7, #0\n\t"                                                     \
    "wls lr, %[k], 2f\n"                                                      \
    "1:\n\t"                                                                  \
    "vldrw.u32 q1, [%[in], #16]\n\t"                                          \
    "vldrw.u32 q0, [%[in]], #32\n\t"                                          \
    "vfma.f32 q6, q0, %[z]\n\t"                                               \
    "vfma.f32 q7, q1, %[z]\n\t"
#define LOOP_END                                                              \
    "le lr, 1b\n"                                                             \
    "2:\n\t"                                                                  \
    "vadd.f32 q6, q6, q7\n\t"                                                 \
    "vstrw.32 q6, [%[nan]]\n\t"
#define LOOP_CLOBBER                                                          \
    "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", \
        "d12", "d13", "d14", "d15", "lr", "memory"

static inline uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int tail_ok(const float *nan, float32x4_t acc)
{
    return !flags_flushed() && !has_nan(vaddq_f32(acc, vld1q_f32(nan)));
}

/* MVE over the first len & ~3 elements with one channel's a, b; returns 0
 * when the block must be recomputed in scalar. */
static int mve_chan(const float *in, float *out, uint32_t len, float a, float b, int fused)
{
    float nan[4];
    float32x4_t acc = vdupq_n_f32(0.0f);
    const float32x4_t va = vdupq_n_f32(a);
    const uint32_t k = len >> 3, z = 0u, ub = bits(b), ua = bits(a);

    flags_clear();
    if (fused) {
        __asm__ volatile("vdup.32 q2, %[a]\n\t" LOOP_BEGIN
                         "vfmas.f32 q0, q2, %[b]\n\t"
                         "vfmas.f32 q1, q2, %[b]\n\t"
                         "vstrw.32 q1, [%[out], #16]\n\t"
                         "vstrw.32 q0, [%[out]], #32\n\t" LOOP_END
                         : [in] "+r"(in), [out] "+r"(out)
                         : [k] "r"(k), [z] "r"(z), [a] "r"(ua), [b] "r"(ub), [nan] "r"(nan)
                         : LOOP_CLOBBER);
        if (len & 4u) {
            const float32x4_t x0 = vld1q_f32(in);
            acc = vfmaq_n_f32(acc, x0, 0.0f);
            vst1q_f32(out, vfmasq_n_f32(x0, va, b));
        }
    } else {
        __asm__ volatile("vdup.32 q2, %[a]\n\t" LOOP_BEGIN
                         "vmul.f32 q0, q0, q2\n\t"
                         "vmul.f32 q1, q1, q2\n\t"
                         "vadd.f32 q0, q0, %[b]\n\t"
                         "vadd.f32 q1, q1, %[b]\n\t"
                         "vstrw.32 q1, [%[out], #16]\n\t"
                         "vstrw.32 q0, [%[out]], #32\n\t" LOOP_END
                         : [in] "+r"(in), [out] "+r"(out)
                         : [k] "r"(k), [z] "r"(z), [a] "r"(ua), [b] "r"(ub), [nan] "r"(nan)
                         : LOOP_CLOBBER);
        if (len & 4u) {
            const float32x4_t x0 = vld1q_f32(in);
            acc = vfmaq_n_f32(acc, x0, 0.0f);
            vst1q_f32(out, vaddq_n_f32(vmulq_f32(x0, va), b));
        }
    }
    return tail_ok(nan, acc);
}

/* The same with per-element parameters a[i], b[i]. */
static int mve_lanes(const float *in, float *out, uint32_t len, const float *a, const float *b,
                     int fused)
{
    float nan[4];
    float32x4_t acc = vdupq_n_f32(0.0f);
    const uint32_t k = len >> 3, z = 0u;

    flags_clear();
    if (fused) {
        __asm__ volatile(LOOP_BEGIN
                         "vldrw.u32 q3, [%[a], #16]\n\t"
                         "vldrw.u32 q2, [%[a]], #32\n\t"
                         "vldrw.u32 q5, [%[b], #16]\n\t"
                         "vldrw.u32 q4, [%[b]], #32\n\t"
                         "vfma.f32 q4, q0, q2\n\t"
                         "vfma.f32 q5, q1, q3\n\t"
                         "vstrw.32 q5, [%[out], #16]\n\t"
                         "vstrw.32 q4, [%[out]], #32\n\t" LOOP_END
                         : [in] "+r"(in), [out] "+r"(out), [a] "+r"(a), [b] "+r"(b)
                         : [k] "r"(k), [z] "r"(z), [nan] "r"(nan)
                         : LOOP_CLOBBER);
        if (len & 4u) {
            const float32x4_t x0 = vld1q_f32(in);
            acc = vfmaq_n_f32(acc, x0, 0.0f);
            vst1q_f32(out, vfmaq_f32(vld1q_f32(b), x0, vld1q_f32(a)));
        }
    } else {
        __asm__ volatile(LOOP_BEGIN
                         "vldrw.u32 q3, [%[a], #16]\n\t"
                         "vldrw.u32 q2, [%[a]], #32\n\t"
                         "vldrw.u32 q5, [%[b], #16]\n\t"
                         "vldrw.u32 q4, [%[b]], #32\n\t"
                         "vmul.f32 q0, q0, q2\n\t"
                         "vmul.f32 q1, q1, q3\n\t"
                         "vadd.f32 q4, q0, q4\n\t"
                         "vadd.f32 q5, q1, q5\n\t"
                         "vstrw.32 q5, [%[out], #16]\n\t"
                         "vstrw.32 q4, [%[out]], #32\n\t" LOOP_END
                         : [in] "+r"(in), [out] "+r"(out), [a] "+r"(a), [b] "+r"(b)
                         : [k] "r"(k), [z] "r"(z), [nan] "r"(nan)
                         : LOOP_CLOBBER);
        if (len & 4u) {
            const float32x4_t x0 = vld1q_f32(in);
            acc = vfmaq_n_f32(acc, x0, 0.0f);
            vst1q_f32(out, vaddq_f32(vmulq_f32(x0, vld1q_f32(a)), vld1q_f32(b)));
        }
    }
    return tail_ok(nan, acc);
}

/* One block of at most BLOCK elements: MVE, else (or for the tail) scalar.
 * `a`/`b` are per-element when `lanes`, else a[0]/b[0] serve every element. */
static void block(const float *in, float *out, uint32_t len, const float *a, const float *b,
                  int lanes, int params_ok, int fused)
{
    float copy[BLOCK];
    const uint32_t v = len & ~3u;
    int ok;

    if (in == out && v != 0u && params_ok) {
        memcpy(copy, in, len * sizeof(float));
        in = copy;
    }
    ok = params_ok && v != 0u &&
         (lanes ? mve_lanes(in, out, v, a, b, fused) : mve_chan(in, out, v, a[0], b[0], fused));
    if (lanes) {
        scalar_lanes(in + (ok ? v : 0u), out + (ok ? v : 0u), ok ? len - v : len,
                     a + (ok ? v : 0u), b + (ok ? v : 0u), fused);
    } else {
        scalar_chan(in + (ok ? v : 0u), out + (ok ? v : 0u), ok ? len - v : len, a[0], b[0],
                    fused);
    }
}

static int all_finite(const float *a, const float *b, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        if (!finite2(a[i], b[i])) {
            return 0;
        }
    }
    return 1;
}

static uint32_t gcd32(uint32_t x, uint32_t y)
{
    while (y != 0u) {
        const uint32_t t = x % y;
        x = y;
        y = t;
    }
    return x;
}

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
                const int ok = finite2(a[c], b[c]);
                for (s = 0; s < spatial; s += BLOCK) {
                    const uint32_t len = spatial - s < BLOCK ? spatial - s : BLOCK;
                    block(in + s, out + s, len, a + c, b + c, 0, ok, fused);
                }
                in += spatial;
                out += spatial;
            }
        }
    } else {
        /* Tiles of whole pixels whose length is a multiple of 4 (lcm(channels, 4)). */
        const uint32_t unit = channels * (4u / gcd32(channels, 4u));
        const int ok = all_finite(a, b, channels);
        if (unit <= BLOCK) {
            float ta[BLOCK], tb[BLOCK];
            const uint32_t len = BNRT_TILE_LEN(BLOCK, unit);
            BNRT_TILE_FILL(ta, tb, a, b, channels, len);
            for (; n != 0u;) {
                const uint32_t m = n < len ? (uint32_t)n : len;
                block(in, out, m, ta, tb, 1, ok, fused);
                in += m;
                out += m;
                n -= m;
            }
        } else {
            size_t p, pixels = n / channels;
            uint32_t c;
            for (p = 0; p < pixels; p++) {
                for (c = 0; c < channels; c += BLOCK) {
                    const uint32_t len = channels - c < BLOCK ? channels - c : BLOCK;
                    block(in + c, out + c, len, a + c, b + c, 1, ok, fused);
                }
                in += channels;
                out += channels;
            }
        }
    }
    return BNRT_OK;
}
