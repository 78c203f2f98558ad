/* Wrong on purpose: normalizes with the batch's own statistics (train mode). */
#include <math.h>
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch, uint32_t spatial)
{
    uint32_t C = bn->channels;
    for (uint32_t c = 0; c < C; c++) {
        float sum = 0.0f, sq = 0.0f, mean, var;
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t s = 0; s < spatial; s++)
                sum += x[(n * C + c) * spatial + s];
        mean = sum / (float)(batch * spatial);
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t s = 0; s < spatial; s++) {
                float d = x[(n * C + c) * spatial + s] - mean;
                sq += d * d;
            }
        var = sq / (float)(batch * spatial);
        for (uint32_t n = 0; n < batch; n++)
            for (uint32_t s = 0; s < spatial; s++) {
                uint32_t i = (n * C + c) * spatial + s;
                y[i] = (x[i] - mean) / sqrtf(var + bn->eps) * bn->weight[c] + bn->bias[c];
            }
    }
}
