/* COBS framing (docs/protocol.md): encoder and a streaming frame assembler. */
#include "bnrt_cmdloop.h"

#include <string.h>

size_t bnrt_cobs_block(const uint8_t *in, size_t len, size_t *pos, uint8_t *out)
{
    size_t i = *pos, n = 0;

    if (i > len || len == SIZE_MAX || (in == NULL && len != 0))
        return 0;
    while (n < 254u && i + n < len && in[i + n] != 0)
        n++;
    out[0] = (uint8_t)(n + 1u);
    if (n != 0)
        memcpy(out + 1, in + i, n);
    i += n;
    if (i == len)
        *pos = len + 1u; /* that was the last block */
    else if (n == 254u)
        *pos = i; /* a full block implies no zero */
    else
        *pos = i + 1u; /* skip the zero this block's code stands for */
    return n + 1u;
}

size_t bnrt_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    uint8_t block[BNRT_COBS_BLOCK_MAX];
    size_t pos = 0, used = 0, n;

    if (out == NULL)
        return 0;
    while ((n = bnrt_cobs_block(in, len, &pos, block)) != 0) {
        if (n > cap - used)
            return 0;
        memcpy(out + used, block, n);
        used += n;
    }
    return used;
}

void bnrt_framer_init(bnrt_framer_t *f, uint8_t *buf, size_t cap)
{
    f->buf = buf;
    f->cap = buf != NULL ? cap : 0;
    bnrt_framer_reset(f);
}

void bnrt_framer_reset(bnrt_framer_t *f)
{
    f->len = 0;
    f->seen = 0;
    f->code = 0;
    f->left = 0;
    f->overflow = 0;
}

int bnrt_framer_busy(const bnrt_framer_t *f)
{
    return f->seen != 0;
}

static void framer_put(bnrt_framer_t *f, uint8_t byte)
{
    if (f->len < f->cap)
        f->buf[f->len++] = byte;
    else
        f->overflow = 1;
}

int bnrt_framer_push(bnrt_framer_t *f, uint8_t byte, size_t *frame_len, bnrt_status_t *error)
{
    if (byte == BNRT_FRAME_DELIMITER) {
        int result = BNRT_FRAMER_FRAME;
        if (f->seen == 0)
            return BNRT_FRAMER_MORE; /* empty frame: a flush */
        if (f->overflow) {
            *error = BNRT_ERR_FRAME_SIZE;
            result = BNRT_FRAMER_ERROR;
        } else if (f->left != 0) {
            *error = BNRT_ERR_FRAME_FORMAT; /* the last block was cut short */
            result = BNRT_FRAMER_ERROR;
        }
        *frame_len = f->len;
        f->seen = 0;
        f->code = 0;
        f->left = 0;
        f->overflow = 0;
        f->len = 0;
        return result;
    }
    if (f->seen != UINT32_MAX)
        f->seen++;
    if (f->left == 0) {
        /* A new block; the block before it ended in an implied zero unless it was full. */
        if (f->seen > 1 && f->code != 0xFF)
            framer_put(f, 0);
        f->code = byte;
        f->left = (uint8_t)(byte - 1u);
    } else {
        framer_put(f, byte);
        f->left--;
    }
    return BNRT_FRAMER_MORE;
}
