/* libFuzzer target: the model parser and the kernels behind it.
 *
 * Each input is tried twice: as is (exercises the early checks and the CRC),
 * and with its CRC field recomputed (so that mutations reach the deep checks).
 * When a load succeeds, every layer is decoded and run on a small tensor,
 * whole and by ranges, into buffers of the exact size so that ASan catches a
 * single byte too many.  Invariants that are not memory safety abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnrt.h"

#define MAX_RUN_ELEMS 4096u

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t elem_size(uint8_t dtype)
{
    size_t n = BNRT_DTYPE_SIZE(dtype);
    if (n == 0u)
        abort(); /* a loaded model only has known dtypes */
    return n;
}

/* Heap copy of exactly n bytes (never NULL), filled from the fuzz input. */
static uint8_t *filled(size_t n, const uint8_t *src, size_t src_len)
{
    uint8_t *p = malloc(n ? n : 1);
    size_t i;
    if (p == NULL)
        abort();
    for (i = 0; i < n; i++)
        p[i] = src_len ? (uint8_t)(src[i % src_len] + i / src_len) : (uint8_t)i;
    return p;
}

static void run_layer(const bnrt_model_t *m, uint32_t index, const bnrt_layer_t *l,
                      const uint8_t *data, size_t size)
{
    uint32_t spatial = 1u + (uint32_t)(size % 3u);
    uint32_t total, first, count;
    size_t es = elem_size(l->dtype);
    uint8_t *in, *out;

    if (l->channels > MAX_RUN_ELEMS / spatial)
        spatial = 1;
    if (l->channels <= MAX_RUN_ELEMS) {
        /* one sample, whole tensor; then the same in place */
        total = l->channels * spatial;
        in = filled(total * es, data, size);
        out = malloc(total * es);
        if (out == NULL || bnrt_model_run(m, index, in, out, 1, spatial) != BNRT_OK)
            abort();
        if (bnrt_model_run(m, index, in, in, 1, spatial) != BNRT_OK)
            abort();
        /* ... and by a range that starts mid-channel and crosses a sample */
        first = total > 1 ? total / 2u + 1u : 0;
        count = total + 3u;
        free(in);
        free(out);
        in = filled(count * es, data, size);
        out = malloc(count * es);
        if (out == NULL
            || bnrt_model_run_range(m, index, spatial, first, count, in, out) != BNRT_OK)
            abort();
        free(in);
        free(out);
    }
    /* Ranges the runtime must reject without touching memory. */
    {
        uint8_t dummy[8] = {0};
        bnrt_status_t st;
        st = bnrt_model_run_range(m, index, 0, 0, 1, dummy, dummy);
        (void)st;
        st = bnrt_model_run_range(m, index, UINT32_MAX, UINT32_MAX, 1, dummy, dummy);
        (void)st;
        if (bnrt_model_run(m, index, NULL, dummy, 1, 1) == BNRT_OK)
            abort();
    }
}

static void try_load(const uint8_t *blob, size_t size, const uint8_t *data, size_t data_len)
{
    bnrt_model_t m;
    bnrt_layer_t l;
    uint32_t i;
    bnrt_status_t st = bnrt_model_load(&m, blob, size);

    if (bnrt_status_name(st) == NULL)
        abort();
    if (st != BNRT_OK) {
        const uint8_t *z = (const uint8_t *)&m;
        for (i = 0; i < sizeof m; i++)
            if (z[i] != 0)
                abort(); /* the contract: on error the model is left zeroed */
        return;
    }
    if (m.layer_count == 0 || m.size != size || m.blob != blob)
        abort();
    if (bnrt_model_layer(&m, m.layer_count, &l) == BNRT_OK)
        abort();
    for (i = 0; i < m.layer_count; i++) {
        if (bnrt_model_layer(&m, i, &l) != BNRT_OK)
            abort();
        if (l.channels == 0 || l.channels > BNRT_MAX_CHANNELS)
            abort();
        if ((const uint8_t *)l.params < blob
            || (size_t)((const uint8_t *)l.params - blob) + l.params_size > size
            || ((uintptr_t)l.params & 7u) != 0)
            abort();
        run_layer(&m, i, &l, data, data_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* malloc alignment (16) satisfies the 8-byte blob alignment; exact size for ASan */
    uint8_t *blob = malloc(size ? size : 1);
    if (blob == NULL)
        return 0;
    if (size)
        memcpy(blob, data, size);
    try_load(blob, size, data, size);
    if (size >= BNRT_HDR_SIZE) {
        uint32_t crc = bnrt_crc32(0, blob, BNRT_HDR_OFF_CRC32);
        crc = bnrt_crc32(crc, blob + BNRT_HDR_OFF_CRC32 + 4, size - BNRT_HDR_OFF_CRC32 - 4);
        if (rd32(blob + BNRT_HDR_OFF_CRC32) != crc) {
            blob[BNRT_HDR_OFF_CRC32] = (uint8_t)crc;
            blob[BNRT_HDR_OFF_CRC32 + 1] = (uint8_t)(crc >> 8);
            blob[BNRT_HDR_OFF_CRC32 + 2] = (uint8_t)(crc >> 16);
            blob[BNRT_HDR_OFF_CRC32 + 3] = (uint8_t)(crc >> 24);
            try_load(blob, size, data, size);
        }
    }
    /* Misaligned blobs must be refused, never read. */
    if (size >= BNRT_HDR_SIZE) {
        uint8_t *odd = malloc(size + 1);
        bnrt_model_t m;
        if (odd != NULL) {
            memcpy(odd + 1, blob, size);
            if (bnrt_model_load(&m, odd + 1, size) == BNRT_OK)
                abort();
            free(odd);
        }
    }
    free(blob);
    return 0;
}
