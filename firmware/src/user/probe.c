/* The probe library (bnrt_probe.h): the command loop, non-blocking, served
 * from the application's own main loop, with the USER command calling the
 * functions the application registered. */
#include "bnrt_probe.h"

#include "bnrt_cmdloop.h"
#include "bnrt_hal.h"
#include "user_harness.h"

int main(void);

static struct {
    uint32_t index[BNRT_PROBE_SLOTS];
    bnrt_user_bn_f32_fn fn[BNRT_PROBE_SLOTS];
    uint32_t count;
} reg;

int bnrt_probe_register(uint32_t index, bnrt_user_bn_f32_fn fn)
{
    uint32_t i;

    if (fn == NULL)
        return -1;
    for (i = 0; i < reg.count; i++)
        if (reg.index[i] == index) {
            reg.fn[i] = fn;
            return 0;
        }
    if (reg.count == BNRT_PROBE_SLOTS)
        return -1;
    reg.index[reg.count] = index;
    reg.fn[reg.count++] = fn;
    return 0;
}

bnrt_user_bn_f32_fn bnrt_probe_lookup(uint32_t layer)
{
    bnrt_user_bn_f32_fn any = NULL;
    uint32_t i;

    for (i = 0; i < reg.count; i++) {
        if (reg.index[i] == layer)
            return reg.fn[i];
        if (reg.index[i] == BNRT_PROBE_ANY)
            any = reg.fn[i];
    }
    return any;
}

static void send_frame(const uint8_t *frame, size_t len)
{
    uint8_t block[BNRT_COBS_BLOCK_MAX];
    size_t pos = 0, n;
    static const uint8_t delimiter = BNRT_FRAME_DELIMITER;

    while ((n = bnrt_cobs_block(frame, len, &pos, block)) != 0)
        bnrt_hal_write(block, n);
    bnrt_hal_write(&delimiter, 1);
}

static struct {
    bnrt_cmd_ctx_t ctx;
    uint32_t rx[(BNRT_FRAME_MAX + 3u) / 4u];
    uint32_t tx[(BNRT_FRAME_MAX + 3u) / 4u];
    bnrt_framer_t framer;
    uint32_t last_byte_ms;
    uint8_t ready;
} srv;

int bnrt_probe_poll(uint32_t timeout_ms)
{
    bnrt_status_t error = BNRT_OK;
    size_t len = 0, n;
    uint8_t byte;
    int event, answered = 0;
    uint32_t wait = timeout_ms;

    if (!srv.ready) {
        bnrt_cmd_init(&srv.ctx);
        bnrt_framer_init(&srv.framer, (uint8_t *)srv.rx, BNRT_FRAME_MAX);
        srv.ready = 1;
    }
    while (bnrt_hal_read_byte(&byte, wait)) {
        wait = 0;
        srv.last_byte_ms = bnrt_hal_millis();
        event = bnrt_framer_push(&srv.framer, byte, &len, &error);
        if (event == BNRT_FRAMER_FRAME)
            n = bnrt_cmd_handle(&srv.ctx, (const uint8_t *)srv.rx, len, (uint8_t *)srv.tx,
                                sizeof srv.tx);
        else if (event == BNRT_FRAMER_ERROR)
            n = bnrt_cmd_nak((uint8_t *)srv.tx, sizeof srv.tx, len > 1 ? ((uint8_t *)srv.rx)[1] : 0,
                             error);
        else
            continue;
        send_frame((const uint8_t *)srv.tx, n);
        answered++;
    }
    if (bnrt_framer_busy(&srv.framer)
        && bnrt_hal_millis() - srv.last_byte_ms > BNRT_FRAME_TIMEOUT_MS)
        bnrt_framer_reset(&srv.framer); /* the sender stalled mid-frame */
    return answered;
}

/* The ports' reset handler calls bnrt_main(): bring the board up, then run
 * the application. */
void bnrt_main(void)
{
    bnrt_hal_init();
    (void)main();
}
