/* Train-mode BatchNorm on the device (docs/adapt.md, docs/protocol.md
 * "Train-mode BN"): batch statistics, running-statistic updates and the
 * normalized output, with torch's CPU arithmetic (float32 data, double sums).
 *
 * Layers, from pure to I/O:
 *   bnrt_bn_train_*_f32  kernels over caller-owned arrays (kernels/bn_train_f32.c)
 *   bnrt_train_t         one layer's state, kept in the command context
 *   bnrt_cmd_train/...   the TRAIN, STATS and FREEZE commands (cmd_train.c)
 * No allocation, no I/O. */
#ifndef BNRT_TRAIN_H
#define BNRT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bnrt.h"

/* Channels of the one layer the device holds; a board may override with -D.
 * About 40 bytes of RAM per channel. */
#ifndef BNRT_TRAIN_CHANNELS
#define BNRT_TRAIN_CHANNELS 256u
#endif
typedef char bnrt_train_assert_channels
    [(BNRT_TRAIN_CHANNELS >= 1u && BNRT_TRAIN_CHANNELS <= BNRT_MAX_CHANNELS) ? 1 : -1];

/* State of bnrt_train_t.pass besides BNRT_TRAIN_PASS_SUM / _VAR. */
#define BNRT_TRAIN_IDLE 0u                   /* no batch open */
#define BNRT_TRAIN_DONE BNRT_TRAIN_PASS_DONE /* statistics final: APPLY allowed */

typedef struct {
    float weight[BNRT_TRAIN_CHANNELS];
    float bias[BNRT_TRAIN_CHANNELS];
    float running_mean[BNRT_TRAIN_CHANNELS];
    float running_var[BNRT_TRAIN_CHANNELS];
    float mean[BNRT_TRAIN_CHANNELS]; /* batch mean */
    float a[BNRT_TRAIN_CHANNELS];    /* y = a*x + b for the current batch */
    float b[BNRT_TRAIN_CHANNELS];
    float partial[BNRT_TRAIN_CHANNELS]; /* float partial sums (chunk mode) */
    double acc[BNRT_TRAIN_CHANNELS];    /* double sums of the current pass */
    double eps, momentum;
    uint64_t num_batches_tracked;
    uint32_t channels; /* 0: not set up */
    uint32_t batch, spatial, chunk;
    uint32_t per_channel; /* batch * spatial */
    uint32_t total, next; /* elements per pass, elements consumed */
    uint8_t flags, layout, pass;
} bnrt_train_t;

/* ---- kernels (kernels/bn_train_f32.c) ---- */

/* Add elements [first, first+count) of a batch (batch x channels x spatial in
 * `layout`; `per_channel` = batch*spatial values per channel) to the per-channel
 * sums.  mean == NULL: sum pass, x; otherwise variance pass, (x-mean)^2 in
 * float.  chunk == 0: each term goes into acc[c] (double), as torch's
 * contiguous kernel; otherwise terms collect in partial[c] (float, fused
 * multiply-add for the variance when flags has BNRT_TRAIN_FLAG_FMA) and each
 * `chunk` values per channel, and at the channel's last value, partial[c] is
 * added to acc[c] and reset, as torch's channels-last kernel with one partial
 * per thread.  Elements must arrive in order; the caller checks the range.
 * ERR_ARG for NULL pointers, zero channels/spatial or an unknown layout. */
bnrt_status_t bnrt_bn_train_accumulate_f32(const float *x, uint32_t first, uint32_t count,
                                           uint32_t channels, uint32_t spatial, uint8_t layout,
                                           uint32_t per_channel, uint32_t chunk, uint8_t flags,
                                           const float *mean, double *acc, float *partial);

/* mean[c] = (float)(acc[c] / n).  ERR_ARG for NULL pointers or n == 0. */
bnrt_status_t bnrt_bn_train_mean_f32(uint32_t channels, uint32_t n, const double *acc, float *mean);

/* Close a batch from var_sum = (float)acc[c] (n values per channel, n >= 2):
 *   invstd = (float)(1 / sqrt((double)(var_sum/n) + eps))      (0 if both are 0)
 *   running_mean = m*mean + (1-m)*running_mean                   (float)
 *   running_var  = (float)((double)m*(var_sum/(n-1)) + (1-m)*running_var)
 *   a = invstd*weight, b = fma(-mean, a, bias) (or bias - mean*a)
 * with m = (float)momentum.  `scratch` holds `channels` floats.  ERR_ARG for
 * NULL pointers; ERR_BATCH for n < 2. */
bnrt_status_t bnrt_bn_train_update_f32(uint32_t channels, uint32_t n, const double *acc,
                                       const float *mean, double eps, double momentum,
                                       uint8_t flags, const float *weight, const float *bias,
                                       float *running_mean, float *running_var, float *a, float *b,
                                       float *scratch);

/* y = a[c]*x + b[c] (fused when flags has BNRT_TRAIN_FLAG_FMA) on elements
 * [first, first+count) of a batch; in/out hold only those elements. */
bnrt_status_t bnrt_bn_train_apply_f32(const float *in, float *out, uint32_t first, uint32_t count,
                                      uint32_t channels, uint32_t spatial, uint8_t layout,
                                      const float *a, const float *b, uint8_t flags);

/* Eval-mode fold as toolkit/model/fold.py: a = (1/sqrt(var + (float)eps))*weight,
 * b = fma(-mean, a, bias) if fused else bias - mean*a, all float32. */
bnrt_status_t bnrt_bn_train_fold_f32(uint32_t channels, const float *weight, const float *bias,
                                     const float *mean, const float *var, double eps, int fused,
                                     float *a, float *b);

/* ---- commands (cmd_train.c): request payload p[0..n), answer at out (room
 * bytes), *out_len set on success ---- */
bnrt_status_t bnrt_cmd_train(bnrt_train_t *t, const uint8_t *p, size_t n, uint8_t *out, size_t room,
                             size_t *out_len);
bnrt_status_t bnrt_cmd_stats(const bnrt_train_t *t, const uint8_t *p, size_t n, uint8_t *out,
                             size_t room, size_t *out_len);
/* `model` is the active model (NULL: none) and `blob` its writable slot. */
bnrt_status_t bnrt_cmd_freeze(const bnrt_train_t *t, bnrt_model_t *model, uint8_t *blob,
                              const uint8_t *p, size_t n, uint8_t *out, size_t room,
                              size_t *out_len);

#endif /* BNRT_TRAIN_H */
