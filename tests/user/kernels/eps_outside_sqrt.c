/* Wrong on purpose: eps outside the square root. */
#include <math.h>
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch, uint32_t spatial)
{
    uint32_t C = bn->channels;
    for (uint32_t n = 0; n < batch; n++)
        for (uint32_t c = 0; c < C; c++)
            for (uint32_t s = 0; s < spatial; s++) {
                uint32_t i = (n * C + c) * spatial + s;
                y[i] = (x[i] - bn->running_mean[c]) / (sqrtf(bn->running_var[c]) + bn->eps) * bn->weight[c] + bn->bias[c];
            }
}
