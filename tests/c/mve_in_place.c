/* Runs on qemu-mps3-an547 (tests/c/test_mve_in_place.py): the Helium f32
 * kernel called in place (in == out: blocks copied to the stack) must give
 * the same bits as out of place, which tests/hil checks against
 * toolkit/reference.py.  Shapes cross the copy blocks and the NHWC tiles;
 * some inputs are subnormal or NaN, so the scalar recomputation runs on the
 * copies too.  Exit status (semihosting): 0 pass, 1 a mismatch. */
#include <stdint.h>
#include <string.h>

#include "bnrt.h"
#include "port.h"

#define MAX_N 3000u

static float x[MAX_N], y_out[MAX_N], y_in[MAX_N], a[300], b[300];
static uint32_t state = 12345u;

void bnrt_uart_isr(void);
void SysTick_Handler(void);
void bnrt_uart_isr(void)
{
}
void SysTick_Handler(void)
{
}

static uint32_t next(void)
{
    state = state * 1664525u + 1013904223u;
    return state;
}

/* Mostly values in [-4, 4); with `odd`, one in 64 a subnormal or a NaN. */
static float value(int odd)
{
    const uint32_t r = next();
    uint32_t bits;
    float f;
    if (odd && (r & 63u) == 0u) {
        bits = (r & 128u) ? (next() & 0x807FFFFFu) : 0x7FC12345u;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    return (float)(int32_t)(next() >> 8) / 2097152.0f;
}

static int one_case(uint8_t layout, uint32_t batch, uint32_t channels, uint32_t spatial,
                    uint8_t flags, int odd)
{
    const uint32_t n = batch * channels * spatial;
    uint32_t i;
    for (i = 0; i < channels; i++) {
        a[i] = value(0);
        b[i] = value(0);
    }
    for (i = 0; i < n; i++) {
        x[i] = value(odd);
    }
    memcpy(y_in, x, n * sizeof(float));
    if (bnrt_bn_affine_f32(x, y_out, batch, channels, spatial, layout, a, b, flags) != BNRT_OK
        || bnrt_bn_affine_f32(y_in, y_in, batch, channels, spatial, layout, a, b, flags)
               != BNRT_OK) {
        return 1;
    }
    return memcmp(y_out, y_in, n * sizeof(float)) != 0;
}

void bnrt_main(void)
{
    static const uint32_t shapes[][3] = {{1, 3, 300}, {2, 9, 7},   {1, 1, 1000}, {2, 70, 20},
                                         {1, 300, 9}, {3, 4, 250}, {1, 2, 1},    {40, 17, 1}};
    int failed = 0, odd;
    uint32_t s;
    uint8_t layout, flags;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (layout = 0; layout < 2; layout++) {
            for (flags = 0; flags < 2; flags++) {
                for (odd = 0; odd < 2; odd++) {
                    failed |= one_case(layout, shapes[s][0], shapes[s][1], shapes[s][2],
                                       flags ? BNRT_LAYER_FLAG_FMA : 0u, odd);
                }
            }
        }
    }
    port_exit(failed);
}
