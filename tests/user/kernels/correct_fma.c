/* Right, and bit-exact with torch eval: torch's CPU arithmetic with fmaf. */
#include <math.h>
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch, uint32_t spatial)
{
    uint32_t C = bn->channels;
    for (uint32_t c = 0; c < C; c++) {
        float w = bn->weight ? bn->weight[c] : 1.0f, b = bn->bias ? bn->bias[c] : 0.0f;
        float a = (1.0f / sqrtf(bn->running_var[c] + bn->eps)) * w;
        float b2 = fmaf(-bn->running_mean[c], a, b);
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t s = 0; s < spatial; s++) {
                uint32_t i = (n * C + c) * spatial + s;
                y[i] = fmaf(x[i], a, b2);
            }
    }
}
