/* libFuzzer target: the command loop (frame assembler + frame handler).
 *
 * The first input byte picks a mode:
 *   0  raw bytes straight into the frame assembler (garbage on the wire);
 *   1  a list of frames [len u16][header+payload]; the harness appends the
 *      CRC (unless bit 15 of len is set), COBS-encodes, feeds the assembler
 *      and checks that it gives back exactly the frame;
 *   2  an upload: [chunk selector][damage selector][model blob...] sent as
 *      LOAD_BEGIN / LOAD_CHUNK... / LOAD_COMMIT, then MODEL_INFO and RUN on
 *      every layer, then a second upload that is damaged or cut short.
 * After every frame the harness checks the protocol invariants and abort()s
 * when one fails: every response is a well-formed frame with a good CRC that
 * echoes seq; the active model changes only on a successful LOAD_COMMIT (new
 * model) or FREEZE (parameters rewritten in place, CRC renewed), is valid
 * after either, and its bytes never change otherwise -- not even on a failed
 * FREEZE.  A fake HAL satisfies bnrt_main's links.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnrt_cmdloop.h"
#include "bnrt_hal.h"

/* ---- fake HAL (bnrt_main is linked but never called) ---- */
static uint32_t fake_ticks;
void bnrt_hal_init(void)
{
}
int bnrt_hal_read_byte(uint8_t *byte, uint32_t timeout_ms)
{
    (void)byte;
    (void)timeout_ms;
    return 0;
}
void bnrt_hal_write(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
}
uint32_t bnrt_hal_counter(void)
{
    return fake_ticks += 7u;
}
uint32_t bnrt_hal_millis(void)
{
    return fake_ticks;
}
const bnrt_board_t bnrt_board = {"fuzz", 0u, BNRT_COUNTER_NONE};

static bnrt_cmd_ctx_t ctx;
static uint32_t rx[(BNRT_FRAME_MAX + 3u) / 4u];
static uint32_t tx[(BNRT_FRAME_MAX + 3u) / 4u];
static uint32_t req[(BNRT_FRAME_MAX + 3u) / 4u];
static uint8_t wire[BNRT_COBS_MAX(BNRT_FRAME_MAX) + 1u];
static uint64_t shadow[BNRT_SLOT_WORDS]; /* copy of the active model's bytes */
static bnrt_model_t shadow_model;
static bnrt_framer_t framer;
static uint8_t seq;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The invariants after one response of length n to a request (cmd, seq). */
static void after_response(size_t n, int decoded, uint8_t cmd, uint8_t rseq)
{
    const uint8_t *r = (const uint8_t *)tx;
    int committed;

    check(n >= BNRT_FRAME_OVERHEAD && n <= sizeof tx);
    check(bnrt_crc32(0, r, n - 4u) == rd32(r + n - 4u));
    check(r[BNRT_FRAME_OFF_FLAGS] == 0);
    check(r[BNRT_FRAME_OFF_STATUS] < BNRT_STATUS_COUNT);
    if (decoded) {
        check(r[BNRT_FRAME_OFF_SEQ] == rseq);
        check(r[BNRT_FRAME_OFF_CMD] == (uint8_t)(cmd | BNRT_RESPONSE_BIT)
              || r[BNRT_FRAME_OFF_CMD] == BNRT_NAK);
    } else {
        check(r[BNRT_FRAME_OFF_CMD] == BNRT_NAK && r[BNRT_FRAME_OFF_STATUS] != BNRT_OK);
    }
    if (r[BNRT_FRAME_OFF_STATUS] != BNRT_OK)
        check(n == BNRT_FRAME_OVERHEAD); /* errors carry no payload */
    committed = decoded && r[BNRT_FRAME_OFF_STATUS] == BNRT_OK
                && (r[BNRT_FRAME_OFF_CMD] == (BNRT_CMD_LOAD_COMMIT | BNRT_RESPONSE_BIT)
                    || r[BNRT_FRAME_OFF_CMD] == (BNRT_CMD_FREEZE | BNRT_RESPONSE_BIT));
    if (committed) {
        bnrt_model_t again;
        uint32_t crc_off = r[BNRT_FRAME_OFF_CMD] == (BNRT_CMD_FREEZE | BNRT_RESPONSE_BIT)
                               ? BNRT_FREEZE_RESPONSE_OFF_CRC32
                               : BNRT_LOAD_COMMIT_OFF_CRC32;
        check(ctx.has_model && ctx.model.blob == (const uint8_t *)ctx.slot[ctx.active]);
        check(bnrt_model_load(&again, ctx.model.blob, ctx.model.size) == BNRT_OK);
        check(again.crc32 == ctx.model.crc32 && again.layer_count == ctx.model.layer_count);
        check(rd32(r + BNRT_FRAME_SIZE + crc_off) == ctx.model.crc32);
        memcpy(shadow, ctx.model.blob, ctx.model.size);
        shadow_model = ctx.model;
    } else if (shadow_model.blob != NULL) {
        check(ctx.has_model);
        check(memcmp(&ctx.model, &shadow_model, sizeof shadow_model) == 0);
        check(memcmp(ctx.model.blob, shadow, ctx.model.size) == 0);
    } else {
        check(!ctx.has_model);
    }
}

/* Feed one wire byte; answer a completed frame as bnrt_main would. */
static void push_byte(uint8_t b, size_t *frame_len, int *got)
{
    bnrt_status_t err = BNRT_OK;
    size_t len = 0, n;
    int ev = bnrt_framer_push(&framer, b, &len, &err);

    if (ev == BNRT_FRAMER_MORE)
        return;
    check(len <= BNRT_FRAME_MAX);
    if (ev == BNRT_FRAMER_FRAME) {
        const uint8_t *f = (const uint8_t *)rx;
        n = bnrt_cmd_handle(&ctx, f, len, (uint8_t *)tx, sizeof tx);
        after_response(n, len >= BNRT_FRAME_OVERHEAD, len ? f[0] : 0, len > 1 ? f[1] : 0);
    } else {
        check(ev == BNRT_FRAMER_ERROR);
        check(err == BNRT_ERR_FRAME_SIZE || err == BNRT_ERR_FRAME_FORMAT);
        n = bnrt_cmd_nak((uint8_t *)tx, sizeof tx, len > 1 ? ((uint8_t *)rx)[1] : 0, err);
        after_response(n, 0, 0, 0);
    }
    if (frame_len != NULL)
        *frame_len = len;
    if (got != NULL)
        *got = ev;
}

/* Send req[0 .. len) (CRC already in place) through COBS and the assembler. */
static const uint8_t *send_frame(size_t len)
{
    size_t wl = bnrt_cobs_encode((const uint8_t *)req, len, wire, sizeof wire), i, got_len = 0;
    int ev = BNRT_FRAMER_MORE;

    check(wl != 0);
    for (i = 0; i < wl; i++)
        check(wire[i] != 0);
    for (i = 0; i < wl; i++)
        push_byte(wire[i], NULL, NULL);
    push_byte(0, &got_len, &ev);
    check(ev == BNRT_FRAMER_FRAME && got_len == len && memcmp(rx, req, len) == 0);
    return (const uint8_t *)tx;
}

static const uint8_t *command(uint8_t cmd, const uint8_t *payload, size_t plen)
{
    uint8_t *r = (uint8_t *)req;
    if (plen > BNRT_MAX_PAYLOAD)
        plen = BNRT_MAX_PAYLOAD;
    r[0] = cmd;
    r[1] = ++seq;
    r[2] = 0;
    r[3] = 0;
    if (plen)
        memcpy(r + BNRT_FRAME_SIZE, payload, plen);
    wr32(r + BNRT_FRAME_SIZE + plen, bnrt_crc32(0, r, BNRT_FRAME_SIZE + plen));
    return send_frame(BNRT_FRAME_OVERHEAD + plen);
}

static void mode_frames(const uint8_t *d, size_t n)
{
    uint8_t *r = (uint8_t *)req;
    while (n >= 2) {
        size_t len = ((size_t)d[0] | (size_t)d[1] << 8) & 0x7FFFu, body;
        int raw = d[1] & 0x80;
        d += 2;
        n -= 2;
        if (len > n)
            len = n;
        body = len;
        if (!raw && body + 4u > BNRT_FRAME_MAX)
            body = BNRT_FRAME_MAX - 4u;
        if (raw && body > BNRT_FRAME_MAX)
            body = BNRT_FRAME_MAX;
        memcpy(r, d, body);
        if (!raw) {
            wr32(r + body, bnrt_crc32(0, r, body));
            send_frame(body + 4u);
        } else if (body) {
            send_frame(body);
        }
        d += len;
        n -= len;
    }
}

/* Upload blob[0 .. total) in chunks of `chunk`; stop after `stop_after` chunks. */
static int upload(const uint8_t *blob, size_t total, uint32_t crc, size_t chunk, size_t stop_after)
{
    uint8_t p[BNRT_LOAD_CHUNK_SIZE + 1024u];
    const uint8_t *resp;
    size_t off = 0, k = 0;

    wr32(p, (uint32_t)total);
    wr32(p + 4, crc);
    command(BNRT_CMD_LOAD_BEGIN, p, BNRT_LOAD_BEGIN_SIZE);
    while (off < total && k < stop_after) {
        size_t c = total - off < chunk ? total - off : chunk;
        wr32(p, (uint32_t)off);
        memcpy(p + 4, blob + off, c);
        command(BNRT_CMD_LOAD_CHUNK, p, 4u + c);
        if (k % 3u == 1u)
            command(BNRT_CMD_LOAD_CHUNK, p, 4u + c); /* a retried chunk */
        off += c;
        k++;
    }
    resp = command(BNRT_CMD_LOAD_COMMIT, NULL, 0);
    return resp[BNRT_FRAME_OFF_STATUS] == BNRT_OK;
}

static void exercise_model(const uint8_t *fill, size_t fill_len)
{
    uint8_t p[BNRT_RUN_SIZE + 256u];
    uint32_t i;
    for (i = 0; i <= ctx.model.layer_count; i++) {
        const uint8_t *r;
        uint32_t k, count = 256u / 4u, spatial = 1u + i % 3u;
        p[0] = (uint8_t)i;
        p[1] = (uint8_t)(i >> 8);
        r = command(BNRT_CMD_MODEL_INFO, p, BNRT_MODEL_INFO_SIZE);
        (void)r;
        memset(p, 0, BNRT_RUN_SIZE);
        p[0] = (uint8_t)i;
        p[1] = (uint8_t)(i >> 8);
        wr32(p + BNRT_RUN_OFF_SPATIAL, spatial);
        wr32(p + BNRT_RUN_OFF_FIRST, i * 5u);
        for (k = 0; k < 256u; k++)
            p[BNRT_RUN_SIZE + k] = fill_len ? fill[k % fill_len] : (uint8_t)k;
        /* every element size divides 256: try f32, s16 and s8 counts */
        wr32(p + BNRT_RUN_OFF_COUNT, count);
        command(BNRT_CMD_RUN, p, BNRT_RUN_SIZE + count * 4u);
        wr32(p + BNRT_RUN_OFF_COUNT, count * 2u);
        command(BNRT_CMD_RUN, p, BNRT_RUN_SIZE + count * 4u);
        wr32(p + BNRT_RUN_OFF_COUNT, count * 4u);
        command(BNRT_CMD_RUN, p, BNRT_RUN_SIZE + count * 4u);
    }
}

static void mode_upload(const uint8_t *d, size_t n)
{
    static const size_t chunks[8] = {1, 3, 8, 64, 255, 256, 1000, 1024};
    size_t chunk, total;
    uint8_t damage;
    uint32_t crc;

    if (n < 2)
        return;
    chunk = chunks[d[0] & 7u];
    damage = d[1];
    d += 2;
    n -= 2;
    total = n;
    crc = bnrt_crc32(0, d, total);
    if (upload(d, total, crc, chunk, SIZE_MAX))
        exercise_model(d, n);
    if (total == 0)
        return;
    switch (damage & 3u) {
    case 0: upload(d, total, crc ^ (1u << (damage >> 3)), chunk, SIZE_MAX); break; /* wrong CRC */
    case 1: upload(d, total, crc, chunk, damage >> 2); break;                      /* cut short */
    case 2: upload(d, total - 1u, bnrt_crc32(0, d, total - 1u), chunk, SIZE_MAX); break;
    default:
        command(BNRT_CMD_RESET, NULL, 0);
        upload(d, total, crc, chunk, SIZE_MAX);
        break;
    }
    exercise_model(d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i;
    if (size == 0)
        return 0;
    bnrt_cmd_init(&ctx);
    bnrt_framer_init(&framer, (uint8_t *)rx, BNRT_FRAME_MAX);
    memset(&shadow_model, 0, sizeof shadow_model);
    seq = 0;
    switch (data[0] % 3u) {
    case 0:
        for (i = 1; i < size; i++)
            push_byte(data[i], NULL, NULL);
        push_byte(0, NULL, NULL);
        /* the device must still answer INFO after any garbage */
        check(command(BNRT_CMD_INFO, NULL, 0)[BNRT_FRAME_OFF_STATUS] == BNRT_OK);
        break;
    case 1: mode_frames(data + 1, size - 1); break;
    default: mode_upload(data + 1, size - 1); break;
    }
    return 0;
}
