/* The serial command loop: COBS framing and the protocol commands
 * (docs/protocol.md).  Board-free: it reaches hardware only through
 * bnrt_hal.h.  No allocation; every buffer is caller-owned.
 *
 * Layers, from pure to I/O:
 *   bnrt_cobs_*      COBS encode (pure) and a byte-at-a-time frame assembler
 *   bnrt_cmd_handle  one decoded frame in, one decoded response frame out
 *   bnrt_main        the board's entry point: read bytes, answer frames, forever
 */
#ifndef BNRT_CMDLOOP_H
#define BNRT_CMDLOOP_H

#include <stddef.h>
#include <stdint.h>

#include "bnrt.h"
#include "bnrt_train.h"

/* A board build may override these with -D. */
#ifndef BNRT_MAX_PAYLOAD
#define BNRT_MAX_PAYLOAD 4096u /* decoded payload bytes per frame */
#endif
#ifndef BNRT_MODEL_SLOT_SIZE
#define BNRT_MODEL_SLOT_SIZE 16384u /* bytes per model slot; there are two */
#endif
#ifndef BNRT_DTYPE_MASK /* the dtypes this image runs (BNRT_WITH_<DTYPE>, bnrt.h) */
#define BNRT_DTYPE_MASK                                                                          \
    (((BNRT_WITH_F32 ? 1u : 0u) << BNRT_DTYPE_F32) | ((BNRT_WITH_S8 ? 1u : 0u) << BNRT_DTYPE_S8) \
     | ((BNRT_WITH_S16 ? 1u : 0u) << BNRT_DTYPE_S16))
#endif
/* INFO capabilities of this image (spec.CAPABILITIES). */
#define BNRT_CAPABILITIES \
    ((BNRT_WITH_TRAIN ? BNRT_CAP_TRAIN : 0u) | (BNRT_WITH_BOOT_MODEL ? BNRT_CAP_BOOT_MODEL : 0u))
#ifndef BNRT_LAYOUT_MASK
#define BNRT_LAYOUT_MASK BNRT_LAYOUT_MASK_ALL
#endif
#ifndef BNRT_OP_MASK
#define BNRT_OP_MASK BNRT_OP_MASK_ALL
#endif

/* INFO must fit, and every size must fit the 32-bit protocol fields. */
#define BNRT_CMD_ASSERT(name, cond) typedef char bnrt_cmd_assert_##name[(cond) ? 1 : -1]
BNRT_CMD_ASSERT(payload_min, BNRT_MAX_PAYLOAD >= BNRT_MIN_PAYLOAD);
BNRT_CMD_ASSERT(payload_max, BNRT_MAX_PAYLOAD <= 0x7FFFFFF0u);
BNRT_CMD_ASSERT(slot_min, BNRT_MODEL_SLOT_SIZE >= BNRT_HDR_SIZE);
BNRT_CMD_ASSERT(slot_max, BNRT_MODEL_SLOT_SIZE <= 0x7FFFFFF0u);

/* Largest decoded frame: header + payload + CRC. */
#define BNRT_FRAME_MAX (BNRT_MAX_PAYLOAD + BNRT_FRAME_OVERHEAD)
#define BNRT_SLOT_WORDS ((BNRT_MODEL_SLOT_SIZE + 7u) / 8u)

/* ---- COBS ---- */

/* Encoded size of `len` bytes, delimiter not included. */
#define BNRT_COBS_MAX(len) ((len) + (len) / 254u + 1u)

#define BNRT_COBS_BLOCK_MAX 255u

/* Encode the next COBS block of in[*pos .. len) into `out` (room for
 * BNRT_COBS_BLOCK_MAX bytes) and advance *pos.  Returns the block size, 0 once
 * every block was produced (start with *pos = 0).  Lets firmware stream a
 * frame out without a second frame-sized buffer. */
size_t bnrt_cobs_block(const uint8_t *in, size_t len, size_t *pos, uint8_t *out);

/* Encode `len` bytes into `out` (no delimiter appended).  Returns the encoded
 * length, or 0 when `cap` is too small. */
size_t bnrt_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Byte-at-a-time frame assembler: COBS-decodes into `buf` as bytes arrive. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;       /* decoded bytes so far */
    uint32_t seen;    /* raw bytes since the last delimiter (saturates) */
    uint8_t code;     /* code byte of the current COBS block */
    uint8_t left;     /* data bytes still due in the current block */
    uint8_t overflow; /* the frame outgrew `buf`: reject at the delimiter */
} bnrt_framer_t;

enum {
    BNRT_FRAMER_MORE = 0,  /* keep feeding bytes */
    BNRT_FRAMER_FRAME = 1, /* buf[0 .. *frame_len) holds one decoded frame */
    BNRT_FRAMER_ERROR = 2  /* a frame ended broken: answer a NAK with *error */
};

void bnrt_framer_init(bnrt_framer_t *f, uint8_t *buf, size_t cap);
/* Feed one byte.  A 0x00 ends a frame; an empty frame is ignored (hosts send a
 * lone 0x00 to flush a partial frame).  Errors: BNRT_ERR_FRAME_SIZE for a frame
 * longer than `cap`, BNRT_ERR_FRAME_FORMAT for broken COBS. */
int bnrt_framer_push(bnrt_framer_t *f, uint8_t byte, size_t *frame_len, bnrt_status_t *error);
/* Drop a partial frame (inter-byte timeout). */
void bnrt_framer_reset(bnrt_framer_t *f);
/* Non-zero while a frame is partly received. */
int bnrt_framer_busy(const bnrt_framer_t *f);

/* ---- commands ---- */

/* Everything the command handler keeps between frames.  Put it in static
 * memory: two model slots (the active model and the upload in progress). */
typedef struct {
    uint64_t slot[2][BNRT_SLOT_WORDS]; /* uint64_t: blobs need 8-byte alignment */
    bnrt_model_t model;                /* valid when has_model */
    uint8_t has_model;
    uint8_t active;             /* slot holding `model` */
    uint8_t loading;            /* an upload into slot[!active] is open */
    uint8_t last_cmd, last_seq; /* previous request, for repeated commits */
    uint8_t commit_done;        /* the previous request was a successful commit */
    uint32_t load_total, load_crc, load_received;
#if BNRT_WITH_TRAIN
    bnrt_train_t train; /* train-mode BN state (bnrt_train.h) */
#endif
} bnrt_cmd_ctx_t;

#if BNRT_WITH_BOOT_MODEL
/* The model linked into the image (`toolkit build --model`, or any exported
 * model.c renamed bnrt_boot_model.c): active after every reset until a LOAD
 * replaces it.  Executed in place from flash. */
extern const uint8_t bnrt_boot_model[];
extern const uint32_t bnrt_boot_model_size;
#endif

/* Zero the context; with BNRT_WITH_BOOT_MODEL the linked model becomes the
 * active one (if it fails bnrt_model_load, the board starts without a model). */
void bnrt_cmd_init(bnrt_cmd_ctx_t *ctx);

/* Handle one decoded request frame (header, payload, CRC) and write the
 * decoded response frame (header, payload, CRC) to `resp`.  Returns the
 * response length, 0 only when `resp_cap` < BNRT_FRAME_OVERHEAD.  A bad CRC
 * or a frame too short for header and CRC gives a NAK.  `req` and `resp`
 * must not overlap; both should be 4-byte aligned (RUN passes tensors in
 * place).  resp_cap >= BNRT_FRAME_MAX always suffices. */
size_t bnrt_cmd_handle(bnrt_cmd_ctx_t *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
                       size_t resp_cap);

/* Write a NAK frame (cmd BNRT_NAK, no payload) with `status`; returns its length. */
size_t bnrt_cmd_nak(uint8_t *resp, size_t resp_cap, uint8_t seq, bnrt_status_t status);

/* ---- serving frames ---- */

/* Everything a protocol server keeps: the command context and one receive
 * and one transmit frame buffer.  Put it in static memory. */
typedef struct {
    bnrt_cmd_ctx_t cmd;
    uint32_t rx[(BNRT_FRAME_MAX + 3u) / 4u]; /* uint32_t: RUN tensors sit 4-byte aligned */
    uint32_t tx[(BNRT_FRAME_MAX + 3u) / 4u];
    bnrt_framer_t framer;
    uint32_t last_byte_ms; /* bnrt_hal_millis() at the last byte */
} bnrt_server_t;

/* Initialise a server (calls bnrt_cmd_init; not bnrt_hal_init). */
void bnrt_server_init(bnrt_server_t *s);

/* Make `model` (loaded by the application, e.g. from its exported model.c
 * in flash) the server's active model, as a boot model is: MODEL_INFO, RUN
 * and `toolkit verify --no-upload` use it until a LOAD replaces it.  The
 * blob must stay valid and unchanged. */
void bnrt_server_use_model(bnrt_server_t *s, const bnrt_model_t *model);

/* Feed one received byte (from a UART interrupt's ring buffer, say).  When it
 * completes a frame, the answer is sent with bnrt_hal_write() before this
 * returns.  Returns 1 when a frame was answered, else 0. */
int bnrt_cmd_feed(bnrt_server_t *s, uint8_t byte);

/* Non-blocking: feed every byte bnrt_hal_read_byte(&b, 0) has ready, answer
 * the frames they complete, and drop a partial frame that stalled longer than
 * BNRT_FRAME_TIMEOUT_MS.  Never waits for a byte; call it from the
 * application's main loop.  Returns the number of bytes consumed. */
size_t bnrt_cmd_poll(bnrt_server_t *s);

/* The firmware entry point every board's startup calls: bnrt_hal_init(), then
 * serve frames forever (blocking; sleeps while the UART is idle). */
void bnrt_main(void);

#endif /* BNRT_CMDLOOP_H */
