/* Right, s8 signature: dequantize, BN in float, quantize (within 1 LSB). */
#include <math.h>
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_s8_t *bn, const int8_t *x, int8_t *y, uint32_t batch, uint32_t spatial)
{
    uint32_t C = bn->channels;
    for (uint32_t c = 0; c < C; c++) {
        float w = bn->weight ? bn->weight[c] : 1.0f, b = bn->bias ? bn->bias[c] : 0.0f;
        float a = (1.0f / sqrtf(bn->running_var[c] + bn->eps)) * w;
        float b2 = fmaf(-bn->running_mean[c], a, b);
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t s = 0; s < spatial; s++) {
                uint32_t i = (n * C + c) * spatial + s;
                float xr = (float)(x[i] - bn->in_zero_point) * bn->in_scale;
                float q = floorf(fmaf(xr, a, b2) / bn->out_scale + 0.5f) + (float)bn->out_zero_point;
                y[i] = (int8_t)(q < -128.0f ? -128.0f : q > 127.0f ? 127.0f : q);
            }
    }
}
