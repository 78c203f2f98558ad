/* The protocol commands (docs/protocol.md) and the firmware main loop. */
#include "bnrt_cmdloop.h"

#include <string.h>

#include "bnrt_hal.h"
#ifdef BNRT_USER_HARNESS
#include "user_harness.h" /* harness images only (`toolkit verify --kernel`) */
#endif

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, v);
    wr16(p + 2, v >> 16);
}

/* Header and CRC around the `payload_len` bytes already at resp + header. */
static size_t finish(uint8_t *resp, uint8_t cmd, uint8_t seq, bnrt_status_t status,
                     size_t payload_len)
{
    size_t n = BNRT_FRAME_SIZE + payload_len;
    resp[BNRT_FRAME_OFF_CMD] = cmd;
    resp[BNRT_FRAME_OFF_SEQ] = seq;
    resp[BNRT_FRAME_OFF_STATUS] = (uint8_t)status;
    resp[BNRT_FRAME_OFF_FLAGS] = 0;
    wr32(resp + n, bnrt_crc32(0, resp, n));
    return n + BNRT_FRAME_CRC_SIZE;
}

size_t bnrt_cmd_nak(uint8_t *resp, size_t resp_cap, uint8_t seq, bnrt_status_t status)
{
    if (resp == NULL || resp_cap < BNRT_FRAME_OVERHEAD)
        return 0;
    return finish(resp, BNRT_NAK, seq, status, 0);
}

void bnrt_cmd_init(bnrt_cmd_ctx_t *ctx)
{
    memset(ctx, 0, sizeof *ctx);
#if BNRT_WITH_BOOT_MODEL
    ctx->has_model =
        (uint8_t)(bnrt_model_load(&ctx->model, bnrt_boot_model, bnrt_boot_model_size) == BNRT_OK);
#endif
}

static uint8_t *upload_slot(bnrt_cmd_ctx_t *ctx)
{
    return (uint8_t *)ctx->slot[ctx->active ^ 1u];
}

/* Each handler gets the request payload `p` (n bytes) and room for the
 * response payload at `out`; it sets *out_len and returns the status. */
typedef struct {
    const uint8_t *p;
    size_t n;
    uint8_t *out;
    size_t room;
    size_t out_len;
} io_t;

static bnrt_status_t cmd_info(io_t *io)
{
    size_t name_len = 0;
    uint8_t *o = io->out;

    if (io->n != 0)
        return BNRT_ERR_FRAME_FORMAT;
    if (io->room < BNRT_INFO_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    /* Bounded own loop: no unbounded scan, and no libc strlen (220 bytes on Armv7-M). */
    while (bnrt_board.name != NULL && name_len < 255u && bnrt_board.name[name_len] != '\0')
        name_len++;
    if (name_len > io->room - BNRT_INFO_SIZE)
        name_len = io->room - BNRT_INFO_SIZE;
    wr16(o + BNRT_INFO_OFF_PROTOCOL_VERSION, BNRT_PROTOCOL_VERSION);
    wr16(o + BNRT_INFO_OFF_FIRMWARE_VERSION, BNRT_FIRMWARE_VERSION);
    wr32(o + BNRT_INFO_OFF_MAX_PAYLOAD, BNRT_MAX_PAYLOAD);
    wr32(o + BNRT_INFO_OFF_MAX_MODEL, BNRT_MODEL_SLOT_SIZE);
    wr32(o + BNRT_INFO_OFF_COUNTER_HZ, bnrt_board.counter_hz);
    o[BNRT_INFO_OFF_DTYPE_MASK] = (uint8_t)BNRT_DTYPE_MASK;
    o[BNRT_INFO_OFF_LAYOUT_MASK] = (uint8_t)BNRT_LAYOUT_MASK;
    wr16(o + BNRT_INFO_OFF_OP_MASK, BNRT_OP_MASK);
    o[BNRT_INFO_OFF_COUNTER_KIND] = bnrt_board.counter_kind;
    o[BNRT_INFO_OFF_NAME_LENGTH] = (uint8_t)name_len;
    wr16(o + BNRT_INFO_OFF_CAPABILITIES, BNRT_CAPABILITIES);
    if (name_len != 0)
        memcpy(o + BNRT_INFO_SIZE, bnrt_board.name, name_len);
    io->out_len = BNRT_INFO_SIZE + name_len;
    return BNRT_OK;
}

static bnrt_status_t cmd_load_begin(bnrt_cmd_ctx_t *ctx, io_t *io)
{
    uint32_t total;

    if (io->n != BNRT_LOAD_BEGIN_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    total = rd32(io->p + BNRT_LOAD_BEGIN_OFF_TOTAL_SIZE);
    ctx->loading = 0;
    if (total == 0)
        return BNRT_ERR_ARG;
    if (total > BNRT_MODEL_SLOT_SIZE)
        return BNRT_ERR_TOO_LARGE;
    ctx->load_total = total;
    ctx->load_crc = rd32(io->p + BNRT_LOAD_BEGIN_OFF_CRC32);
    ctx->load_received = 0;
    ctx->loading = 1;
    return BNRT_OK;
}

/* Chunks may repeat earlier bytes (a retry) but never leave a gap. */
static bnrt_status_t cmd_load_chunk(bnrt_cmd_ctx_t *ctx, io_t *io)
{
    uint32_t offset;
    size_t len;

    if (io->n < BNRT_LOAD_CHUNK_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (!ctx->loading)
        return BNRT_ERR_LOAD_STATE;
    offset = rd32(io->p + BNRT_LOAD_CHUNK_OFF_OFFSET);
    len = io->n - BNRT_LOAD_CHUNK_SIZE;
    if (offset > ctx->load_received || len > (size_t)(ctx->load_total - offset))
        return BNRT_ERR_LOAD_RANGE;
    if (len != 0)
        memcpy(upload_slot(ctx) + offset, io->p + BNRT_LOAD_CHUNK_SIZE, len);
    if (offset + len > ctx->load_received)
        ctx->load_received = offset + (uint32_t)len;
    return BNRT_OK;
}

static void commit_response(const bnrt_cmd_ctx_t *ctx, io_t *io)
{
    wr32(io->out + BNRT_LOAD_COMMIT_OFF_CRC32, ctx->model.crc32);
    wr16(io->out + BNRT_LOAD_COMMIT_OFF_LAYER_COUNT, ctx->model.layer_count);
    wr16(io->out + BNRT_LOAD_COMMIT_OFF_LAYER_COUNT + 2u, 0);
    io->out_len = BNRT_LOAD_COMMIT_SIZE;
}

/* The new model replaces the active one only after the whole blob passed the
 * upload CRC and bnrt_model_load(); until then the old slot stays untouched. */
static bnrt_status_t cmd_load_commit(bnrt_cmd_ctx_t *ctx, io_t *io, uint8_t seq)
{
    bnrt_model_t model;
    bnrt_status_t st;
    const uint8_t *blob;

    if (io->n != 0)
        return BNRT_ERR_FRAME_FORMAT;
    if (io->room < BNRT_LOAD_COMMIT_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    if (!ctx->loading) {
        /* A retried commit whose answer was lost: answer it again. */
        if (ctx->commit_done && ctx->last_cmd == BNRT_CMD_LOAD_COMMIT && ctx->last_seq == seq) {
            commit_response(ctx, io);
            return BNRT_OK;
        }
        return BNRT_ERR_LOAD_STATE;
    }
    if (ctx->load_received != ctx->load_total)
        return BNRT_ERR_INCOMPLETE;
    blob = upload_slot(ctx);
    ctx->loading = 0;
    if (bnrt_crc32(0, blob, ctx->load_total) != ctx->load_crc)
        return BNRT_ERR_CRC;
    st = bnrt_model_load(&model, blob, ctx->load_total);
    if (st != BNRT_OK)
        return st;
    ctx->model = model;
    ctx->active ^= 1u;
    ctx->has_model = 1;
    commit_response(ctx, io);
    return BNRT_OK;
}

static bnrt_status_t cmd_run(bnrt_cmd_ctx_t *ctx, io_t *io)
{
    bnrt_layer_t layer;
    bnrt_status_t st;
    uint32_t index, spatial, first, count, t0, t1;
    size_t esize, data_len;

    if (io->n < BNRT_RUN_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (rd16(io->p + BNRT_RUN_OFF_RESERVED) != 0)
        return BNRT_ERR_ARG;
    if (!ctx->has_model)
        return BNRT_ERR_NO_MODEL;
    index = rd16(io->p + BNRT_RUN_OFF_LAYER);
    spatial = rd32(io->p + BNRT_RUN_OFF_SPATIAL);
    first = rd32(io->p + BNRT_RUN_OFF_FIRST);
    count = rd32(io->p + BNRT_RUN_OFF_COUNT);
    st = bnrt_model_layer(&ctx->model, index, &layer);
    if (st != BNRT_OK)
        return st;
    esize = BNRT_DTYPE_SIZE(layer.dtype);
    if (esize == 0u)
        return BNRT_ERR_DTYPE;
    data_len = io->n - BNRT_RUN_SIZE;
    if (data_len % esize != 0 || data_len / esize != count)
        return BNRT_ERR_SHAPE;
    if (io->room < BNRT_RUN_RESPONSE_SIZE || data_len > io->room - BNRT_RUN_RESPONSE_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    t0 = bnrt_hal_counter();
    st = bnrt_model_run_range(&ctx->model, index, spatial, first, count, io->p + BNRT_RUN_SIZE,
                              io->out + BNRT_RUN_RESPONSE_SIZE);
    t1 = bnrt_hal_counter();
    if (st != BNRT_OK)
        return st;
    wr32(io->out + BNRT_RUN_RESPONSE_OFF_TICKS, t1 - t0);
    io->out_len = BNRT_RUN_RESPONSE_SIZE + data_len;
    return BNRT_OK;
}

static bnrt_status_t cmd_model_info(bnrt_cmd_ctx_t *ctx, io_t *io)
{
    bnrt_layer_t layer;
    bnrt_status_t st;
    uint32_t index;
    uint8_t *o = io->out;

    if (io->n != BNRT_MODEL_INFO_SIZE)
        return BNRT_ERR_FRAME_FORMAT;
    if (io->room < BNRT_MODEL_INFO_RESPONSE_SIZE)
        return BNRT_ERR_FRAME_SIZE;
    if (!ctx->has_model)
        return BNRT_ERR_NO_MODEL;
    index = rd16(io->p + BNRT_MODEL_INFO_OFF_LAYER);
    st = bnrt_model_layer(&ctx->model, index, &layer);
    if (st != BNRT_OK)
        return st;
    wr32(o + BNRT_MODEL_INFO_RESPONSE_OFF_CRC32, ctx->model.crc32);
    wr16(o + BNRT_MODEL_INFO_RESPONSE_OFF_LAYER_COUNT, ctx->model.layer_count);
    wr16(o + BNRT_MODEL_INFO_RESPONSE_OFF_LAYER, index);
    o[BNRT_MODEL_INFO_RESPONSE_OFF_OP] = layer.op;
    o[BNRT_MODEL_INFO_RESPONSE_OFF_DTYPE] = layer.dtype;
    o[BNRT_MODEL_INFO_RESPONSE_OFF_LAYOUT] = layer.layout;
    o[BNRT_MODEL_INFO_RESPONSE_OFF_FLAGS] = layer.flags;
    wr32(o + BNRT_MODEL_INFO_RESPONSE_OFF_CHANNELS, layer.channels);
    io->out_len = BNRT_MODEL_INFO_RESPONSE_SIZE;
    return BNRT_OK;
}

static bnrt_status_t dispatch(bnrt_cmd_ctx_t *ctx, uint8_t cmd, uint8_t seq, io_t *io)
{
    switch (cmd) {
    case BNRT_CMD_INFO: return cmd_info(io);
    case BNRT_CMD_LOAD_BEGIN: return cmd_load_begin(ctx, io);
    case BNRT_CMD_LOAD_CHUNK: return cmd_load_chunk(ctx, io);
    case BNRT_CMD_LOAD_COMMIT: return cmd_load_commit(ctx, io, seq);
    case BNRT_CMD_RUN: return cmd_run(ctx, io);
    case BNRT_CMD_MODEL_INFO: return cmd_model_info(ctx, io);
#if BNRT_WITH_TRAIN
    case BNRT_CMD_TRAIN:
        return bnrt_cmd_train(&ctx->train, io->p, io->n, io->out, io->room, &io->out_len);
    case BNRT_CMD_STATS:
        return bnrt_cmd_stats(&ctx->train, io->p, io->n, io->out, io->room, &io->out_len);
    case BNRT_CMD_FREEZE:
        return bnrt_cmd_freeze(&ctx->train, ctx->has_model ? &ctx->model : NULL,
                               (uint8_t *)ctx->slot[ctx->active], io->p, io->n, io->out, io->room,
                               &io->out_len);
#else
    case BNRT_CMD_TRAIN:
    case BNRT_CMD_STATS:
    case BNRT_CMD_FREEZE: return BNRT_ERR_UNSUPPORTED;
#endif
    case BNRT_CMD_RESET:
        if (io->n != 0)
            return BNRT_ERR_FRAME_FORMAT;
        ctx->loading = 0;
        return BNRT_OK;
#ifdef BNRT_USER_HARNESS
    case BNRT_CMD_USER: return bnrt_cmd_user(io->p, io->n, io->out, io->room, &io->out_len);
#endif
    default: return BNRT_ERR_COMMAND;
    }
}

size_t bnrt_cmd_handle(bnrt_cmd_ctx_t *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                       size_t resp_cap)
{
    io_t io;
    bnrt_status_t st;
    uint8_t cmd, seq;
    size_t body;

    if (ctx == NULL || resp == NULL || resp_cap < BNRT_FRAME_OVERHEAD)
        return 0;
    if (req == NULL || req_len < BNRT_FRAME_OVERHEAD)
        return bnrt_cmd_nak(resp, resp_cap,
                            req != NULL && req_len > BNRT_FRAME_OFF_SEQ ? req[BNRT_FRAME_OFF_SEQ]
                                                                        : 0,
                            BNRT_ERR_FRAME_FORMAT);
    body = req_len - BNRT_FRAME_CRC_SIZE;
    cmd = req[BNRT_FRAME_OFF_CMD];
    seq = req[BNRT_FRAME_OFF_SEQ];
    if (bnrt_crc32(0, req, body) != rd32(req + body))
        return bnrt_cmd_nak(resp, resp_cap, seq, BNRT_ERR_FRAME_CRC);

    io.p = req + BNRT_FRAME_SIZE;
    io.n = body - BNRT_FRAME_SIZE;
    io.out = resp + BNRT_FRAME_SIZE;
    io.room = resp_cap - BNRT_FRAME_OVERHEAD;
    io.out_len = 0;
    if (req[BNRT_FRAME_OFF_STATUS] != 0 || req[BNRT_FRAME_OFF_FLAGS] != 0)
        st = BNRT_ERR_FRAME_FORMAT;
    else
        st = dispatch(ctx, cmd, seq, &io);
    if (st != BNRT_OK)
        io.out_len = 0;
    ctx->commit_done = (uint8_t)(cmd == BNRT_CMD_LOAD_COMMIT && st == BNRT_OK);
    ctx->last_cmd = cmd;
    ctx->last_seq = seq;
    return finish(resp, (uint8_t)(cmd | BNRT_RESPONSE_BIT), seq, st, io.out_len);
}

/* COBS-encode block by block straight to the UART: no second frame buffer. */
static void send_frame(const uint8_t *frame, size_t len)
{
    uint8_t block[BNRT_COBS_BLOCK_MAX];
    size_t pos = 0, n;
    static const uint8_t delimiter = BNRT_FRAME_DELIMITER;

    while ((n = bnrt_cobs_block(frame, len, &pos, block)) != 0)
        bnrt_hal_write(block, n);
    bnrt_hal_write(&delimiter, 1);
}

void bnrt_server_init(bnrt_server_t *s)
{
    bnrt_cmd_init(&s->cmd);
    bnrt_framer_init(&s->framer, (uint8_t *)s->rx, BNRT_FRAME_MAX);
    s->last_byte_ms = 0;
}

void bnrt_server_use_model(bnrt_server_t *s, const bnrt_model_t *model)
{
    s->cmd.model = *model;
    s->cmd.has_model = (uint8_t)(model->blob != NULL); /* NULL: it failed to load */
    s->cmd.loading = 0;
}

int bnrt_cmd_feed(bnrt_server_t *s, uint8_t byte)
{
    bnrt_status_t error = BNRT_OK;
    size_t len = 0, n;
    const int event = bnrt_framer_push(&s->framer, byte, &len, &error);

    if (event == BNRT_FRAMER_FRAME)
        n = bnrt_cmd_handle(&s->cmd, (const uint8_t *)s->rx, len, (uint8_t *)s->tx, sizeof s->tx);
    else if (event == BNRT_FRAMER_ERROR)
        n = bnrt_cmd_nak((uint8_t *)s->tx, sizeof s->tx,
                         len > BNRT_FRAME_OFF_SEQ ? ((uint8_t *)s->rx)[BNRT_FRAME_OFF_SEQ] : 0,
                         error);
    else
        return 0;
    send_frame((const uint8_t *)s->tx, n);
    return 1;
}

size_t bnrt_cmd_poll(bnrt_server_t *s)
{
    size_t count = 0;
    uint8_t byte;

    while (bnrt_hal_read_byte(&byte, 0)) {
        s->last_byte_ms = bnrt_hal_millis();
        bnrt_cmd_feed(s, byte);
        count++;
    }
    if (count == 0 && bnrt_framer_busy(&s->framer)
        && (uint32_t)(bnrt_hal_millis() - s->last_byte_ms) >= BNRT_FRAME_TIMEOUT_MS)
        bnrt_framer_reset(&s->framer); /* the sender stalled mid-frame */
    return count;
}

#ifndef BNRT_USER_PROBE /* a probe build's bnrt_main() runs the application (src/user/probe.c) */
void bnrt_main(void)
{
    static bnrt_server_t server;
    uint8_t byte;

    bnrt_hal_init();
    bnrt_server_init(&server);
    for (;;) {
        if (!bnrt_hal_read_byte(&byte, BNRT_FRAME_TIMEOUT_MS)) {
            if (bnrt_framer_busy(&server.framer))
                bnrt_framer_reset(&server.framer); /* the sender stalled mid-frame */
            continue;
        }
        bnrt_cmd_feed(&server, byte);
    }
}
#endif
