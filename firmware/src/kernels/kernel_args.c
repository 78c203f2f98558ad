#include "kernel_args.h"

bnrt_status_t bnrt_kernel_args(uint32_t batch, uint32_t channels, uint32_t spatial, uint8_t layout,
                               const void *in, const void *out, const void *p0, const void *p1,
                               size_t *elements)
{
    size_t plane;
    *elements = 0;
    if (layout != BNRT_LAYOUT_NCHW && layout != BNRT_LAYOUT_NHWC) {
        return BNRT_ERR_ARG;
    }
    if (channels == 0u) {
        return BNRT_ERR_ARG;
    }
    if (spatial != 0u && channels > SIZE_MAX / spatial) {
        return BNRT_ERR_ARG;
    }
    plane = (size_t)channels * spatial;
    if (plane != 0u && batch > SIZE_MAX / plane) {
        return BNRT_ERR_ARG;
    }
    *elements = plane * batch;
    if (*elements != 0u && (in == NULL || out == NULL || p0 == NULL || p1 == NULL)) {
        *elements = 0;
        return BNRT_ERR_ARG;
    }
    return BNRT_OK;
}
