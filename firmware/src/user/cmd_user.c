/* The USER command: hand a layer's tensors, exactly as PyTorch stores them,
 * to the user's own BN function and run it on streamed inputs
 * (docs/protocol.md "User kernels"). */
#include "user_harness.h"

#include <string.h>

#include "bnrt_hal.h"

static struct {
    float tensor[4][BNRT_USER_CHANNELS]; /* weight, bias, running_mean, running_var */
    float x[BNRT_USER_ELEMENTS];
    float y[BNRT_USER_ELEMENTS];
    bnrt_user_bn_t bn;
    bnrt_user_bn_s8_t bn_s8; /* the same tensors and the quantization */
    uint32_t channels;       /* 0: no layer set up */
    uint8_t flags;
    uint8_t dtype; /* BNRT_DTYPE_F32 or BNRT_DTYPE_S8 */
} user;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static bnrt_status_t setup(const uint8_t *p, size_t n, uint8_t *out, size_t room, size_t *out_len)
{
    uint32_t channels, flags, bits;
    float eps;
    const float **slot[4];
    unsigned t;

    if (n != BNRT_USER_SETUP_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (room < BNRT_USER_SETUP_RESPONSE_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    flags = p[BNRT_USER_SETUP_OFF_FLAGS];
    channels = rd32(p + BNRT_USER_SETUP_OFF_CHANNELS);
    bits = rd32(p + BNRT_USER_SETUP_OFF_EPS);
    memcpy(&eps, &bits, sizeof eps);
    user.channels = 0;
    wr32(out + BNRT_USER_SETUP_RESPONSE_OFF_MAX_CHANNELS, BNRT_USER_CHANNELS);
    wr32(out + BNRT_USER_SETUP_RESPONSE_OFF_MAX_ELEMENTS, BNRT_USER_ELEMENTS);
    *out_len = BNRT_USER_SETUP_RESPONSE_SIZE;
    if (flags > 0x0Fu || p[BNRT_USER_SETUP_OFF_RESERVED] != 0)
        return BNRT_ERR_ARG;
    if (p[BNRT_USER_SETUP_OFF_DTYPE] != BNRT_DTYPE_F32
        && p[BNRT_USER_SETUP_OFF_DTYPE] != BNRT_DTYPE_S8)
        return BNRT_ERR_DTYPE;
    if (channels == 0 || channels > BNRT_USER_CHANNELS)
        return BNRT_ERR_CHANNELS;
    slot[BNRT_USER_TENSOR_WEIGHT] = &user.bn.weight;
    slot[BNRT_USER_TENSOR_BIAS] = &user.bn.bias;
    slot[BNRT_USER_TENSOR_RUNNING_MEAN] = &user.bn.running_mean;
    slot[BNRT_USER_TENSOR_RUNNING_VAR] = &user.bn.running_var;
    for (t = 0; t < 4u; t++) {
        memset(user.tensor[t], 0, sizeof user.tensor[t]);
        *slot[t] = (flags & (1u << t)) ? user.tensor[t] : NULL;
    }
    user.bn.channels = channels;
    user.bn.eps = eps;
    memset(&user.bn_s8, 0, sizeof user.bn_s8);
    user.bn_s8.channels = channels;
    user.bn_s8.weight = user.bn.weight;
    user.bn_s8.bias = user.bn.bias;
    user.bn_s8.running_mean = user.bn.running_mean;
    user.bn_s8.running_var = user.bn.running_var;
    user.bn_s8.eps = eps;
    user.dtype = p[BNRT_USER_SETUP_OFF_DTYPE];
    user.flags = (uint8_t)flags;
    user.channels = channels;
    return BNRT_OK;
}

/* [first, first+count) inside [0, limit), and count floats in the payload. */
static int range_ok(uint32_t first, uint32_t count, uint32_t limit)
{
    return first <= limit && count <= limit - first;
}

static bnrt_status_t transfer(const uint8_t *p, size_t n, uint8_t *out, size_t room,
                              size_t *out_len)
{
    uint32_t phase = p[BNRT_USER_OFF_PHASE], tensor = p[BNRT_USER_OFF_TENSOR];
    uint32_t first = rd32(p + BNRT_USER_OFF_FIRST), count = rd32(p + BNRT_USER_OFF_COUNT);
    size_t data = n - BNRT_USER_SIZE;
    size_t esize = BNRT_DTYPE_SIZE(user.dtype); /* DATA and READ elements */

    if (p[BNRT_USER_OFF_RESERVED] != 0 || p[BNRT_USER_OFF_RESERVED + 1] != 0)
        return BNRT_ERR_ARG;
    if (phase == BNRT_USER_PHASE_READ) {
        if (data != 0 || tensor != 0)
            return BNRT_ERR_FRAME_FORMAT;
        if (!range_ok(first, count, BNRT_USER_ELEMENTS))
            return BNRT_ERR_SHAPE;
        if ((size_t)count > room / esize)
            return BNRT_ERR_FRAME_SIZE;
        memcpy(out, (const uint8_t *)user.y + (size_t)first * esize, (size_t)count * esize);
        *out_len = (size_t)count * esize;
        return BNRT_OK;
    }
    if (phase == BNRT_USER_PHASE_DATA) {
        if (tensor != 0)
            return BNRT_ERR_ARG;
        if (data % esize != 0 || data / esize != count
            || !range_ok(first, count, BNRT_USER_ELEMENTS))
            return BNRT_ERR_SHAPE;
        memcpy((uint8_t *)user.x + (size_t)first * esize, p + BNRT_USER_SIZE, data);
        return BNRT_OK;
    }
    /* PARAM */
    if (data % BNRT_DTYPE_SIZE_F32 != 0
        || data / BNRT_DTYPE_SIZE_F32 != count) /* parameters are f32 */
        return BNRT_ERR_SHAPE;
    if (user.channels == 0)
        return BNRT_ERR_ARG;
    if (tensor > 3u || !(user.flags & (1u << tensor)))
        return BNRT_ERR_ARG;
    if (!range_ok(first, count, user.channels))
        return BNRT_ERR_SHAPE;
    memcpy(&user.tensor[tensor][first], p + BNRT_USER_SIZE, data);
    return BNRT_OK;
}

static bnrt_status_t quant(const uint8_t *p, size_t n)
{
    uint32_t bits;

    if (n != BNRT_USER_QUANT_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (user.channels == 0 || user.dtype != BNRT_DTYPE_S8)
        return BNRT_ERR_ARG;
    bits = rd32(p + BNRT_USER_QUANT_OFF_IN_SCALE);
    memcpy(&user.bn_s8.in_scale, &bits, sizeof bits);
    user.bn_s8.in_zero_point = (int32_t)rd32(p + BNRT_USER_QUANT_OFF_IN_ZERO_POINT);
    bits = rd32(p + BNRT_USER_QUANT_OFF_OUT_SCALE);
    memcpy(&user.bn_s8.out_scale, &bits, sizeof bits);
    user.bn_s8.out_zero_point = (int32_t)rd32(p + BNRT_USER_QUANT_OFF_OUT_ZERO_POINT);
    return BNRT_OK;
}

static bnrt_status_t call(const uint8_t *p, size_t n, uint8_t *out, size_t room, size_t *out_len)
{
    uint32_t batch, spatial, t0, t1;
    uint64_t total;
    bnrt_user_bn_f32_fn fn = NULL;
    bnrt_user_bn_s8_fn fn_s8 = NULL;

    if (n != BNRT_USER_CALL_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (room < BNRT_USER_CALL_RESPONSE_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    if (user.channels == 0)
        return BNRT_ERR_ARG;
#ifdef BNRT_USER_PROBE
    if (user.dtype != BNRT_DTYPE_F32)
        return BNRT_ERR_UNSUPPORTED; /* the probe registers f32 functions */
    fn = bnrt_probe_lookup((uint32_t)p[BNRT_USER_CALL_OFF_LAYER]
                           | ((uint32_t)p[BNRT_USER_CALL_OFF_LAYER + 1] << 8));
    if (fn == NULL)
        return BNRT_ERR_LAYER;
#else
    fn = bnrt_user_entry_f32;
    fn_s8 = bnrt_user_entry_s8;
    if (user.dtype == BNRT_DTYPE_S8 ? fn_s8 == NULL : fn == NULL)
        return BNRT_ERR_DTYPE; /* the image holds a function of the other signature */
#endif
    batch = rd32(p + BNRT_USER_CALL_OFF_BATCH);
    spatial = rd32(p + BNRT_USER_CALL_OFF_SPATIAL);
    total = (uint64_t)batch * user.channels * spatial;
    if (spatial == 0 || total > BNRT_USER_ELEMENTS)
        return BNRT_ERR_SHAPE;
    /* Poison the output: an element the function never writes shows up
     * (NaN bits 0xFFFFFFFF for f32, -1 for s8). */
    memset(user.y, 0xFF, (size_t)total * sizeof(float));
    t0 = bnrt_hal_counter();
    if (user.dtype == BNRT_DTYPE_S8)
        fn_s8(&user.bn_s8, (const int8_t *)(const void *)user.x, (int8_t *)(void *)user.y, batch,
              spatial);
    else
        fn(&user.bn, user.x, user.y, batch, spatial);
    t1 = bnrt_hal_counter();
    wr32(out + BNRT_USER_CALL_RESPONSE_OFF_TICKS, t1 - t0);
    *out_len = BNRT_USER_CALL_RESPONSE_SIZE;
    return BNRT_OK;
}

bnrt_status_t bnrt_cmd_user(const uint8_t *p, size_t n, uint8_t *out, size_t room, size_t *out_len)
{
    if (p == NULL || n < 1u)
        return BNRT_ERR_FRAME_FORMAT;
    switch (p[0]) {
    case BNRT_USER_PHASE_SETUP: return setup(p, n, out, room, out_len);
    case BNRT_USER_PHASE_CALL: return call(p, n, out, room, out_len);
    case BNRT_USER_PHASE_QUANT: return quant(p, n);
    case BNRT_USER_PHASE_PARAM:
    case BNRT_USER_PHASE_DATA:
    case BNRT_USER_PHASE_READ:
        if (n < BNRT_USER_SIZE)
            return BNRT_ERR_FRAME_FORMAT;
        return transfer(p, n, out, room, out_len);
    default: return BNRT_ERR_ARG;
    }
}
