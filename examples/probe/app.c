/* An application that checks its own BatchNorm code against PyTorch through
 * the probe library (include/bnrt_probe.h, docs/verify-your-code.md):
 *
 *   make -C firmware user-app BOARD=qemu-mps2-an386 APP_SRCS=$PWD/examples/probe/app.c USER_OUT=/tmp/app
 *   toolkit verify examples/probe/model.py:build --kernel probe --port <the board's serial URL>
 *   toolkit verify examples/probe/model.py:build --port <the same URL>   (the runtime's kernels)
 *
 * It registers two BN functions: a bit-exact one for the model's first BN
 * layer and, for every other layer, one that forgets eps (on purpose: verify
 * names that mistake).  Its main loop does its own work and serves the whole
 * protocol, USER included, through one bnrt_cmd_poll(). */
#include <math.h>
#include <stdint.h>

#include "bnrt_probe.h"

static void stem_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch,
                    uint32_t spatial)
{
    for (uint32_t c = 0; c < bn->channels; c++) {
        float a = (1.0f / sqrtf(bn->running_var[c] + bn->eps)) * bn->weight[c];
        float b = fmaf(-bn->running_mean[c], a, bn->bias[c]);
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t s = 0; s < spatial; s++) {
                uint32_t i = (n * bn->channels + c) * spatial + s;
                y[i] = fmaf(x[i], a, b);
            }
    }
}

static void head_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch,
                    uint32_t spatial)
{
    for (uint32_t n = 0; n < batch; n++)
        for (uint32_t c = 0; c < bn->channels; c++)
            for (uint32_t s = 0; s < spatial; s++) {
                uint32_t i = (n * bn->channels + c) * spatial + s;
                y[i] = (x[i] - bn->running_mean[c]) / sqrtf(bn->running_var[c]) * bn->weight[c]
                       + bn->bias[c];
            }
}

static volatile uint32_t work_done;
static bnrt_server_t server; /* static: two model slots and two frame buffers */

int main(void)
{
    bnrt_probe_register(0, stem_bn);
    bnrt_probe_register(BNRT_PROBE_ANY, head_bn);
    bnrt_server_init(&server);
    for (;;) {
        work_done++;            /* the application's own work */
        bnrt_cmd_poll(&server); /* INFO, LOAD, RUN and USER; never waits */
    }
}
