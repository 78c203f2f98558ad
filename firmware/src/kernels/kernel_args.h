/* Internal: the argument check shared by the bn_affine kernels. */
#ifndef BNRT_KERNEL_ARGS_H
#define BNRT_KERNEL_ARGS_H

#include "bnrt.h"

/* Validate the shape and pointers of a kernel call; on BNRT_OK, *elements is
 * batch*channels*spatial (no overflow).  Order: layout, channels, size_t
 * overflow, NULL pointers (only when *elements != 0). */
bnrt_status_t bnrt_kernel_args(uint32_t batch, uint32_t channels, uint32_t spatial, uint8_t layout,
                               const void *in, const void *out, const void *p0, const void *p1,
                               size_t *elements);

/* NHWC with few channels: the per-pixel channel loop is too short to
 * vectorize (host) or to amortize the loop overhead (Cortex-M), so the f32 and
 * s16 kernels (and s8 on the host) repeat the parameters into stack tiles of
 * BNRT_TILE entries (whole pixels; at most 768 bytes of stack) and run the
 * long loop over a tile at a time. */
#define BNRT_NHWC_TILES 1
#define BNRT_TILE 64u

/* Elements in a tile of `tile` entries holding whole pixels of `channels`. */
#define BNRT_TILE_LEN(tile, channels) (((tile) / (channels)) * (channels))

/* A tile costs several instructions per entry to fill on every call, so it is
 * filled only for calls of at least BNRT_TILE_MIN_TILES tiles: short calls, such
 * as one RUN frame of a few pixels, take the per-pixel loop. */
#define BNRT_TILE_MAX_CHANNELS (BNRT_TILE / 2u)
#define BNRT_TILE_MIN_TILES 1u
#define BNRT_USE_TILES(channels, elements, len) \
    ((channels) <= BNRT_TILE_MAX_CHANNELS && (elements) >= BNRT_TILE_MIN_TILES * (size_t)(len))

/* t0[j], t1[j] = p0[j % channels], p1[j % channels] for j < len, without a division. */
#define BNRT_TILE_FILL(t0, t1, p0, p1, channels, len)    \
    do {                                                 \
        uint32_t j_, k_ = 0;                             \
        for (j_ = 0; j_ < (len); j_++) {                 \
            (t0)[j_] = (p0)[k_];                         \
            (t1)[j_] = (p1)[k_];                         \
            k_ = (k_ + 1u == (channels)) ? 0u : k_ + 1u; \
        }                                                \
    } while (0)

/* Saturation to a signed bit width: SSAT on ARMv6/7-M and later, a clamp elsewhere. */
#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
#define BNRT_SAT8(v) ((int8_t)__builtin_arm_ssat((v), 8))
#define BNRT_SAT16(v) ((int16_t)__builtin_arm_ssat((v), 16))
#else
/* Two independent min/max steps (not a nested conditional): x86 vectorizes
 * them to vpmaxsd/vpminsd plus a narrowing pack instead of compare/blend. */
static inline int32_t bnrt_clamp32(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}
#define BNRT_SAT8(v) ((int8_t)bnrt_clamp32((v), -128, 127))
#define BNRT_SAT16(v) ((int16_t)bnrt_clamp32((v), -32768, 32767))
#endif

#endif /* BNRT_KERNEL_ARGS_H */
