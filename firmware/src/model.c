/* Model parser (zero-copy) and layer dispatch.
 *
 * The checks and their order are those of toolkit/format/reader.py and
 * docs/format.md "Validation", so a corrupted file gets the same status name
 * from C and Python (tests/c/test_c_parser.py checks every truncation and bit
 * flip of a small file).  Fields are read by offset with little-endian
 * helpers; only the parameter arrays are used in place, after the parser has
 * checked their 8-byte alignment and bounds.  Bounds checks never form a sum
 * that could wrap: fits(off, len, limit) is off <= limit && len <= limit - off. */
#include <string.h>

#include "bnrt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bnrt uses the model's parameter arrays in place: little-endian targets only"
#endif

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) | (rd16(p + 2) << 16);
}

static int fits(uint32_t offset, uint32_t len, uint32_t limit)
{
    return offset <= limit && len <= limit - offset;
}

/* float bits that are finite and > 0 (subnormals included), without FP math */
static int finite_positive(uint32_t bits)
{
    return bits != 0u && (bits >> 31) == 0u && ((bits >> 23) & 0xFFu) != 0xFFu;
}

/* -range <= (int32_t)u <= range, on the unsigned bits (no implementation-defined casts) */
static int within32(uint32_t u, uint32_t range)
{
    return (uint32_t)(u + range) <= 2u * range;
}

/* The parameter array NAME of a DTYPE layer with C channels (order: bnrt_spec.h). */
#define PARAM_ARRAY(params, C, DTYPE, NAME) \
    ((const uint8_t *)(params) + (size_t)(C)*BNRT_PARAM_##DTYPE##_##NAME##_START)

static bnrt_status_t check_quant(const uint8_t *e, const uint8_t *params, uint32_t dtype,
                                 uint32_t channels)
{
    const uint32_t shift = e[BNRT_LAYER_OFF_SHIFT];
    const uint32_t zin = rd32(e + BNRT_LAYER_OFF_IN_ZERO_POINT);
    const uint32_t zout = rd32(e + BNRT_LAYER_OFF_OUT_ZERO_POINT);
    uint32_t c;
    if (dtype == BNRT_DTYPE_F32) {
        if (shift != 0u) {
            return BNRT_ERR_QUANT;
        }
        for (c = 0; c < 2u * channels; c++) { /* a[C] then b[C]: exponent all ones = inf/NaN */
            if (((rd32(params + 4u * c) >> 23) & 0xFFu) == 0xFFu) {
                return BNRT_ERR_NONFINITE;
            }
        }
        return BNRT_OK;
    }
    if (!finite_positive(rd32(e + BNRT_LAYER_OFF_IN_SCALE))
        || !finite_positive(rd32(e + BNRT_LAYER_OFF_OUT_SCALE))) {
        return BNRT_ERR_QUANT;
    }
    if (dtype == BNRT_DTYPE_S8) {
        /* zero points in [S8_MIN, S8_MAX]: u - S8_MIN (mod 2^32) in [0, S8_MAX - S8_MIN] */
        const uint32_t zrange = (uint32_t)(BNRT_S8_MAX - BNRT_S8_MIN);
        const uint8_t *mult = PARAM_ARRAY(params, channels, S8, MULT);
        const uint8_t *bias = PARAM_ARRAY(params, channels, S8, BIAS);
        if (shift > BNRT_S8_SHIFT_MAX || (uint32_t)(zin - (uint32_t)BNRT_S8_MIN) > zrange
            || (uint32_t)(zout - (uint32_t)BNRT_S8_MIN) > zrange) {
            return BNRT_ERR_QUANT;
        }
        for (c = 0; c < channels; c++) { /* int32 mult[C] and bias[C] */
            if (!within32(rd32(mult + 4u * c), (uint32_t)BNRT_S8_MULT_MAX)
                || !within32(rd32(bias + 4u * c), (uint32_t)BNRT_S8_BIAS_MAX)) {
                return BNRT_ERR_QUANT;
            }
        }
        return BNRT_OK;
    }
    if (shift > BNRT_S16_SHIFT_MAX || zin != 0u || zout != 0u) {
        return BNRT_ERR_QUANT;
    }
    params = PARAM_ARRAY(params, channels, S16, BIAS);
    for (c = 0; c < channels; c++) { /* int64 bias[C]; any int32 mult */
        const uint64_t u =
            (uint64_t)rd32(params + 8u * c) | ((uint64_t)rd32(params + 8u * c + 4u) << 32);
        if ((uint64_t)(u + (uint64_t)BNRT_S16_BIAS_MAX) > 2u * (uint64_t)BNRT_S16_BIAS_MAX) {
            return BNRT_ERR_QUANT;
        }
    }
    return BNRT_OK;
}

static bnrt_status_t check_layer(const uint8_t *blob, const uint8_t *e, uint32_t layers_end,
                                 uint32_t params_limit, uint32_t strings_size)
{
    const uint32_t dtype = e[BNRT_LAYER_OFF_DTYPE];
    const uint32_t flags = e[BNRT_LAYER_OFF_FLAGS];
    const uint32_t bytes = BNRT_PARAM_BYTES(dtype);
    uint32_t channels, offset, name;
    if (e[BNRT_LAYER_OFF_OP] != BNRT_OP_BN_AFFINE) {
        return BNRT_ERR_OP;
    }
    if (bytes == 0u) {
        return BNRT_ERR_DTYPE;
    }
    if (e[BNRT_LAYER_OFF_LAYOUT] > BNRT_LAYOUT_NHWC) {
        return BNRT_ERR_LAYOUT;
    }
    /* reserved: the 3 bytes after shift */
    if ((flags & ~BNRT_LAYER_FLAGS_KNOWN) != 0u || (dtype != BNRT_DTYPE_F32 && flags != 0u)
        || (e[BNRT_LAYER_OFF_SHIFT + 1] | e[BNRT_LAYER_OFF_SHIFT + 2] | e[BNRT_LAYER_OFF_SHIFT + 3])
               != 0u) {
        return BNRT_ERR_HEADER;
    }
    channels = rd32(e + BNRT_LAYER_OFF_CHANNELS);
    if (channels == 0u || channels > BNRT_MAX_CHANNELS) {
        return BNRT_ERR_CHANNELS;
    }
    offset = rd32(e + BNRT_LAYER_OFF_PARAMS_OFFSET);
    if (offset % BNRT_PARAM_ALIGN != 0u) {
        return BNRT_ERR_ALIGN;
    }
    /* channels <= 2^20 and bytes <= 12: the product cannot wrap */
    if (rd32(e + BNRT_LAYER_OFF_PARAMS_SIZE) != channels * bytes) {
        return BNRT_ERR_SIZE;
    }
    if (offset < layers_end || !fits(offset, channels * bytes, params_limit)) {
        return BNRT_ERR_BOUNDS;
    }
    name = rd32(e + BNRT_LAYER_OFF_NAME_OFFSET);
    if (name != BNRT_NAME_NONE && name >= strings_size) {
        return BNRT_ERR_STRINGS;
    }
    return check_quant(e, blob + offset, dtype, channels);
}

bnrt_status_t bnrt_model_load(bnrt_model_t *model, const uint8_t *blob, size_t size)
{
    uint32_t n, count, flags, layers, layers_end, limit, so, ss, strings = 0u, i;
    if (model == NULL) {
        return BNRT_ERR_ARG;
    }
    memset(model, 0, sizeof *model);
    if (blob == NULL) {
        return BNRT_ERR_ARG;
    }
    if ((uintptr_t)blob % BNRT_PARAM_ALIGN != 0u) {
        return BNRT_ERR_ALIGN;
    }
    if (size < BNRT_HDR_SIZE) {
        return BNRT_ERR_TRUNCATED;
    }
    if (rd32(blob + BNRT_HDR_OFF_MAGIC) != BNRT_MAGIC) {
        return BNRT_ERR_MAGIC;
    }
    if (blob[BNRT_HDR_OFF_MAJOR] != BNRT_VERSION_MAJOR) {
        return BNRT_ERR_VERSION;
    }
    if (rd16(blob + BNRT_HDR_OFF_HEADER_SIZE) != BNRT_HDR_SIZE) {
        return BNRT_ERR_HEADER;
    }
    n = rd32(blob + BNRT_HDR_OFF_TOTAL_SIZE);
    if (n > size) {
        return BNRT_ERR_TRUNCATED;
    }
    if (n != size) {
        return BNRT_ERR_SIZE;
    }
    if (bnrt_crc32(bnrt_crc32(0, blob, BNRT_CRC_OFFSET), blob + BNRT_CRC_OFFSET + 4u,
                   n - (BNRT_CRC_OFFSET + 4u))
        != rd32(blob + BNRT_HDR_OFF_CRC32)) {
        return BNRT_ERR_CRC;
    }
    count = rd16(blob + BNRT_HDR_OFF_LAYER_COUNT);
    flags = rd16(blob + BNRT_HDR_OFF_FLAGS);
    if ((flags & ~BNRT_FILE_FLAGS_KNOWN) != 0u || count == 0u) {
        return BNRT_ERR_HEADER;
    }
    layers = rd32(blob + BNRT_HDR_OFF_LAYERS_OFFSET);
    if (layers % BNRT_LAYER_TABLE_ALIGN != 0u) {
        return BNRT_ERR_ALIGN;
    }
    /* count < 2^16: the table size cannot wrap */
    if (layers < BNRT_HDR_SIZE || !fits(layers, count * BNRT_LAYER_SIZE, n)) {
        return BNRT_ERR_BOUNDS;
    }
    layers_end = layers + count * BNRT_LAYER_SIZE;
    limit = n;
    so = rd32(blob + BNRT_HDR_OFF_STRINGS_OFFSET);
    ss = rd32(blob + BNRT_HDR_OFF_STRINGS_SIZE);
    if ((flags & BNRT_FILE_FLAG_STRINGS) != 0u) {
        if (so < layers_end || ss == 0u || !fits(so, ss, n) || blob[so + ss - 1u] != 0u) {
            return BNRT_ERR_STRINGS;
        }
        limit = so;
        strings = ss;
    } else if (so != 0u || ss != 0u) {
        return BNRT_ERR_HEADER;
    }
    for (i = 0; i < count; i++) {
        const uint8_t *e = blob + layers + i * BNRT_LAYER_SIZE;
        const bnrt_status_t st = check_layer(blob, e, layers_end, limit, strings);
        uint32_t j, start, end;
        if (st != BNRT_OK) {
            return st;
        }
        /* checked above: start + size <= limit <= n, so the ends cannot wrap */
        start = rd32(e + BNRT_LAYER_OFF_PARAMS_OFFSET);
        end = start + rd32(e + BNRT_LAYER_OFF_PARAMS_SIZE);
        for (j = 0; j < i; j++) { /* each layer against the earlier ones */
            const uint8_t *f = blob + layers + j * BNRT_LAYER_SIZE;
            const uint32_t s0 = rd32(f + BNRT_LAYER_OFF_PARAMS_OFFSET);
            if (start < s0 + rd32(f + BNRT_LAYER_OFF_PARAMS_SIZE) && s0 < end) {
                return BNRT_ERR_OVERLAP;
            }
        }
    }
    model->blob = blob;
    model->size = n;
    model->crc32 = rd32(blob + BNRT_HDR_OFF_CRC32);
    model->layer_count = (uint16_t)count;
    return BNRT_OK;
}

bnrt_status_t bnrt_model_layer(const bnrt_model_t *model, uint32_t index, bnrt_layer_t *layer)
{
    const uint8_t *e;
    uint32_t bits;
    if (model == NULL || layer == NULL) {
        return BNRT_ERR_ARG;
    }
    memset(layer, 0, sizeof *layer);
    if (model->blob == NULL) {
        return BNRT_ERR_NO_MODEL;
    }
    if (index >= model->layer_count) {
        return BNRT_ERR_LAYER;
    }
    e = model->blob + rd32(model->blob + BNRT_HDR_OFF_LAYERS_OFFSET) + index * BNRT_LAYER_SIZE;
    layer->op = e[BNRT_LAYER_OFF_OP];
    layer->dtype = e[BNRT_LAYER_OFF_DTYPE];
    layer->layout = e[BNRT_LAYER_OFF_LAYOUT];
    layer->flags = e[BNRT_LAYER_OFF_FLAGS];
    layer->channels = rd32(e + BNRT_LAYER_OFF_CHANNELS);
    layer->params = model->blob + rd32(e + BNRT_LAYER_OFF_PARAMS_OFFSET);
    layer->params_size = rd32(e + BNRT_LAYER_OFF_PARAMS_SIZE);
    bits = rd32(e + BNRT_LAYER_OFF_IN_SCALE);
    memcpy(&layer->in_scale, &bits, sizeof bits);
    bits = rd32(e + BNRT_LAYER_OFF_OUT_SCALE);
    memcpy(&layer->out_scale, &bits, sizeof bits);
    bits = rd32(e + BNRT_LAYER_OFF_IN_ZERO_POINT);
    memcpy(&layer->in_zero_point, &bits, sizeof bits);
    bits = rd32(e + BNRT_LAYER_OFF_OUT_ZERO_POINT);
    memcpy(&layer->out_zero_point, &bits, sizeof bits);
    layer->shift = e[BNRT_LAYER_OFF_SHIFT];
    layer->name_offset = rd32(e + BNRT_LAYER_OFF_NAME_OFFSET);
    return BNRT_OK;
}

/* Channels [c0, c0 + channels) of a layer over batch x channels x spatial elements. */
static bnrt_status_t run_kernel(const bnrt_layer_t *l, uint32_t c0, uint32_t channels,
                                const void *in, void *out, uint32_t batch, uint32_t spatial)
{
    const uint32_t C = l->channels;
    const void *p = l->params; /* 8-byte aligned (checked by the parser) */
    /* A dtype compiled out (BNRT_WITH_<DTYPE>=0) is valid in a file but
     * cannot run in this image: ERR_UNSUPPORTED. */
    (void)C;
    (void)p;
    switch (l->dtype) {
    case BNRT_DTYPE_F32: {
#if BNRT_WITH_F32
        const float *a = (const float *)(const void *)PARAM_ARRAY(p, C, F32, A);
        const float *b = (const float *)(const void *)PARAM_ARRAY(p, C, F32, B);
        return bnrt_bn_affine_f32((const float *)in, (float *)out, batch, channels, spatial,
                                  l->layout, a + c0, b + c0, l->flags);
#else
        return BNRT_ERR_UNSUPPORTED;
#endif
    }
    case BNRT_DTYPE_S8: {
#if BNRT_WITH_S8
        const int32_t *mult = (const int32_t *)(const void *)PARAM_ARRAY(p, C, S8, MULT);
        const int32_t *bias = (const int32_t *)(const void *)PARAM_ARRAY(p, C, S8, BIAS);
        return bnrt_bn_affine_s8((const int8_t *)in, (int8_t *)out, batch, channels, spatial,
                                 l->layout, mult + c0, bias + c0, l->shift);
#else
        return BNRT_ERR_UNSUPPORTED;
#endif
    }
    case BNRT_DTYPE_S16: {
#if BNRT_WITH_S16
        const int64_t *bias = (const int64_t *)(const void *)PARAM_ARRAY(p, C, S16, BIAS);
        const int32_t *mult = (const int32_t *)(const void *)PARAM_ARRAY(p, C, S16, MULT);
        return bnrt_bn_affine_s16((const int16_t *)in, (int16_t *)out, batch, channels, spatial,
                                  l->layout, mult + c0, bias + c0, l->shift);
#else
        return BNRT_ERR_UNSUPPORTED;
#endif
    }
    default: return BNRT_ERR_DTYPE;
    }
}

bnrt_status_t bnrt_model_run(const bnrt_model_t *model, uint32_t index, const void *in, void *out,
                             uint32_t batch, uint32_t spatial)
{
    bnrt_layer_t l;
    const bnrt_status_t st = bnrt_model_layer(model, index, &l);
    if (st != BNRT_OK) {
        return st;
    }
    return run_kernel(&l, 0, l.channels, in, out, batch, spatial);
}

bnrt_status_t bnrt_model_run_range(const bnrt_model_t *model, uint32_t index, uint32_t spatial,
                                   uint32_t first, uint32_t count, const void *in, void *out)
{
    bnrt_layer_t l;
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    size_t esize;
    uint32_t C;
    bnrt_status_t st = bnrt_model_layer(model, index, &l);
    if (st != BNRT_OK || count == 0u) {
        return st;
    }
    esize = BNRT_DTYPE_SIZE(l.dtype);
    if (in == NULL || out == NULL || esize == 0u || count > SIZE_MAX / esize) {
        return BNRT_ERR_ARG;
    }
    if (spatial == 0u || count > UINT32_MAX - first) {
        return BNRT_ERR_SHAPE;
    }
    C = l.channels;
    /* Each step runs the longest aligned piece starting at `first`: the rest
     * of a channel plane (NCHW) or pixel (NHWC), then whole channel planes up
     * to the sample's end, then whole samples (pixels); the tail mirrors it. */
    while (count != 0u) {
        uint32_t c, nch, batch = 1u, sp = 1u, len;
        if (l.layout == BNRT_LAYOUT_NCHW) {
            const uint32_t s = first % spatial;
            c = (first / spatial) % C;
            if (s != 0u || count < spatial) {
                nch = 1u;
                sp = len = (spatial - s < count) ? spatial - s : count;
            } else if (c != 0u || count / spatial < C) {
                nch = (C - c < count / spatial) ? C - c : count / spatial;
                sp = spatial;
                len = nch * spatial;
            } else {
                batch = count / spatial / C;
                nch = C;
                sp = spatial;
                len = batch * C * spatial; /* <= count: no wrap */
            }
        } else {
            c = first % C;
            if (c != 0u || count < C) {
                nch = len = (C - c < count) ? C - c : count;
            } else {
                batch = count / C;
                nch = C;
                len = batch * C;
            }
        }
        st = run_kernel(&l, c, nch, src, dst, batch, sp);
        if (st != BNRT_OK) {
            return st;
        }
        first += len;
        count -= len;
        src += (size_t)len * esize;
        dst += (size_t)len * esize;
    }
    return BNRT_OK;
}
