/* A user application: the model lives in flash (model.c from `toolkit export
 * m.bnm -o model.c`), the runtime is a library (firmware/CMakeLists.txt).
 * It runs every layer on fixed inputs and prints the outputs over the UART:
 *   layer <index> <status> <output bytes in hex>
 *   done
 * With DEPLOY_SERVE (BNRT_WITH_PROTOCOL) it then keeps running its main loop
 * and answers `toolkit verify` through bnrt_cmd_poll(). */
#include <stdint.h>

#include "bnrt.h"
#include "model.h"
#include "mps2_an386.h"
#if BNRT_WITH_PROTOCOL
#include "bnrt_cmdloop.h"
#endif

#define BATCH 2u
#define SPATIAL 3u
#define MAX_ELEMENTS 256u

static union { /* 8-byte aligned for every dtype */
    uint64_t align;
    float f32[MAX_ELEMENTS];
    int16_t s16[MAX_ELEMENTS];
    int8_t s8[MAX_ELEMENTS];
} in, out;

/* The fixed input of layer `layer`, element `k`: an integer in [-128, 127]
 * (f32: divided by 32, exact; s16: times 97). */
static int32_t pattern(uint32_t layer, uint32_t k)
{
    return (int32_t)((k * 37u + layer * 11u) % 256u) - 128;
}

static void write_hex(const uint8_t *p, uint32_t n)
{
    static const char digits[] = "0123456789abcdef";
    char two[2];

    while (n--) {
        two[0] = digits[*p >> 4];
        two[1] = digits[*p++ & 15u];
        board_write_bytes((const uint8_t *)two, 2);
    }
}

static uint32_t element_size(uint8_t dtype)
{
    return dtype == BNRT_DTYPE_F32 ? 4u : dtype == BNRT_DTYPE_S16 ? 2u : 1u;
}

int main(void)
{
    bnrt_model_t m;
    bnrt_layer_t layer;
    bnrt_status_t st;
    uint32_t i, k, n;
    uint8_t u;

    board_init();
    st = bnrt_model_load(&m, model, MODEL_SIZE);
    if (st != BNRT_OK) {
        u = (uint8_t)st;
        board_write("load failed ");
        write_hex(&u, 1);
        board_write("\n");
        return 1;
    }
    for (i = 0; i < m.layer_count; i++) {
        bnrt_model_layer(&m, i, &layer);
        n = BATCH * layer.channels * SPATIAL;
        if (n > MAX_ELEMENTS)
            return 2;
        for (k = 0; k < n; k++) {
            if (layer.dtype == BNRT_DTYPE_F32)
                in.f32[k] = (float)pattern(i, k) * 0.03125f;
            else if (layer.dtype == BNRT_DTYPE_S16)
                in.s16[k] = (int16_t)(pattern(i, k) * 97);
            else
                in.s8[k] = (int8_t)pattern(i, k);
        }
        st = bnrt_model_run(&m, i, &in, &out, BATCH, SPATIAL);
        u = (uint8_t)i;
        board_write("layer ");
        write_hex(&u, 1);
        u = (uint8_t)st;
        board_write(" ");
        write_hex(&u, 1);
        board_write(" ");
        write_hex((const uint8_t *)&out, st == BNRT_OK ? n * element_size(layer.dtype) : 0u);
        board_write("\n");
    }
    board_write("done\n");
#if BNRT_WITH_PROTOCOL
    {
        static bnrt_server_t server;
        bnrt_server_init(&server);
        bnrt_server_use_model(&server, &m); /* verify can run it without an upload */
        for (;;) {
            bnrt_cmd_poll(&server);
            /* ... the application's own work ... */
        }
    }
#else
    return 0;
#endif
}
