/* Train-mode BN kernels, float32, with torch's CPU arithmetic
 * (aten/src/ATen/native/cpu/batch_norm_kernel.cpp, collect_stats, and
 * native/Normalization.cpp, batch_norm_cpu_update_stats_template):
 *   contiguous input: sum += x in double, mean = (float)(sum / n),
 *                     var_sum += (float)((x-mean)*(x-mean)) in double;
 *   channels-last or (N, C) input: float partial sums per thread chunk
 *                     (the variance one fused on FMA builds), then a double
 *                     sum of the partials in chunk order.
 * Measured bit-exact against torch 2.13 (docs/adapt.md).  Every fused
 * multiply-add goes through bnrt_bn_affine_f32, whose fmaf is exact on every
 * core (soft on Cortex-M3). */
#include <math.h>

#include "bnrt_train.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Position of element e: its channel and its index among the channel's values. */
static void locate(uint32_t e, uint32_t channels, uint32_t spatial, uint8_t layout, uint32_t *c,
                   uint32_t *j)
{
    if (layout == BNRT_LAYOUT_NCHW) {
        const uint32_t row = e / spatial; /* n * channels + c */
        *c = row % channels;
        *j = (row / channels) * spatial + e % spatial;
    } else {
        *c = e % channels;
        *j = e / channels;
    }
}

static float fma1(float x, float y, float z)
{
    float r = 0.0f;
    (void)bnrt_bn_affine_f32(&x, &r, 1u, 1u, 1u, BNRT_LAYOUT_NCHW, &y, &z, BNRT_LAYER_FLAG_FMA);
    return r;
}

static int bad_shape(uint32_t channels, uint32_t spatial, uint8_t layout)
{
    return channels == 0u || spatial == 0u
           || (layout != BNRT_LAYOUT_NCHW && layout != BNRT_LAYOUT_NHWC);
}

bnrt_status_t bnrt_bn_train_accumulate_f32(const float *x, uint32_t first, uint32_t count,
                                           uint32_t channels, uint32_t spatial, uint8_t layout,
                                           uint32_t per_channel, uint32_t chunk, uint8_t flags,
                                           const float *mean, double *acc, float *partial)
{
    uint32_t i, c, j;
    const int fused = (flags & BNRT_TRAIN_FLAG_FMA) != 0u;

    if (bad_shape(channels, spatial, layout) || per_channel == 0u)
        return BNRT_ERR_ARG;
    if (count == 0u)
        return BNRT_OK;
    if (x == NULL || acc == NULL || (chunk != 0u && partial == NULL))
        return BNRT_ERR_ARG;
    for (i = 0; i < count; i++) {
        const float v = x[i];
        float term = v;
        locate(first + i, channels, spatial, layout, &c, &j);
        if (chunk == 0u) {
            if (mean != NULL) {
                const float d = v - mean[c];
                term = d * d;
            }
            acc[c] += (double)term;
            continue;
        }
        if (mean != NULL) {
            const float d = v - mean[c];
            partial[c] = fused ? fma1(d, d, partial[c]) : partial[c] + d * d;
        } else {
            partial[c] = partial[c] + v;
        }
        if ((j + 1u) % chunk == 0u || j + 1u == per_channel) {
            acc[c] += (double)partial[c];
            partial[c] = 0.0f;
        }
    }
    return BNRT_OK;
}

bnrt_status_t bnrt_bn_train_mean_f32(uint32_t channels, uint32_t n, const double *acc, float *mean)
{
    uint32_t c;

    if (acc == NULL || mean == NULL || n == 0u)
        return BNRT_ERR_ARG;
    for (c = 0; c < channels; c++)
        mean[c] = (float)(acc[c] / (double)n);
    return BNRT_OK;
}

bnrt_status_t bnrt_bn_train_update_f32(uint32_t channels, uint32_t n, const double *acc,
                                       const float *mean, double eps, double momentum,
                                       uint8_t flags, const float *weight, const float *bias,
                                       float *running_mean, float *running_var, float *a, float *b,
                                       float *scratch)
{
    const float m = (float)momentum;
    const float keep = 1.0f - m;
    const float nf = (float)n, n1f = (float)(n - 1u);
    uint32_t c;

    if (acc == NULL || mean == NULL || weight == NULL || bias == NULL || running_mean == NULL
        || running_var == NULL || a == NULL || b == NULL || scratch == NULL)
        return BNRT_ERR_ARG;
    if (n < 2u)
        return BNRT_ERR_BATCH;
    for (c = 0; c < channels; c++) {
        const float var_sum = (float)acc[c];
        const double var = (double)(var_sum / nf);
        const float invstd = (var != 0.0 || eps != 0.0) ? (float)(1.0 / sqrt(var + eps)) : 0.0f;
        const float unbiased = var_sum / n1f;
        const float kept_var = keep * running_var[c];

        running_mean[c] = m * mean[c] + keep * running_mean[c];
        running_var[c] = (float)((double)m * (double)unbiased + (double)kept_var);
        a[c] = invstd * weight[c];
        scratch[c] = -mean[c];
        if (!(flags & BNRT_TRAIN_FLAG_FMA))
            b[c] = bias[c] - mean[c] * a[c];
    }
    if (flags & BNRT_TRAIN_FLAG_FMA)
        return bnrt_bn_affine_f32(scratch, b, 1u, channels, 1u, BNRT_LAYOUT_NCHW, a, bias,
                                  BNRT_LAYER_FLAG_FMA);
    return BNRT_OK;
}

bnrt_status_t bnrt_bn_train_apply_f32(const float *in, float *out, uint32_t first, uint32_t count,
                                      uint32_t channels, uint32_t spatial, uint8_t layout,
                                      const float *a, const float *b, uint8_t flags)
{
    const uint8_t kflags = (flags & BNRT_TRAIN_FLAG_FMA) ? BNRT_LAYER_FLAG_FMA : 0u;
    uint32_t done = 0, c, j, run;
    bnrt_status_t st;

    if (bad_shape(channels, spatial, layout))
        return BNRT_ERR_ARG;
    if (count == 0u)
        return BNRT_OK;
    if (in == NULL || out == NULL || a == NULL || b == NULL)
        return BNRT_ERR_ARG;
    /* Runs of one channel (NCHW) or of consecutive channels (NHWC). */
    while (done < count) {
        const uint32_t e = first + done;
        locate(e, channels, spatial, layout, &c, &j);
        if (layout == BNRT_LAYOUT_NCHW) {
            run = spatial - e % spatial;
            if (run > count - done)
                run = count - done;
            st = bnrt_bn_affine_f32(in + done, out + done, 1u, 1u, run, BNRT_LAYOUT_NCHW, a + c,
                                    b + c, kflags);
        } else {
            run = channels - c;
            if (run > count - done)
                run = count - done;
            st = bnrt_bn_affine_f32(in + done, out + done, 1u, run, 1u, BNRT_LAYOUT_NHWC, a + c,
                                    b + c, kflags);
        }
        if (st != BNRT_OK)
            return st;
        done += run;
    }
    return BNRT_OK;
}

bnrt_status_t bnrt_bn_train_fold_f32(uint32_t channels, const float *weight, const float *bias,
                                     const float *mean, const float *var, double eps, int fused,
                                     float *a, float *b)
{
    const float epsf = (float)eps;
    uint32_t c;

    if (weight == NULL || bias == NULL || mean == NULL || var == NULL || a == NULL || b == NULL)
        return BNRT_ERR_ARG;
    for (c = 0; c < channels; c++) {
        a[c] = (1.0f / sqrtf(var[c] + epsf)) * weight[c];
        b[c] = fused ? fma1(-mean[c], a[c], bias[c]) : bias[c] - mean[c] * a[c];
    }
    return BNRT_OK;
}
