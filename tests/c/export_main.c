/* Host driver for an exported model.c (tests/c/test_export_c.py).
 *   export_main             -> "<status> <crc32> <layers> <aligned>" for bnrt_model_load(model)
 *   export_main L B S       -> run layer L on B x channels x S elements: raw input on
 *                              stdin, raw output on stdout */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bnrt.h"
#include "model.h"

static uint8_t in_buf[1 << 20], out_buf[1 << 20];

int main(int argc, char **argv)
{
    bnrt_model_t m;
    bnrt_layer_t layer;
    bnrt_status_t st = bnrt_model_load(&m, model, MODEL_SIZE);
    size_t n;

    if (argc < 4) {
        printf("%s %08lx %u %d\n", bnrt_status_name(st), (unsigned long)m.crc32,
               (unsigned)m.layer_count, (int)(((uintptr_t)model & 7u) == 0));
        return 0;
    }
    if (st != BNRT_OK || bnrt_model_layer(&m, (uint32_t)atoi(argv[1]), &layer) != BNRT_OK)
        return 2;
    n = fread(in_buf, 1, sizeof in_buf, stdin);
    st = bnrt_model_run(&m, (uint32_t)atoi(argv[1]), in_buf, out_buf, (uint32_t)atoi(argv[2]),
                        (uint32_t)atoi(argv[3]));
    if (st != BNRT_OK) {
        fprintf(stderr, "%s\n", bnrt_status_name(st));
        return 3;
    }
    fwrite(out_buf, 1, n, stdout);
    return 0;
}
