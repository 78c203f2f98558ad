/* f32 bn_affine on Helium (MVE, Cortex-M55): the same contract as
 * ../bn_affine_f32.c, which stays the reference:
 *   y = fmaf(x, a[c], b[c]) (BNRT_LAYER_FLAG_FMA) or x*a[c] + b[c].
 *
 * MVE floating point always flushes subnormal inputs and results to zero and
 * returns the default NaN, where the scalar FPU (and torch) keep subnormals
 * and propagate a NaN operand.  So a call runs on MVE with the FPSCR
 * cumulative flags cleared, and is recomputed with the scalar FPU when it
 *   - flushed an input (IDC: a subnormal x, a or b),
 *   - flushed a result (UFC: a result or, unfused, a product below 2^-126;
 *     a scalar tail with a subnormal result sets it too, harmlessly), or
 *   - met a NaN or an infinity in x (caught by acc += x*0 turning NaN;
 *     non-finite parameters send the call to scalar code at once).
 * Each MVE VFMA/VMUL/VADD lane is the same single IEEE operation as the
 * scalar code whenever nothing was flushed, so accepted calls are exact.
 * In-place calls (in == out) go through a stack copy in blocks of BLOCK
 * elements, so that a recomputation still has its input. */
#include <arm_mve.h>
#include <string.h>

#include "../kernel_args.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define BLOCK 256u          /* NHWC tile length; in-place copy block */
#define FPSCR_FLUSHED 0x88u /* IDC (bit 7) | UFC (bit 3) */

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

static void scalar_lanes(const float *in, float *out, uint32_t len, const float *a, const float *b,
                         int fused)
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
#define LOOP_BEGIN                   \
    "vmov.i32 q6, #0\n\t"            \
    "vmov.i32 q7, #0\n\t"            \
    "wls lr, %[k], 2f\n"             \
    "1:\n\t"                         \
    "vldrw.u32 q1, [%[in], #16]\n\t" \
    "vldrw.u32 q0, [%[in]], #32\n\t" \
    "vfma.f32 q6, q0, %[z]\n\t"      \
    "vfma.f32 q7, q1, %[z]\n\t"
#define LOOP_END              \
    "le lr, 1b\n"             \
    "2:\n\t"                  \
    "vadd.f32 q6, q6, q7\n\t" \
    "vstrw.32 q6, [%[nan]]\n\t"
#define LOOP_CLOBBER                                                                               \
    "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", \
        "d15", "lr", "memory"

static inline uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* y = f(x, a, b) for len elements with one channel's a, b: MVE, then the
 * last len % 4 in scalar.  Returns acc plus the sums of x*0. */
static float32x4_t mve_chan(const float *in, float *out, uint32_t len, float a, float b, int fused,
                            float32x4_t acc)
{
    float nan[4];
    const float32x4_t va = vdupq_n_f32(a);
    const uint32_t k = len >> 3, z = 0u, ub = bits(b), ua = bits(a);

    if (fused) {
        __asm__ volatile("vdup.32 q2, %[a]\n\t" LOOP_BEGIN "vfmas.f32 q0, q2, %[b]\n\t"
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
        __asm__ volatile("vdup.32 q2, %[a]\n\t" LOOP_BEGIN "vmul.f32 q0, q0, q2\n\t"
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
    scalar_chan(in + (len & 4u), out + (len & 4u), len & 3u, a, b, fused);
    return vaddq_f32(acc, vld1q_f32(nan));
}

/* The same with per-element parameters: `tiles` repetitions of a[0..len),
 * b[0..len) over consecutive elements (len % 8 == 0 when tiles > 1). */
#define LANES_BEGIN                  \
    "vmov.i32 q6, #0\n\t"            \
    "vmov.i32 q7, #0\n"              \
    "3:\n\t"                         \
    "mov %[pa], %[a]\n\t"            \
    "mov %[pb], %[b]\n\t"            \
    "wls lr, %[k], 2f\n"             \
    "1:\n\t"                         \
    "vldrw.u32 q1, [%[in], #16]\n\t" \
    "vldrw.u32 q0, [%[in]], #32\n\t" \
    "vfma.f32 q6, q0, %[z]\n\t"      \
    "vfma.f32 q7, q1, %[z]\n\t"      \
    "vldrw.u32 q3, [%[pa], #16]\n\t" \
    "vldrw.u32 q2, [%[pa]], #32\n\t" \
    "vldrw.u32 q5, [%[pb], #16]\n\t" \
    "vldrw.u32 q4, [%[pb]], #32\n\t"
#define LANES_END                    \
    "vstrw.32 q5, [%[out], #16]\n\t" \
    "vstrw.32 q4, [%[out]], #32\n\t" \
    "le lr, 1b\n"                    \
    "2:\n\t"                         \
    "subs %[t], %[t], #1\n\t"        \
    "bne 3b\n\t"                     \
    "vadd.f32 q6, q6, q7\n\t"        \
    "vstrw.32 q6, [%[nan]]\n\t"
#define LANES_OPERANDS                                                            \
    : [in] "+r"(in), [out] "+r"(out), [t] "+r"(t), [pa] "=&r"(pa), [pb] "=&r"(pb) \
    : [k] "r"(k), [z] "r"(z), [a] "r"(a), [b] "r"(b), [nan] "r"(nan)          \
    : LOOP_CLOBBER, "cc"

static float32x4_t mve_lanes(const float *in, float *out, uint32_t tiles, uint32_t len,
                             const float *a, const float *b, int fused, float32x4_t acc)
{
    float nan[4];
    const float *pa, *pb;
    const uint32_t k = len >> 3, z = 0u, v = len & ~7u;
    uint32_t t = tiles;

    if (fused) {
        __asm__ volatile(LANES_BEGIN "vfma.f32 q4, q0, q2\n\t"
                                     "vfma.f32 q5, q1, q3\n\t" LANES_END LANES_OPERANDS);
    } else {
        __asm__ volatile(LANES_BEGIN "vmul.f32 q0, q0, q2\n\t"
                                     "vmul.f32 q1, q1, q3\n\t"
                                     "vadd.f32 q4, q0, q4\n\t"
                                     "vadd.f32 q5, q1, q5\n\t" LANES_END LANES_OPERANDS);
    }
    acc = vaddq_f32(acc, vld1q_f32(nan));
    a += v;
    b += v;
    if (len & 4u) {
        const float32x4_t x0 = vld1q_f32(in);
        acc = vfmaq_n_f32(acc, x0, 0.0f);
        vst1q_f32(out, fused ? vfmaq_f32(vld1q_f32(b), x0, vld1q_f32(a))
                             : vaddq_f32(vmulq_f32(x0, vld1q_f32(a)), vld1q_f32(b)));
    }
    scalar_lanes(in + (len & 4u), out + (len & 4u), len & 3u, a + (len & 4u), b + (len & 4u),
                 fused);
    return acc;
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

/* The whole tensor, on MVE (`mve`, returning the x*0 sums) or in scalar.
 * NHWC runs over tiles of whole pixels that hold a multiple of 8 elements
 * (parameters repeated on the stack), or pixel by pixel when a pixel is
 * longer than a tile. */
static float32x4_t traverse(const float *in, float *out, uint32_t batch, uint32_t channels,
                            uint32_t spatial, uint8_t layout, const float *a, const float *b,
                            int fused, int mve)
{
    float32x4_t acc = vdupq_n_f32(0.0f);
    const size_t n = (size_t)batch * channels * spatial;

    if (layout == BNRT_LAYOUT_NCHW) {
        uint32_t i, c;
        for (i = 0; i < batch; i++) {
            for (c = 0; c < channels; c++) {
                if (mve) {
                    acc = mve_chan(in, out, spatial, a[c], b[c], fused, acc);
                } else {
                    scalar_chan(in, out, spatial, a[c], b[c], fused);
                }
                in += spatial;
                out += spatial;
            }
        }
    } else {
        const uint32_t unit = channels * (8u / gcd32(channels, 8u)); /* lcm(channels, 8) */
        if (unit <= BLOCK) {
            float ta[BLOCK], tb[BLOCK];
            const uint32_t len = BNRT_TILE_LEN(BLOCK, unit);
            const size_t tiles = n / len;
            const uint32_t rest = (uint32_t)(n - tiles * len);
            BNRT_TILE_FILL(ta, tb, a, b, channels, len);
            if (mve) {
                if (tiles != 0u) {
                    acc = mve_lanes(in, out, (uint32_t)tiles, len, ta, tb, fused, acc);
                }
                if (rest != 0u) {
                    acc = mve_lanes(in + tiles * len, out + tiles * len, 1u, rest, ta, tb, fused,
                                    acc);
                }
            } else {
                size_t i;
                for (i = 0; i <= tiles; i++) {
                    scalar_lanes(in + i * len, out + i * len, i < tiles ? len : rest, ta, tb,
                                 fused);
                }
            }
        } else {
            size_t p;
            for (p = 0; p < n / channels; p++) {
                if (mve) {
                    acc = mve_lanes(in, out, 1u, channels, a, b, fused, acc);
                } else {
                    scalar_lanes(in, out, channels, a, b, fused);
                }
                in += channels;
                out += channels;
            }
        }
    }
    return acc;
}

/* in != out: MVE, recomputed in scalar when anything was flushed or NaN. */
static void affine(const float *in, float *out, uint32_t batch, uint32_t channels, uint32_t spatial,
                   uint8_t layout, const float *a, const float *b, int fused)
{
    if (all_finite(a, b, channels)) {
        float32x4_t acc;
        flags_clear();
        acc = traverse(in, out, batch, channels, spatial, layout, a, b, fused, 1);
        if (!flags_flushed() && !has_nan(acc)) {
            return;
        }
    }
    (void)traverse(in, out, batch, channels, spatial, layout, a, b, fused, 0);
}

/* in == out: blocks copied to the stack first (NCHW: pieces of rows; NHWC:
 * whole pixels), in scalar when a pixel does not fit a block. */
static void affine_in_place(float *io, uint32_t batch, uint32_t channels, uint32_t spatial,
                            uint8_t layout, const float *a, const float *b, int fused)
{
    float copy[BLOCK];
    if (layout == BNRT_LAYOUT_NCHW) {
        uint32_t r, s;
        for (r = 0; r < batch * channels; r++) {
            const uint32_t c = r % channels;
            for (s = 0; s < spatial; s += BLOCK) {
                const uint32_t len = spatial - s < BLOCK ? spatial - s : BLOCK;
                memcpy(copy, io + s, len * sizeof(float));
                affine(copy, io + s, 1u, 1u, len, BNRT_LAYOUT_NCHW, a + c, b + c, fused);
            }
            io += spatial;
        }
    } else if (channels <= BLOCK) {
        const uint32_t per = BLOCK / channels; /* pixels per block */
        size_t pixels = (size_t)batch * spatial;
        while (pixels != 0u) {
            const uint32_t p = pixels < per ? (uint32_t)pixels : per;
            memcpy(copy, io, (size_t)p * channels * sizeof(float));
            affine(copy, io, 1u, channels, p, BNRT_LAYOUT_NHWC, a, b, fused);
            io += (size_t)p * channels;
            pixels -= p;
        }
    } else {
        (void)traverse(io, io, batch, channels, spatial, layout, a, b, fused, 0);
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
    if (spatial == 1u) {
        layout = BNRT_LAYOUT_NHWC; /* (N, C): the same memory as NHWC, run as N pixels */
    }
    if (in == out) {
        affine_in_place(out, batch, channels, spatial, layout, a, b, fused);
    } else {
        affine(in, out, batch, channels, spatial, layout, a, b, fused);
    }
    return BNRT_OK;
}
