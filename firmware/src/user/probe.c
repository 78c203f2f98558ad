/* The probe library (bnrt_probe.h): the functions the application registered
 * per BN layer, which the USER command of every protocol server calls (the
 * application serves with bnrt_server_t and bnrt_cmd_poll, cmdloop.c). */
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

/* The ports' reset handler calls bnrt_main(): bring the board up, then run
 * the application. */
void bnrt_main(void)
{
    bnrt_hal_init();
    (void)main();
}
