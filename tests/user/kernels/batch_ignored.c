/* Wrong on purpose: handles only the first sample of the batch. */
#include <math.h>
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch, uint32_t spatial)
{
    (void)batch;
    for (uint32_t c = 0; c < bn->channels; c++)
        for (uint32_t s = 0; s < spatial; s++) {
            uint32_t i = c * spatial + s;
            y[i] = (x[i] - bn->running_mean[c]) / sqrtf(bn->running_var[c] + bn->eps) * bn->weight[c] + bn->bias[c];
        }
}
