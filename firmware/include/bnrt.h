/* bnrt: BatchNorm inference runtime for microcontrollers and the host.
 *
 * The one public header of the runtime core.  C99, no allocation, no I/O, no
 * global mutable state.  All buffers belong to the caller.
 *
 * Model file: see docs/format.md; constants come from the generated
 * bnrt_spec.h (single source: toolkit/format/spec.py).
 *
 * Tensor layouts (BNRT_LAYOUT_*), for a tensor of `batch` samples with
 * `channels` channels and `spatial` elements per channel and sample
 * (spatial = H*W for 2-D, L for BatchNorm1d on (N,C,L), 1 for (N,C)):
 *   NCHW (channels first): element (n, c, s) at index (n*channels + c)*spatial + s
 *   NHWC (channels last):  element (n, s, c) at index (n*spatial + s)*channels + c
 *
 * Arithmetic (bit-exact contracts, checked by the test suite):
 *   f32, flags & BNRT_LAYER_FLAG_FMA:  y = fmaf(x, a[c], b[c])      (one rounding)
 *   f32, otherwise:                    y = (x * a[c]) + b[c]       (two roundings)
 *   s8 : acc = (int32_t)x * mult[c] + bias[c];  y = sat8(acc >> shift)
 *   s16: acc = (int64_t)x * mult[c] + bias[c];  y = sat16(acc >> shift)
 *   ">>" is an arithmetic (flooring) shift; round-half-up is folded into bias.
 *   Parameter ranges for s8: |mult| <= 2^23, |bias| <= 2^30, shift <= 31;
 *   for s16: any int32 mult, |bias| <= 2^62, shift <= 62.  Within these ranges
 *   the accumulator cannot overflow.
 *
 * `in` and `out` may be the same buffer (in-place); otherwise they must not overlap.
 *
 * Build contract (firmware/mk/core.mk, CORE_CFLAGS): -ffp-contract=off so that
 * the unfused f32 form is never contracted into an FMA behind our back, and
 * -fno-strict-aliasing because parameters are read in place from the byte blob.
 * The runtime assumes a little-endian target (all Cortex-M builds and x86).
 */
#ifndef BNRT_H
#define BNRT_H

#include <stddef.h>
#include <stdint.h>

#include "bnrt_spec.h"

/* Build switches (firmware/bnrt.mk, firmware/CMakeLists.txt, board.toml
 * [build]; docs/runtime.md "Build switches"): 1 compiles a part in, 0 leaves
 * it out.  A layer whose dtype is left out still loads (the file is valid)
 * but bnrt_model_run() answers BNRT_ERR_UNSUPPORTED. */
#ifndef BNRT_WITH_F32
#define BNRT_WITH_F32 1
#endif
#ifndef BNRT_WITH_S16
#define BNRT_WITH_S16 1
#endif
#ifndef BNRT_WITH_S8
#define BNRT_WITH_S8 1
#endif
#ifndef BNRT_WITH_TRAIN /* train-mode BN commands (TRAIN, STATS, FREEZE) */
#define BNRT_WITH_TRAIN 1
#endif
#ifndef BNRT_WITH_PROTOCOL /* the serial protocol server (bnrt_main, bnrt_cmd_poll) */
#define BNRT_WITH_PROTOCOL 1
#endif
#ifndef BNRT_WITH_BOOT_MODEL /* the image links a model (bnrt_boot_model[]) active at boot */
#define BNRT_WITH_BOOT_MODEL 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A validated model: views into the caller's blob, which must stay alive and
 * unchanged.  Fill it only through bnrt_model_load(). */
typedef struct {
    const uint8_t *blob;
    uint32_t size;
    uint32_t crc32;
    uint16_t layer_count;
} bnrt_model_t;

/* One decoded layer-table entry.  `params` points into the blob. */
typedef struct {
    uint8_t op;         /* BNRT_OP_* */
    uint8_t dtype;      /* BNRT_DTYPE_* */
    uint8_t layout;     /* BNRT_LAYOUT_* */
    uint8_t flags;      /* BNRT_LAYER_FLAG_* */
    uint32_t channels;  /* 1 .. BNRT_MAX_CHANNELS */
    const void *params; /* 8-byte aligned, layout per dtype (docs/format.md) */
    uint32_t params_size;
    float in_scale; /* integer dtypes: real = scale * (q - zero_point) */
    int32_t in_zero_point;
    float out_scale;
    int32_t out_zero_point;
    uint8_t shift;
    uint32_t name_offset; /* into the strings section, or BNRT_NAME_NONE */
} bnrt_layer_t;

/* Name of a status as in spec.py ("ERR_CRC"); "UNKNOWN" for a value outside
 * the list.  Never NULL. */
const char *bnrt_status_name(bnrt_status_t status);

/* CRC-32 as zlib computes it: bnrt_crc32(0, data, len) == zlib.crc32(data).
 * Chain calls by passing the previous result as `crc`. */
uint32_t bnrt_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* Validate `blob` completely (magic, version, sizes, CRC, every offset, length,
 * alignment, op, dtype, layout, channel count and quantization parameter) and
 * fill `model`.  The blob must start on an 8-byte boundary.  On any error
 * `model` is left zeroed and nothing else is touched.
 * Statuses: ERR_ARG (NULL model or blob), ERR_ALIGN (blob not 8-byte aligned),
 * then the file checks in the order of docs/format.md "Validation" and
 * toolkit/format/reader.py, so every reader names a corrupt file alike. */
bnrt_status_t bnrt_model_load(bnrt_model_t *model, const uint8_t *blob, size_t size);

/* Decode layer `index` of a loaded model.  ERR_ARG for NULL pointers,
 * ERR_NO_MODEL for a model that failed to load, ERR_LAYER for a bad index. */
bnrt_status_t bnrt_model_layer(const bnrt_model_t *model, uint32_t index, bnrt_layer_t *layer);

/* Run layer `index` on a whole tensor of batch x channels x spatial elements
 * of the layer's dtype, in the layer's layout.  Statuses: those of
 * bnrt_model_layer, then those of the kernel. */
bnrt_status_t bnrt_model_run(const bnrt_model_t *model, uint32_t index, const void *in, void *out,
                             uint32_t batch, uint32_t spatial);

/* Run layer `index` on elements [first, first + count) of a tensor (any batch)
 * with `spatial` elements per channel, in the layer's layout.  `in`/`out` hold
 * only those `count` elements.  Lets a host stream a tensor in frame-sized
 * chunks that need not start or end on a sample or channel boundary.
 * NCHW element e belongs to channel (e / spatial) % channels, NHWC element e
 * to channel e % channels.  Checks, in order: ERR_ARG (NULL model), ERR_NO_MODEL,
 * ERR_LAYER; count == 0 is OK and touches nothing; ERR_ARG (NULL in/out or a
 * count whose byte size overflows size_t); ERR_SHAPE (spatial == 0, or
 * first + count beyond 2^32 - 1).  Runs at most five kernel calls. */
bnrt_status_t bnrt_model_run_range(const bnrt_model_t *model, uint32_t index, uint32_t spatial,
                                   uint32_t first, uint32_t count, const void *in, void *out);

/* Kernels: pure math over raw pointers.  BNRT_ERR_ARG for NULL pointers (with
 * a non-zero element count), zero channels, an unknown layout or a
 * batch*channels*spatial that overflows size_t; BNRT_ERR_QUANT for an
 * out-of-range shift.  A zero batch or spatial size is a valid empty tensor.
 * Parameters are not range-checked here (that is the parser's job): callers
 * passing mult/bias outside the ranges above get undefined results. */
bnrt_status_t bnrt_bn_affine_f32(const float *in, float *out, uint32_t batch, uint32_t channels,
                                 uint32_t spatial, uint8_t layout, const float *a, const float *b,
                                 uint8_t flags);
bnrt_status_t bnrt_bn_affine_s8(const int8_t *in, int8_t *out, uint32_t batch, uint32_t channels,
                                uint32_t spatial, uint8_t layout, const int32_t *mult,
                                const int32_t *bias, uint8_t shift);
bnrt_status_t bnrt_bn_affine_s16(const int16_t *in, int16_t *out, uint32_t batch, uint32_t channels,
                                 uint32_t spatial, uint8_t layout, const int32_t *mult,
                                 const int64_t *bias, uint8_t shift);

#ifdef __cplusplus
}
#endif
#endif /* BNRT_H */
