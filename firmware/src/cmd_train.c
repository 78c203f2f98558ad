/* The TRAIN, STATS and FREEZE commands (docs/protocol.md "Train-mode BN").
 * Every request is safe to repeat: the client resends a request whose answer
 * was lost, so data the device already consumed is acknowledged, not added
 * twice. */
#include "bnrt_train.h"

#include <string.h>

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) | (rd16(p + 2) << 16);
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static double rdf64(const uint8_t *p)
{
    const uint64_t bits = rd64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static float rdf32(const uint8_t *p)
{
    const uint32_t bits = rd32(p);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wrf32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    wr32(p, bits);
}

/* What the parser accepts in an f32 parameter: exponent not all ones (no inf, no NaN). */
static int finite_f32(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return ((bits >> 23) & 0xFFu) != 0xFFu;
}

static bnrt_status_t setup(bnrt_train_t *t, const uint8_t *p, size_t n)
{
    uint32_t channels, c;
    uint8_t flags;
    double eps;

    if (n != BNRT_TRAIN_SETUP_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    flags = p[BNRT_TRAIN_SETUP_OFF_FLAGS];
    channels = rd32(p + BNRT_TRAIN_SETUP_OFF_CHANNELS);
    eps = rdf64(p + BNRT_TRAIN_SETUP_OFF_EPS);
    if ((flags & ~BNRT_TRAIN_FLAGS_KNOWN) != 0u || rd16(p + BNRT_TRAIN_SETUP_OFF_RESERVED) != 0u
        || !(eps >= 0.0))
        return BNRT_ERR_ARG;
    if (channels == 0u || channels > BNRT_TRAIN_CHANNELS)
        return BNRT_ERR_CHANNELS;
    memset(t, 0, sizeof *t);
    for (c = 0; c < channels; c++) { /* torch's defaults until PARAMS arrive */
        t->weight[c] = 1.0f;
        t->running_var[c] = 1.0f;
    }
    t->channels = channels;
    t->flags = flags;
    t->eps = eps;
    t->momentum = rdf64(p + BNRT_TRAIN_SETUP_OFF_MOMENTUM);
    t->num_batches_tracked = rd64(p + BNRT_TRAIN_SETUP_OFF_NUM_BATCHES_TRACKED);
    return BNRT_OK;
}

static bnrt_status_t params(bnrt_train_t *t, const uint8_t *p, size_t n)
{
    const uint32_t first = rd32(p + BNRT_TRAIN_OFF_FIRST), count = rd32(p + BNRT_TRAIN_OFF_COUNT);
    const uint8_t *d = p + BNRT_TRAIN_SIZE;
    uint32_t i;

    if (t->channels == 0u)
        return BNRT_ERR_TRAIN_STATE;
    if (first > t->channels || count > t->channels - first)
        return BNRT_ERR_CHANNELS;
    if ((n - BNRT_TRAIN_SIZE) / 16u != count || (n - BNRT_TRAIN_SIZE) % 16u != 0u)
        return BNRT_ERR_SHAPE;
    for (i = 0; i < count; i++) {
        t->weight[first + i] = rdf32(d + 4u * i);
        t->bias[first + i] = rdf32(d + 4u * (count + i));
        t->running_mean[first + i] = rdf32(d + 4u * (2u * count + i));
        t->running_var[first + i] = rdf32(d + 4u * (3u * count + i));
    }
    t->pass = BNRT_TRAIN_IDLE; /* new parameters end any open batch */
    return BNRT_OK;
}

static bnrt_status_t begin(bnrt_train_t *t, const uint8_t *p, size_t n)
{
    uint32_t batch, spatial;
    uint64_t per_channel, total;
    uint8_t layout;

    if (n != BNRT_TRAIN_BEGIN_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (t->channels == 0u)
        return BNRT_ERR_TRAIN_STATE;
    layout = p[BNRT_TRAIN_BEGIN_OFF_LAYOUT];
    batch = rd32(p + BNRT_TRAIN_BEGIN_OFF_BATCH);
    spatial = rd32(p + BNRT_TRAIN_BEGIN_OFF_SPATIAL);
    if (rd16(p + BNRT_TRAIN_BEGIN_OFF_RESERVED) != 0u)
        return BNRT_ERR_ARG;
    if (layout != BNRT_LAYOUT_NCHW && layout != BNRT_LAYOUT_NHWC)
        return BNRT_ERR_LAYOUT;
    per_channel = (uint64_t)batch * spatial;
    if (per_channel == 0u)
        return BNRT_ERR_SHAPE;
    if (per_channel == 1u)
        return BNRT_ERR_BATCH;
    total = per_channel * t->channels;
    if (total > 0xFFFFFFFFu)
        return BNRT_ERR_SHAPE;
    t->layout = layout;
    t->batch = batch;
    t->spatial = spatial;
    t->chunk = rd32(p + BNRT_TRAIN_BEGIN_OFF_CHUNK);
    t->per_channel = (uint32_t)per_channel;
    t->total = (uint32_t)total;
    t->next = 0;
    memset(t->acc, 0, sizeof t->acc);
    memset(t->partial, 0, sizeof t->partial);
    t->pass = BNRT_TRAIN_PASS_SUM;
    return BNRT_OK;
}

/* A pass is complete: move to the next one (SUM -> VAR -> DONE). */
static bnrt_status_t finish_pass(bnrt_train_t *t)
{
    bnrt_status_t st;

    if (t->pass == BNRT_TRAIN_PASS_SUM) {
        st = bnrt_bn_train_mean_f32(t->channels, t->per_channel, t->acc, t->mean);
        memset(t->acc, 0, sizeof t->acc);
        memset(t->partial, 0, sizeof t->partial);
        t->next = 0;
        t->pass = BNRT_TRAIN_PASS_VAR;
        return st;
    }
    t->num_batches_tracked++;
    if (t->flags & BNRT_TRAIN_FLAG_CUMULATIVE)
        t->momentum = 1.0 / (double)t->num_batches_tracked;
    st = bnrt_bn_train_update_f32(t->channels, t->per_channel, t->acc, t->mean, t->eps, t->momentum,
                                  t->flags, t->weight, t->bias, t->running_mean, t->running_var,
                                  t->a, t->b, t->partial);
    t->pass = BNRT_TRAIN_DONE;
    return st;
}

static bnrt_status_t data(bnrt_train_t *t, const uint8_t *p, size_t n)
{
    const uint8_t pass = p[BNRT_TRAIN_OFF_PASS];
    const uint32_t first = rd32(p + BNRT_TRAIN_OFF_FIRST), count = rd32(p + BNRT_TRAIN_OFF_COUNT);
    uint32_t skip, i;
    float x[64]; /* unaligned payload -> floats, a block at a time */
    bnrt_status_t st;

    if ((n - BNRT_TRAIN_SIZE) / BNRT_DTYPE_SIZE_F32 != count
        || (n - BNRT_TRAIN_SIZE) % BNRT_DTYPE_SIZE_F32 != 0u)
        return BNRT_ERR_SHAPE;
    if (pass != BNRT_TRAIN_PASS_SUM && pass != BNRT_TRAIN_PASS_VAR)
        return BNRT_ERR_ARG;
    if (t->channels == 0u || t->pass == BNRT_TRAIN_IDLE || pass > t->pass)
        return BNRT_ERR_TRAIN_STATE;
    if (pass < t->pass)
        return BNRT_OK; /* a repeat of an earlier pass's request */
    if (first > t->total || count > t->total - first)
        return BNRT_ERR_SHAPE;
    if (first > t->next)
        return BNRT_ERR_TRAIN_STATE; /* a gap: elements must arrive in order */
    skip = t->next - first;          /* already consumed (a repeat) */
    for (i = skip; i < count;) {
        uint32_t k, m = count - i < 64u ? count - i : 64u;
        for (k = 0; k < m; k++)
            x[k] = rdf32(p + BNRT_TRAIN_SIZE + BNRT_DTYPE_SIZE_F32 * (i + k));
        st = bnrt_bn_train_accumulate_f32(
            x, first + i, m, t->channels, t->spatial, t->layout, t->per_channel, t->chunk, t->flags,
            pass == BNRT_TRAIN_PASS_VAR ? t->mean : NULL, t->acc, t->partial);
        if (st != BNRT_OK)
            return st;
        i += m;
        t->next = first + i;
    }
    return t->next == t->total ? finish_pass(t) : BNRT_OK;
}

static bnrt_status_t apply(bnrt_train_t *t, const uint8_t *p, size_t n, uint8_t *out, size_t room,
                           size_t *out_len)
{
    const uint32_t first = rd32(p + BNRT_TRAIN_OFF_FIRST), count = rd32(p + BNRT_TRAIN_OFF_COUNT);
    uint32_t i;
    float x[64], y[64];
    bnrt_status_t st;

    if ((n - BNRT_TRAIN_SIZE) / BNRT_DTYPE_SIZE_F32 != count
        || (n - BNRT_TRAIN_SIZE) % BNRT_DTYPE_SIZE_F32 != 0u)
        return BNRT_ERR_SHAPE;
    if (t->channels == 0u || t->pass != BNRT_TRAIN_DONE)
        return BNRT_ERR_TRAIN_STATE;
    if (first > t->total || count > t->total - first)
        return BNRT_ERR_SHAPE;
    if ((size_t)count * BNRT_DTYPE_SIZE_F32 > room)
        return BNRT_ERR_FRAME_SIZE;
    for (i = 0; i < count;) {
        uint32_t k, m = count - i < 64u ? count - i : 64u;
        for (k = 0; k < m; k++)
            x[k] = rdf32(p + BNRT_TRAIN_SIZE + BNRT_DTYPE_SIZE_F32 * (i + k));
        st = bnrt_bn_train_apply_f32(x, y, first + i, m, t->channels, t->spatial, t->layout, t->a,
                                     t->b, t->flags);
        if (st != BNRT_OK)
            return st;
        for (k = 0; k < m; k++)
            wrf32(out + 4u * (i + k), y[k]);
        i += m;
    }
    *out_len = (size_t)count * 4u;
    return BNRT_OK;
}

bnrt_status_t bnrt_cmd_train(bnrt_train_t *t, const uint8_t *p, size_t n, uint8_t *out, size_t room,
                             size_t *out_len)
{
    if (t == NULL || (p == NULL && n != 0u) || out == NULL || out_len == NULL)
        return BNRT_ERR_ARG;
    if (n < 1u)
        return BNRT_ERR_FRAME_FORMAT;
    switch (p[0]) {
    case BNRT_TRAIN_PHASE_SETUP: return setup(t, p, n);
    case BNRT_TRAIN_PHASE_BEGIN: return begin(t, p, n);
    case BNRT_TRAIN_PHASE_PARAMS:
    case BNRT_TRAIN_PHASE_DATA:
    case BNRT_TRAIN_PHASE_APPLY:
        if (n < BNRT_TRAIN_SIZE)
            return BNRT_ERR_FRAME_FORMAT;
        if (rd16(p + BNRT_TRAIN_OFF_RESERVED) != 0u)
            return BNRT_ERR_ARG;
        if (p[0] == BNRT_TRAIN_PHASE_PARAMS)
            return params(t, p, n);
        if (p[0] == BNRT_TRAIN_PHASE_DATA)
            return data(t, p, n);
        return apply(t, p, n, out, room, out_len);
    default: return BNRT_ERR_ARG;
    }
}

bnrt_status_t bnrt_cmd_stats(const bnrt_train_t *t, const uint8_t *p, size_t n, uint8_t *out,
                             size_t room, size_t *out_len)
{
    uint32_t first, count, i;

    if (t == NULL || p == NULL || out == NULL || out_len == NULL)
        return BNRT_ERR_ARG;
    if (n != BNRT_STATS_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (t->channels == 0u)
        return BNRT_ERR_TRAIN_STATE;
    first = rd32(p + BNRT_STATS_OFF_FIRST);
    count = rd32(p + BNRT_STATS_OFF_COUNT);
    if (first > t->channels || count > t->channels - first)
        return BNRT_ERR_CHANNELS;
    if (room < BNRT_STATS_RESPONSE_SIZE || (room - BNRT_STATS_RESPONSE_SIZE) / 8u < count)
        return BNRT_ERR_FRAME_SIZE;
    wr32(out + BNRT_STATS_RESPONSE_OFF_NUM_BATCHES_TRACKED, (uint32_t)t->num_batches_tracked);
    wr32(out + BNRT_STATS_RESPONSE_OFF_NUM_BATCHES_TRACKED + 4u,
         (uint32_t)(t->num_batches_tracked >> 32));
    wr32(out + BNRT_STATS_RESPONSE_OFF_FIRST, first);
    wr32(out + BNRT_STATS_RESPONSE_OFF_COUNT, count);
    for (i = 0; i < count; i++) {
        wrf32(out + BNRT_STATS_RESPONSE_SIZE + 4u * i, t->running_mean[first + i]);
        wrf32(out + BNRT_STATS_RESPONSE_SIZE + 4u * (count + i), t->running_var[first + i]);
    }
    *out_len = BNRT_STATS_RESPONSE_SIZE + (size_t)count * 8u;
    return BNRT_OK;
}

/* Fold the running statistics into f32 layer `index` of the active model, in
 * place, and re-seal the blob (CRC) so it still validates. */
bnrt_status_t bnrt_cmd_freeze(const bnrt_train_t *t, bnrt_model_t *model, uint8_t *blob,
                              const uint8_t *p, size_t n, uint8_t *out, size_t room,
                              size_t *out_len)
{
    bnrt_layer_t layer;
    bnrt_model_t reloaded;
    bnrt_status_t st;
    size_t offset;
    uint32_t c, size;
    int pass;
    float a, b;

    if (t == NULL || p == NULL || out == NULL || out_len == NULL)
        return BNRT_ERR_ARG;
    if (n != BNRT_FREEZE_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (room < BNRT_FREEZE_RESPONSE_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    if (model == NULL || blob == NULL || model->blob != blob)
        return BNRT_ERR_NO_MODEL;
    st = bnrt_model_layer(model, rd16(p + BNRT_FREEZE_OFF_LAYER), &layer);
    if (st != BNRT_OK)
        return st;
    if (layer.dtype != BNRT_DTYPE_F32)
        return BNRT_ERR_DTYPE;
    if (t->channels == 0u)
        return BNRT_ERR_TRAIN_STATE;
    if (layer.channels != t->channels)
        return BNRT_ERR_CHANNELS;
    offset = (size_t)((const uint8_t *)layer.params - blob);
    /* Two passes: the active blob is written only when every folded value is
     * one the parser accepts (finite), so a refused FREEZE leaves it intact. */
    for (pass = 0; pass < 2; pass++) {
        for (c = 0; c < t->channels; c++) {
            st = bnrt_bn_train_fold_f32(1u, &t->weight[c], &t->bias[c], &t->running_mean[c],
                                        &t->running_var[c], t->eps,
                                        (layer.flags & BNRT_LAYER_FLAG_FMA) != 0u, &a, &b);
            if (st != BNRT_OK)
                return st;
            if (pass == 0) {
                if (!finite_f32(a) || !finite_f32(b))
                    return BNRT_ERR_NONFINITE;
            } else {
                wrf32(blob + offset + BNRT_DTYPE_SIZE_F32 * c, a);
                wrf32(blob + offset + BNRT_DTYPE_SIZE_F32 * (t->channels + c), b);
            }
        }
    }
    size = model->size;
    wr32(blob + BNRT_CRC_OFFSET,
         bnrt_crc32(bnrt_crc32(0, blob, BNRT_CRC_OFFSET), blob + BNRT_CRC_OFFSET + 4u,
                    size - BNRT_CRC_OFFSET - 4u));
    st = bnrt_model_load(&reloaded, blob, size);
    if (st != BNRT_OK)
        return st;
    *model = reloaded;
    wr32(out + BNRT_FREEZE_RESPONSE_OFF_CRC32, model->crc32);
    *out_len = BNRT_FREEZE_RESPONSE_SIZE;
    return BNRT_OK;
}
