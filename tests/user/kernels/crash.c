/* Wrong on purpose: writes through a bad pointer (a crash on any board). */
#include "bnrt_user.h"

void my_bn(const bnrt_user_bn_t *bn, const float *x, float *y, uint32_t batch, uint32_t spatial)
{
    volatile float *bad = (volatile float *)(uintptr_t)0xFFFFFFF0u;
    (void)bn; (void)y; (void)batch; (void)spatial;
    *bad = x[0];
    ((void (*)(void))(uintptr_t)*bad)();
}
