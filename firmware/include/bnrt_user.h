/* Your own BatchNorm layer in C, checked against PyTorch on the board
 * (`toolkit verify MODEL --kernel my_bn.c:NAME`, docs/verify-your-code.md).
 *
 * Write one function with this signature; the toolkit compiles your file into
 * a harness firmware, hands it each BN layer's tensors exactly as PyTorch
 * stores them (nothing folded, nothing converted), streams the layer's inputs
 * through it and compares every output with torch eval mode.  When outputs
 * differ it names the mistake that explains them (eps missing, variance used
 * as a standard deviation, running statistics ignored, ...).
 *
 * This header is all your file needs; it has no other dependency.
 */
#ifndef BNRT_USER_H
#define BNRT_USER_H

#include <stdint.h>

/* One nn.BatchNorm1d/2d/3d layer in eval mode, as PyTorch stores it:
 *   weight, bias                  module.weight, module.bias (parameters);
 *                                 NULL when the layer has affine=False
 *                                 (BatchNorm(..., bias=False): bias NULL only)
 *   running_mean, running_var     module.running_mean, module.running_var
 *                                 (buffers, not parameters); NULL when the
 *                                 layer was built with track_running_stats=False
 *   eps                           module.eps (default 1e-5)
 * Every non-NULL array has `channels` floats.  PyTorch eval mode computes, per
 * channel c:
 *   y = (x - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c]
 * (torch's CPU kernel: a = (1/sqrt(var + eps)) * weight, b = fma(-mean, a, bias),
 *  y = fma(x, a, b); write it that way with fmaf() to match it bit for bit). */
typedef struct {
    uint32_t channels;
    const float *weight, *bias;              /* NULL when affine=False */
    const float *running_mean, *running_var; /* NULL when the layer has no running stats */
    float eps;
} bnrt_user_bn_t;

/* The function you write (any name; give it with --kernel file.c:NAME):
 *
 *   void NAME(const bnrt_user_bn_t *bn, const float *x, float *y,
 *             uint32_t batch, uint32_t spatial);
 *
 * x and y: batch x channels x spatial floats, NCHW, contiguous, so element
 * (n, c, s) is at index (n * channels + c) * spatial + s; y may equal x (the
 * harness calls it out of place).  spatial is H*W for BatchNorm2d, D*H*W for
 * 3d, the length for (N, C, L) BatchNorm1d input and 1 for (N, C) input. */
typedef void (*bnrt_user_bn_f32_fn)(const bnrt_user_bn_t *bn, const float *x, float *y,
                                    uint32_t batch, uint32_t spatial);

/* The s8 variant (`toolkit verify --kernel file.c:NAME --dtype s8`): the same
 * tensors, plus the quantization of the layer's input and output as
 * `toolkit export --dtype s8` chooses it (per tensor, from the calibration
 * inputs):
 *   x_real = (x - in_zero_point) * in_scale
 *   y      = clamp(floor(y_real / out_scale + 0.5) + out_zero_point, -128, 127)
 * where y_real is BN of x_real as above.  A layer passes when every y is
 * within --max-lsb-err (default 1) of that value computed exactly. */
typedef struct {
    uint32_t channels;
    const float *weight, *bias;              /* NULL when affine=False */
    const float *running_mean, *running_var; /* NULL when the layer has no running stats */
    float eps;
    float in_scale;
    int32_t in_zero_point;
    float out_scale;
    int32_t out_zero_point;
} bnrt_user_bn_s8_t;

/*   void NAME(const bnrt_user_bn_s8_t *bn, const int8_t *x, int8_t *y,
 *             uint32_t batch, uint32_t spatial);      (layout as above) */
typedef void (*bnrt_user_bn_s8_fn)(const bnrt_user_bn_s8_t *bn, const int8_t *x, int8_t *y,
                                   uint32_t batch, uint32_t spatial);

#endif
