/* Test driver for the runtime core, built with ASan+UBSan by `make -C firmware
 * sanitize`.  Reads one case per line on stdin and prints one result line per
 * case, so hundreds of cases share one process:
 *
 *   L <blob> <misalign>
 *       load the blob copied to an address that is <misalign> bytes past an
 *       8-byte boundary (exact-size heap buffer, so ASan sees any over-read);
 *       prints "<load status>" and, when OK, " <status of decoding each layer>".
 *   R <blob> <layer> <spatial> <first> <count> <in> <out>
 *       load, then bnrt_model_run_range on the <count> elements of file <in>;
 *       writes <out> when the run succeeds; prints "<load status> <run status>".
 *   W <blob> <layer> <batch> <spatial> <in> <out>
 *       load, then bnrt_model_run on a whole tensor; same output as R.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnrt.h"

static unsigned char *read_file(const char *path, size_t *size, size_t pad)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "driver: cannot read %s\n", path);
        exit(2);
    }
    /* exact size, so ASan flags a read one byte past the end (malloc(0) may be NULL) */
    buf = malloc((size_t)n + pad != 0u ? (size_t)n + pad : 1u);
    if (buf == NULL || fread(buf + pad, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "driver: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "driver: cannot write %s\n", path);
        exit(2);
    }
}

static size_t elem_size(const bnrt_model_t *m, uint32_t layer)
{
    bnrt_layer_t l;
    if (bnrt_model_layer(m, layer, &l) != BNRT_OK) {
        return 1;
    }
    return BNRT_DTYPE_SIZE(l.dtype) ? BNRT_DTYPE_SIZE(l.dtype) : 1u;
}

static void run_case(char kind, const char *blob_path, unsigned long a1, unsigned long a2,
                     unsigned long a3, unsigned long a4, const char *in_path, const char *out_path)
{
    size_t size, in_size;
    /* malloc is 16-byte aligned here, so base + pad is misaligned by pad */
    const size_t pad = kind == 'L' ? (size_t)a1 : 0u;
    unsigned char *base = read_file(blob_path, &size, pad);
    bnrt_model_t model;
    bnrt_status_t st = bnrt_model_load(&model, base + pad, size);
    printf("%s", bnrt_status_name(st));
    if (kind == 'L' && st == BNRT_OK) {
        uint32_t i;
        bnrt_layer_t l;
        for (i = 0; i <= model.layer_count; i++) { /* one past the end: ERR_LAYER */
            printf(" %s", bnrt_status_name(bnrt_model_layer(&model, i, &l)));
        }
    } else if (kind != 'L') {
        unsigned char *in = read_file(in_path, &in_size, 0);
        unsigned char *out = malloc(in_size + 1u);
        if (out == NULL) {
            exit(2);
        }
        if (kind == 'R') {
            st = bnrt_model_run_range(&model, (uint32_t)a1, (uint32_t)a2, (uint32_t)a3,
                                      (uint32_t)a4, in_size ? in : NULL, out);
        } else {
            st = bnrt_model_run(&model, (uint32_t)a1, in_size ? in : NULL, out, (uint32_t)a2,
                                (uint32_t)a3);
        }
        printf(" %s", bnrt_status_name(st));
        if (st == BNRT_OK && in_size % elem_size(&model, (uint32_t)a1) == 0u) {
            write_file(out_path, out, in_size);
        }
        free(in);
        free(out);
    }
    printf("\n");
    fflush(stdout);
    free(base);
}

int main(void)
{
    char line[4096], blob[1024], in[1024], out[1024];
    unsigned long a1, a2, a3, a4;
    while (fgets(line, sizeof line, stdin) != NULL) {
        if (sscanf(line, "L %1023s %lu", blob, &a1) == 2) {
            run_case('L', blob, a1, 0, 0, 0, NULL, NULL);
        } else if (sscanf(line, "R %1023s %lu %lu %lu %lu %1023s %1023s", blob, &a1, &a2, &a3, &a4,
                          in, out)
                   == 7) {
            run_case('R', blob, a1, a2, a3, a4, in, out);
        } else if (sscanf(line, "W %1023s %lu %lu %lu %1023s %1023s", blob, &a1, &a2, &a3, in, out)
                   == 6) {
            run_case('W', blob, a1, a2, a3, 0, in, out);
        } else {
            fprintf(stderr, "driver: bad line: %s", line);
            return 2;
        }
    }
    return 0;
}
