/* Generated from toolkit/format/spec.py by toolkit/format/render.py.
 * DO NOT EDIT: change spec.py and run `python -m toolkit.format.render`. */
#ifndef BNRT_SPEC_H
#define BNRT_SPEC_H

/* ---- model file ---- */
#define BNRT_MAGIC 0x464D4E42u  /* "BNMF" little-endian */
#define BNRT_VERSION_MAJOR 1u
#define BNRT_VERSION_MINOR 0u
#define BNRT_PARAM_ALIGN 8u
#define BNRT_LAYER_TABLE_ALIGN 4u
#define BNRT_NAME_NONE 0xFFFFFFFFu
#define BNRT_MAX_CHANNELS 1048576u
#define BNRT_CRC_OFFSET 8u
#define BNRT_FILE_FLAG_STRINGS 0x0001u
#define BNRT_FILE_FLAGS_KNOWN 0x0001u
#define BNRT_LAYER_FLAG_FMA 0x01u
#define BNRT_LAYER_FLAGS_KNOWN 0x01u
#define BNRT_HDR_SIZE 32u
#define BNRT_HDR_OFF_MAGIC 0u  /* 4 byte(s) */
#define BNRT_HDR_OFF_MAJOR 4u  /* 1 byte(s) */
#define BNRT_HDR_OFF_MINOR 5u  /* 1 byte(s) */
#define BNRT_HDR_OFF_HEADER_SIZE 6u  /* 2 byte(s) */
#define BNRT_HDR_OFF_CRC32 8u  /* 4 byte(s) */
#define BNRT_HDR_OFF_TOTAL_SIZE 12u  /* 4 byte(s) */
#define BNRT_HDR_OFF_LAYER_COUNT 16u  /* 2 byte(s) */
#define BNRT_HDR_OFF_FLAGS 18u  /* 2 byte(s) */
#define BNRT_HDR_OFF_LAYERS_OFFSET 20u  /* 4 byte(s) */
#define BNRT_HDR_OFF_STRINGS_OFFSET 24u  /* 4 byte(s) */
#define BNRT_HDR_OFF_STRINGS_SIZE 28u  /* 4 byte(s) */
#define BNRT_LAYER_SIZE 40u
#define BNRT_LAYER_OFF_OP 0u  /* 1 byte(s) */
#define BNRT_LAYER_OFF_DTYPE 1u  /* 1 byte(s) */
#define BNRT_LAYER_OFF_LAYOUT 2u  /* 1 byte(s) */
#define BNRT_LAYER_OFF_FLAGS 3u  /* 1 byte(s) */
#define BNRT_LAYER_OFF_CHANNELS 4u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_PARAMS_OFFSET 8u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_PARAMS_SIZE 12u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_IN_SCALE 16u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_IN_ZERO_POINT 20u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_OUT_SCALE 24u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_OUT_ZERO_POINT 28u  /* 4 byte(s) */
#define BNRT_LAYER_OFF_SHIFT 32u  /* 1 byte(s) */
#define BNRT_LAYER_OFF_NAME_OFFSET 36u  /* 4 byte(s) */
#define BNRT_OP_BN_AFFINE 1u
#define BNRT_DTYPE_F32 1u
#define BNRT_DTYPE_S8 2u
#define BNRT_DTYPE_S16 3u
#define BNRT_LAYOUT_NCHW 0u
#define BNRT_LAYOUT_NHWC 1u
#define BNRT_DTYPE_SIZE_F32 4u
#define BNRT_DTYPE_SIZE_S8 1u
#define BNRT_DTYPE_SIZE_S16 2u
#define BNRT_PARAM_BYTES_F32 8u
#define BNRT_PARAM_BYTES_S8 8u
#define BNRT_PARAM_BYTES_S16 12u
#define BNRT_PARAM_F32_A_START 0u  /* a[C] at params + C * 0 */
#define BNRT_PARAM_F32_B_START 4u  /* b[C] at params + C * 4 */
#define BNRT_PARAM_S8_MULT_START 0u  /* mult[C] at params + C * 0 */
#define BNRT_PARAM_S8_BIAS_START 4u  /* bias[C] at params + C * 4 */
#define BNRT_PARAM_S16_BIAS_START 0u  /* bias[C] at params + C * 0 */
#define BNRT_PARAM_S16_MULT_START 8u  /* mult[C] at params + C * 8 */
#define BNRT_S8_MULT_MAX 8388608L
#define BNRT_S8_BIAS_MAX 1073741823L
#define BNRT_S8_SHIFT_MAX 31u
#define BNRT_S16_BIAS_MAX 4611686018427387904LL
#define BNRT_S16_SHIFT_MAX 62u
#define BNRT_S8_MIN (-128L)
#define BNRT_S8_MAX 127L
#define BNRT_S16_MIN (-32768L)
#define BNRT_S16_MAX 32767L

/* ---- protocol ---- */
#define BNRT_PROTOCOL_VERSION 1u
#define BNRT_FIRMWARE_VERSION 1u
#define BNRT_FRAME_DELIMITER 0x00u
#define BNRT_FRAME_CRC_SIZE 4u
#define BNRT_FRAME_OVERHEAD 8u
#define BNRT_MIN_PAYLOAD 64u
#define BNRT_RESPONSE_BIT 0x80u
#define BNRT_NAK 0xFFu
#define BNRT_FRAME_TIMEOUT_MS 200u
#define BNRT_FRAME_SIZE 4u
#define BNRT_FRAME_OFF_CMD 0u  /* 1 byte(s) */
#define BNRT_FRAME_OFF_SEQ 1u  /* 1 byte(s) */
#define BNRT_FRAME_OFF_STATUS 2u  /* 1 byte(s) */
#define BNRT_FRAME_OFF_FLAGS 3u  /* 1 byte(s) */
#define BNRT_CMD_INFO 0x01u
#define BNRT_CMD_LOAD_BEGIN 0x02u
#define BNRT_CMD_LOAD_CHUNK 0x03u
#define BNRT_CMD_LOAD_COMMIT 0x04u
#define BNRT_CMD_RUN 0x05u
#define BNRT_CMD_RESET 0x06u
#define BNRT_CMD_MODEL_INFO 0x07u
#define BNRT_CMD_TRAIN 0x08u
#define BNRT_CMD_STATS 0x09u
#define BNRT_CMD_FREEZE 0x0Au
#define BNRT_CMD_USER 0x0Bu
#define BNRT_COUNTER_NONE 0u
#define BNRT_COUNTER_CYCLES 1u
#define BNRT_COUNTER_INSTRUCTIONS 2u
#define BNRT_COUNTER_TIME 3u
#define BNRT_DTYPE_MASK_ALL 0x0Eu
#define BNRT_LAYOUT_MASK_ALL 0x03u
#define BNRT_OP_MASK_ALL 0x0002u
#define BNRT_INFO_SIZE 24u
#define BNRT_INFO_OFF_PROTOCOL_VERSION 0u  /* 2 byte(s) */
#define BNRT_INFO_OFF_FIRMWARE_VERSION 2u  /* 2 byte(s) */
#define BNRT_INFO_OFF_MAX_PAYLOAD 4u  /* 4 byte(s) */
#define BNRT_INFO_OFF_MAX_MODEL 8u  /* 4 byte(s) */
#define BNRT_INFO_OFF_COUNTER_HZ 12u  /* 4 byte(s) */
#define BNRT_INFO_OFF_DTYPE_MASK 16u  /* 1 byte(s) */
#define BNRT_INFO_OFF_LAYOUT_MASK 17u  /* 1 byte(s) */
#define BNRT_INFO_OFF_OP_MASK 18u  /* 2 byte(s) */
#define BNRT_INFO_OFF_COUNTER_KIND 20u  /* 1 byte(s) */
#define BNRT_INFO_OFF_NAME_LENGTH 21u  /* 1 byte(s) */
#define BNRT_INFO_OFF_CAPABILITIES 22u  /* 2 byte(s) */
#define BNRT_CAP_TRAIN 0x0001u
#define BNRT_CAP_BOOT_MODEL 0x0002u
#define BNRT_LOAD_BEGIN_SIZE 8u
#define BNRT_LOAD_BEGIN_OFF_TOTAL_SIZE 0u  /* 4 byte(s) */
#define BNRT_LOAD_BEGIN_OFF_CRC32 4u  /* 4 byte(s) */
#define BNRT_LOAD_CHUNK_SIZE 4u
#define BNRT_LOAD_CHUNK_OFF_OFFSET 0u  /* 4 byte(s) */
#define BNRT_LOAD_COMMIT_SIZE 8u
#define BNRT_LOAD_COMMIT_OFF_CRC32 0u  /* 4 byte(s) */
#define BNRT_LOAD_COMMIT_OFF_LAYER_COUNT 4u  /* 2 byte(s) */
#define BNRT_RUN_SIZE 16u
#define BNRT_RUN_OFF_LAYER 0u  /* 2 byte(s) */
#define BNRT_RUN_OFF_RESERVED 2u  /* 2 byte(s) */
#define BNRT_RUN_OFF_SPATIAL 4u  /* 4 byte(s) */
#define BNRT_RUN_OFF_FIRST 8u  /* 4 byte(s) */
#define BNRT_RUN_OFF_COUNT 12u  /* 4 byte(s) */
#define BNRT_RUN_RESPONSE_SIZE 4u
#define BNRT_RUN_RESPONSE_OFF_TICKS 0u  /* 4 byte(s) */
#define BNRT_MODEL_INFO_SIZE 2u
#define BNRT_MODEL_INFO_OFF_LAYER 0u  /* 2 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_SIZE 16u
#define BNRT_MODEL_INFO_RESPONSE_OFF_CRC32 0u  /* 4 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_LAYER_COUNT 4u  /* 2 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_LAYER 6u  /* 2 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_OP 8u  /* 1 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_DTYPE 9u  /* 1 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_LAYOUT 10u  /* 1 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_FLAGS 11u  /* 1 byte(s) */
#define BNRT_MODEL_INFO_RESPONSE_OFF_CHANNELS 12u  /* 4 byte(s) */
#define BNRT_TRAIN_SETUP_SIZE 32u
#define BNRT_TRAIN_SETUP_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_TRAIN_SETUP_OFF_FLAGS 1u  /* 1 byte(s) */
#define BNRT_TRAIN_SETUP_OFF_RESERVED 2u  /* 2 byte(s) */
#define BNRT_TRAIN_SETUP_OFF_CHANNELS 4u  /* 4 byte(s) */
#define BNRT_TRAIN_SETUP_OFF_EPS 8u  /* 8 byte(s) */
#define BNRT_TRAIN_SETUP_OFF_MOMENTUM 16u  /* 8 byte(s) */
#define BNRT_TRAIN_SETUP_OFF_NUM_BATCHES_TRACKED 24u  /* 8 byte(s) */
#define BNRT_TRAIN_BEGIN_SIZE 16u
#define BNRT_TRAIN_BEGIN_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_TRAIN_BEGIN_OFF_LAYOUT 1u  /* 1 byte(s) */
#define BNRT_TRAIN_BEGIN_OFF_RESERVED 2u  /* 2 byte(s) */
#define BNRT_TRAIN_BEGIN_OFF_BATCH 4u  /* 4 byte(s) */
#define BNRT_TRAIN_BEGIN_OFF_SPATIAL 8u  /* 4 byte(s) */
#define BNRT_TRAIN_BEGIN_OFF_CHUNK 12u  /* 4 byte(s) */
#define BNRT_TRAIN_SIZE 12u
#define BNRT_TRAIN_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_TRAIN_OFF_PASS 1u  /* 1 byte(s) */
#define BNRT_TRAIN_OFF_RESERVED 2u  /* 2 byte(s) */
#define BNRT_TRAIN_OFF_FIRST 4u  /* 4 byte(s) */
#define BNRT_TRAIN_OFF_COUNT 8u  /* 4 byte(s) */
#define BNRT_STATS_SIZE 8u
#define BNRT_STATS_OFF_FIRST 0u  /* 4 byte(s) */
#define BNRT_STATS_OFF_COUNT 4u  /* 4 byte(s) */
#define BNRT_STATS_RESPONSE_SIZE 16u
#define BNRT_STATS_RESPONSE_OFF_NUM_BATCHES_TRACKED 0u  /* 8 byte(s) */
#define BNRT_STATS_RESPONSE_OFF_FIRST 8u  /* 4 byte(s) */
#define BNRT_STATS_RESPONSE_OFF_COUNT 12u  /* 4 byte(s) */
#define BNRT_FREEZE_SIZE 2u
#define BNRT_FREEZE_OFF_LAYER 0u  /* 2 byte(s) */
#define BNRT_FREEZE_RESPONSE_SIZE 4u
#define BNRT_FREEZE_RESPONSE_OFF_CRC32 0u  /* 4 byte(s) */
#define BNRT_USER_SETUP_SIZE 12u
#define BNRT_USER_SETUP_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_USER_SETUP_OFF_FLAGS 1u  /* 1 byte(s) */
#define BNRT_USER_SETUP_OFF_DTYPE 2u  /* 1 byte(s) */
#define BNRT_USER_SETUP_OFF_RESERVED 3u  /* 1 byte(s) */
#define BNRT_USER_SETUP_OFF_CHANNELS 4u  /* 4 byte(s) */
#define BNRT_USER_SETUP_OFF_EPS 8u  /* 4 byte(s) */
#define BNRT_USER_SETUP_RESPONSE_SIZE 8u
#define BNRT_USER_SETUP_RESPONSE_OFF_MAX_CHANNELS 0u  /* 4 byte(s) */
#define BNRT_USER_SETUP_RESPONSE_OFF_MAX_ELEMENTS 4u  /* 4 byte(s) */
#define BNRT_USER_QUANT_SIZE 20u
#define BNRT_USER_QUANT_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_USER_QUANT_OFF_RESERVED 1u  /* 1 byte(s) */
#define BNRT_USER_QUANT_OFF_RESERVED2 2u  /* 2 byte(s) */
#define BNRT_USER_QUANT_OFF_IN_SCALE 4u  /* 4 byte(s) */
#define BNRT_USER_QUANT_OFF_IN_ZERO_POINT 8u  /* 4 byte(s) */
#define BNRT_USER_QUANT_OFF_OUT_SCALE 12u  /* 4 byte(s) */
#define BNRT_USER_QUANT_OFF_OUT_ZERO_POINT 16u  /* 4 byte(s) */
#define BNRT_USER_SIZE 12u
#define BNRT_USER_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_USER_OFF_TENSOR 1u  /* 1 byte(s) */
#define BNRT_USER_OFF_RESERVED 2u  /* 2 byte(s) */
#define BNRT_USER_OFF_FIRST 4u  /* 4 byte(s) */
#define BNRT_USER_OFF_COUNT 8u  /* 4 byte(s) */
#define BNRT_USER_CALL_SIZE 12u
#define BNRT_USER_CALL_OFF_PHASE 0u  /* 1 byte(s) */
#define BNRT_USER_CALL_OFF_RESERVED 1u  /* 1 byte(s) */
#define BNRT_USER_CALL_OFF_LAYER 2u  /* 2 byte(s) */
#define BNRT_USER_CALL_OFF_BATCH 4u  /* 4 byte(s) */
#define BNRT_USER_CALL_OFF_SPATIAL 8u  /* 4 byte(s) */
#define BNRT_USER_CALL_RESPONSE_SIZE 4u
#define BNRT_USER_CALL_RESPONSE_OFF_TICKS 0u  /* 4 byte(s) */
#define BNRT_TRAIN_PHASE_SETUP 0u
#define BNRT_TRAIN_PHASE_PARAMS 1u
#define BNRT_TRAIN_PHASE_BEGIN 2u
#define BNRT_TRAIN_PHASE_DATA 3u
#define BNRT_TRAIN_PHASE_APPLY 4u
#define BNRT_TRAIN_PASS_SUM 1u
#define BNRT_TRAIN_PASS_VAR 2u
#define BNRT_TRAIN_FLAG_CUMULATIVE 1u
#define BNRT_TRAIN_FLAG_FMA 2u
#define BNRT_TRAIN_PASS_DONE 3u
#define BNRT_TRAIN_FLAGS_KNOWN 3u
#define BNRT_USER_PHASE_SETUP 0u
#define BNRT_USER_PHASE_PARAM 1u
#define BNRT_USER_PHASE_DATA 2u
#define BNRT_USER_PHASE_CALL 3u
#define BNRT_USER_PHASE_READ 4u
#define BNRT_USER_PHASE_QUANT 5u
#define BNRT_USER_TENSOR_WEIGHT 0u
#define BNRT_USER_TENSOR_BIAS 1u
#define BNRT_USER_TENSOR_RUNNING_MEAN 2u
#define BNRT_USER_TENSOR_RUNNING_VAR 3u

/* ---- per-dtype lookups (0 for an unknown dtype id) ---- */
#define BNRT_DTYPE_SIZE(id) ((id) == BNRT_DTYPE_F32 ? BNRT_DTYPE_SIZE_F32 : (id) == BNRT_DTYPE_S8 ? BNRT_DTYPE_SIZE_S8 : (id) == BNRT_DTYPE_S16 ? BNRT_DTYPE_SIZE_S16 : 0u)
#define BNRT_PARAM_BYTES(id) ((id) == BNRT_DTYPE_F32 ? BNRT_PARAM_BYTES_F32 : (id) == BNRT_DTYPE_S8 ? BNRT_PARAM_BYTES_S8 : (id) == BNRT_DTYPE_S16 ? BNRT_PARAM_BYTES_S16 : 0u)

/* ---- status codes: X(NAME, value, "message") ---- */
#define BNRT_STATUS_LIST(X) \
    X(OK, 0, "ok") \
    X(ERR_ARG, 1, "invalid argument") \
    X(ERR_MAGIC, 2, "not a .bnm model file (bad magic)") \
    X(ERR_VERSION, 3, "unsupported model format version") \
    X(ERR_TRUNCATED, 4, "model file is truncated") \
    X(ERR_SIZE, 5, "model size field does not match the data") \
    X(ERR_CRC, 6, "model CRC mismatch: the file is corrupted") \
    X(ERR_HEADER, 7, "invalid field in the model header") \
    X(ERR_BOUNDS, 8, "an offset or length points outside the model") \
    X(ERR_ALIGN, 9, "misaligned tensor or buffer") \
    X(ERR_OP, 10, "unknown operation kind") \
    X(ERR_DTYPE, 11, "unknown or unsupported dtype") \
    X(ERR_LAYOUT, 12, "unknown layout") \
    X(ERR_CHANNELS, 13, "invalid channel count") \
    X(ERR_QUANT, 14, "quantization parameter out of range") \
    X(ERR_STRINGS, 15, "invalid strings section") \
    X(ERR_LAYER, 16, "layer index out of range") \
    X(ERR_SHAPE, 17, "tensor shape does not fit the layer") \
    X(ERR_NO_MODEL, 18, "no model is loaded") \
    X(ERR_FRAME_CRC, 19, "frame CRC mismatch") \
    X(ERR_FRAME_SIZE, 20, "frame larger than the board accepts") \
    X(ERR_FRAME_FORMAT, 21, "malformed frame") \
    X(ERR_COMMAND, 22, "unknown command") \
    X(ERR_LOAD_STATE, 23, "no upload in progress") \
    X(ERR_LOAD_RANGE, 24, "upload chunk outside the announced size or out of order") \
    X(ERR_TOO_LARGE, 25, "model larger than the board's model slot") \
    X(ERR_INCOMPLETE, 26, "upload is missing bytes") \
    X(ERR_BATCH, 27, "train-mode BN needs more than one value per channel") \
    X(ERR_UNSUPPORTED, 28, "not supported by this firmware build") \
    X(ERR_TRAIN_STATE, 29, "train-mode request out of order") \
    X(ERR_NONFINITE, 30, "an f32 parameter is NaN or infinite") \
    X(ERR_OVERLAP, 31, "two layers' parameter blocks overlap") \

typedef enum {
#define BNRT_STATUS_ENUM(name, value, msg) BNRT_##name = value,
    BNRT_STATUS_LIST(BNRT_STATUS_ENUM)
#undef BNRT_STATUS_ENUM
    BNRT_STATUS_COUNT = 32
} bnrt_status_t;

/* compile-time checks that the sizes above add up */
#define BNRT_SPEC_ASSERT(name, cond) typedef char bnrt_spec_assert_##name[(cond) ? 1 : -1]
BNRT_SPEC_ASSERT(hdr_size, BNRT_HDR_SIZE == BNRT_HDR_OFF_STRINGS_SIZE + 4u);
BNRT_SPEC_ASSERT(layer_size, BNRT_LAYER_SIZE == BNRT_LAYER_OFF_NAME_OFFSET + 4u);
BNRT_SPEC_ASSERT(layer_align, BNRT_LAYER_SIZE % BNRT_LAYER_TABLE_ALIGN == 0u);
BNRT_SPEC_ASSERT(info_size, BNRT_INFO_SIZE == BNRT_INFO_OFF_CAPABILITIES + 2u);
BNRT_SPEC_ASSERT(run_size, BNRT_RUN_SIZE == BNRT_RUN_OFF_COUNT + 4u);

#endif /* BNRT_SPEC_H */
