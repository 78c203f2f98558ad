/* Does not compile: a missing semicolon. */
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch, uint32_t spatial)
{
    uint32_t n = batch * bn->channels * spatial
    for (uint32_t i = 0; i < n; i++)
        y[i] = x[i];
}
