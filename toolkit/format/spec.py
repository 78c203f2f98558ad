"""The single source of truth for the .bnm model format and the serial protocol.

The writer, the reader, the protocol client, the MicroPython module and the
generated C header all take their constants from here (`render.py` writes
`firmware/include/bnrt_spec.h` and `micropython/bnrt_spec.py`).  Everything is
little-endian.  See docs/format.md and docs/protocol.md for the prose version
of the same facts.
"""
from __future__ import annotations

import struct
import zlib

# ---------------------------------------------------------------- model file
MAGIC = b"BNMF"
VERSION_MAJOR = 1
VERSION_MINOR = 0
PARAM_ALIGN = 8          # every tensor payload starts on this boundary
NAME_NONE = 0xFFFFFFFF   # layer has no name in the strings section
MAX_CHANNELS = 1 << 20

# File header: 32 bytes.
#   magic 4s | major B | minor B | header_size H | crc32 I | total_size I |
#   layer_count H | flags H | layers_offset I | strings_offset I | strings_size I
HEADER = struct.Struct("<4sBBHIIHHIII")
HEADER_FIELDS = ("magic", "major", "minor", "header_size", "crc32", "total_size",
                 "layer_count", "flags", "layers_offset", "strings_offset",
                 "strings_size")
HEADER_SIZE = HEADER.size                     # 32
CRC_OFFSET = 8                                # the crc32 field itself is skipped
FILE_FLAG_STRINGS = 0x0001                    # a strings section is present
FILE_FLAGS_KNOWN = FILE_FLAG_STRINGS

# Layer table entry: 40 bytes.
#   op B | dtype B | layout B | flags B | channels I | params_offset I |
#   params_size I | in_scale f | in_zero_point i | out_scale f |
#   out_zero_point i | shift B | reserved 3x | name_offset I
LAYER = struct.Struct("<BBBBIIIfifiB3xI")
LAYER_FIELDS = ("op", "dtype", "layout", "flags", "channels", "params_offset",
                "params_size", "in_scale", "in_zero_point", "out_scale",
                "out_zero_point", "shift", "name_offset")
LAYER_SIZE = LAYER.size                       # 40
LAYER_FLAG_FMA = 0x01     # f32: y = fmaf(x, a, b); clear: y = x*a + b, two roundings
LAYER_FLAGS_KNOWN = LAYER_FLAG_FMA

# Operation kinds.  New kinds get new ids; readers reject unknown ids.
OPS = {"bn_affine": 1}
# Element types: name -> id, the struct code of one tensor element (input and
# output), and its size in bytes.
DTYPES = {"f32": 1, "s8": 2, "s16": 3}
DTYPE_CODE = {"f32": "f", "s8": "b", "s16": "h"}
DTYPE_SIZE = {dt: struct.calcsize("<" + code) for dt, code in DTYPE_CODE.items()}
# Layouts: channels-first (N, C, *spatial) or channels-last (N, *spatial, C).
LAYOUTS = {"nchw": 0, "nhwc": 1}

# Per-channel parameter payloads of a bn_affine layer, by dtype (C = channels):
#   f32: a[C] float32, then b[C] float32                        8 bytes/channel
#   s8 : mult[C] int32, then bias[C] int32                      8 bytes/channel
#   s16: bias[C] int64, then mult[C] int32                      12 bytes/channel
# The arrays in file order, as (name, struct code of one element).  The C header
# gets BNRT_PARAM_<DTYPE>_<NAME>_START: the array starts at params + channels * START.
PARAM_ARRAYS = {
    "f32": (("a", "f"), ("b", "f")),
    "s8": (("mult", "i"), ("bias", "i")),
    "s16": (("bias", "q"), ("mult", "i")),
}
PARAM_BYTES_PER_CHANNEL = {dt: sum(struct.calcsize("<" + code) for _, code in arrays)
                           for dt, arrays in PARAM_ARRAYS.items()}
LAYER_TABLE_ALIGN = 4    # the layer table starts on this boundary (its entries are 4-byte aligned)

# Integer arithmetic (docs/format.md, "Integer BatchNorm"):
#   acc = q_in * mult[c] + bias[c]   (int32 for s8, int64 for s16)
#   q_out = saturate(acc >> shift)   (arithmetic shift; rounding is folded into bias)
# Limits the parser enforces so that acc can never overflow:
S8_MULT_MAX = 1 << 23      # |mult| <= 2^23  -> |q*mult| <= 2^30
S8_BIAS_MAX = (1 << 30) - 1  # |bias| < 2^30 -> |acc| <= 2^31 - 1
S8_SHIFT_MAX = 31
S16_BIAS_MAX = 1 << 62     # |q*mult| <= 2^46, |bias| <= 2^62 -> |acc| < 2^63
S16_SHIFT_MAX = 62
QRANGE = {"s8": (-128, 127), "s16": (-32768, 32767)}


def crc32(data: bytes, crc: int = 0) -> int:
    """CRC-32 (IEEE 802.3, reflected, as zlib) -- the firmware uses the same."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def file_crc(blob: bytes) -> int:
    """The file CRC covers every byte of the file except the crc32 field."""
    return crc32(blob[CRC_OFFSET + 4:], crc32(blob[:CRC_OFFSET]))


# ------------------------------------------------------------------ protocol
PROTOCOL_VERSION = 1
FIRMWARE_VERSION = 1
FRAME_DELIMITER = 0x00      # frames are COBS-encoded and end with one 0x00
# Decoded frame: header, payload, crc32 over header+payload.
FRAME_HEADER = struct.Struct("<BBBB")        # cmd, seq, status, flags(0)
FRAME_HEADER_FIELDS = ("cmd", "seq", "status", "flags")
FRAME_CRC = struct.Struct("<I")
FRAME_CRC_SIZE = FRAME_CRC.size                # the crc32 after header+payload
FRAME_OVERHEAD = FRAME_HEADER.size + FRAME_CRC_SIZE
MIN_PAYLOAD = 64            # every board accepts data frames of at least this many payload bytes
RESPONSE_BIT = 0x80         # response cmd = request cmd | RESPONSE_BIT
NAK = 0xFF                  # the device's answer to a frame it could not decode
FRAME_TIMEOUT_MS = 200      # the device drops a partial frame after this long without a byte

COMMANDS = {
    "INFO": 0x01,         # -> INFO_RESPONSE + board name
    "LOAD_BEGIN": 0x02,   # LOAD_BEGIN -> (empty)
    "LOAD_CHUNK": 0x03,   # LOAD_CHUNK + data -> (empty)
    "LOAD_COMMIT": 0x04,  # (empty) -> LOAD_COMMIT_RESPONSE
    "RUN": 0x05,          # RUN + input -> RUN_RESPONSE + output
    "RESET": 0x06,        # (empty) -> (empty): drop any upload in progress
    "MODEL_INFO": 0x07,   # MODEL_INFO -> MODEL_INFO_RESPONSE
    "TRAIN": 0x08,        # train-mode BN on the device, in phases (TRAIN_* structs below)
    "STATS": 0x09,        # STATS -> STATS_RESPONSE + running statistics
    "FREEZE": 0x0A,       # FREEZE -> FREEZE_RESPONSE: fold them into the active f32 layer
    "USER": 0x0B,         # a user's own BN function in a harness firmware (USER_* structs below)
}

INFO_RESPONSE = struct.Struct("<HHIIIBBHBBH")
INFO_FIELDS = ("protocol_version", "firmware_version", "max_payload", "max_model",
               "counter_hz", "dtype_mask", "layout_mask", "op_mask",
               "counter_kind", "name_length", "capabilities")   # then name_length bytes of name
# INFO capabilities: what the image was built with (build switches, docs/runtime.md).
CAPABILITIES = {"train": 0x0001,        # TRAIN, STATS, FREEZE (on-device train-mode BN)
                "boot_model": 0x0002}   # a model linked into flash is active after reset
COUNTER_KINDS = {"none": 0, "cycles": 1, "instructions": 2, "time": 3}   # time: wall clock at counter_hz
# INFO masks: bit (1 << id) set for every supported DTYPES / LAYOUTS / OPS id.
DTYPE_MASK_ALL = sum(1 << i for i in DTYPES.values())
LAYOUT_MASK_ALL = sum(1 << i for i in LAYOUTS.values())
OP_MASK_ALL = sum(1 << i for i in OPS.values())
LOAD_BEGIN = struct.Struct("<II")             # total_size, crc32 of the whole blob (spec.crc32(blob))
LOAD_CHUNK = struct.Struct("<I")              # offset, then the bytes
LOAD_COMMIT_RESPONSE = struct.Struct("<IH2x")  # model crc32, layer_count
RUN = struct.Struct("<HHIII")                 # layer, reserved(0), spatial, first, count
RUN_FIELDS = ("layer", "reserved", "spatial", "first", "count")
RUN_RESPONSE = struct.Struct("<I")            # counter ticks spent in the kernel (0: none)
MODEL_INFO = struct.Struct("<H")              # layer index
MODEL_INFO_RESPONSE = struct.Struct("<IHHBBBBI")
MODEL_INFO_FIELDS = ("crc32", "layer_count", "layer", "op", "dtype", "layout",
                     "flags", "channels")

# On-device train-mode BN (docs/protocol.md "Train-mode BN").  TRAIN
# payloads start with a phase byte; SETUP and BEGIN have their own layouts, the
# other phases share TRAIN.  DATA streams a batch twice (pass SUM, then VAR);
# APPLY streams it a third time and answers the normalized floats.
TRAIN_PHASES = {"SETUP": 0, "PARAMS": 1, "BEGIN": 2, "DATA": 3, "APPLY": 4}
TRAIN_PASSES = {"SUM": 1, "VAR": 2}
TRAIN_PASS_DONE = 3            # the device's pass once the statistics are final (APPLY allowed)
TRAIN_FLAG_CUMULATIVE = 0x01   # momentum=None: factor 1/num_batches_tracked
TRAIN_FLAG_FMA = 0x02          # torch's FMA dispatch: fused beta, output and chunk sums
TRAIN_FLAGS_KNOWN = TRAIN_FLAG_CUMULATIVE | TRAIN_FLAG_FMA
# SETUP: phase, flags, reserved, channels, eps, momentum, num_batches_tracked
TRAIN_SETUP = struct.Struct("<BBHIddQ")
TRAIN_SETUP_FIELDS = ("phase", "flags", "reserved", "channels", "eps", "momentum",
                      "num_batches_tracked")
# BEGIN: phase, layout, reserved, batch, spatial, chunk (values per channel per
# float partial sum; 0: every value straight into the double sum)
TRAIN_BEGIN = struct.Struct("<BBHIII")
TRAIN_BEGIN_FIELDS = ("phase", "layout", "reserved", "batch", "spatial", "chunk")
# PARAMS: first channel, count, then weight[count] bias[count] running_mean[count]
# running_var[count] float32.  DATA / APPLY: pass (DATA only), first element,
# count, then count float32 (APPLY answers count float32).
TRAIN = struct.Struct("<BBHII")
TRAIN_FIELDS = ("phase", "pass", "reserved", "first", "count")
STATS = struct.Struct("<II")                  # first channel, count
STATS_RESPONSE = struct.Struct("<QII")        # num_batches_tracked, first, count;
STATS_RESPONSE_FIELDS = ("num_batches_tracked", "first", "count")  # then running_mean[count], running_var[count]
FREEZE = struct.Struct("<H")                  # layer index
FREEZE_RESPONSE = struct.Struct("<I")         # the model's new crc32
# Structs and constants only the C firmware needs (render.py emits them to the
# C header, not to the MicroPython constants).
C_STRUCTS = [("TRAIN_SETUP", TRAIN_SETUP, TRAIN_SETUP_FIELDS),
             ("TRAIN_BEGIN", TRAIN_BEGIN, TRAIN_BEGIN_FIELDS),
             ("TRAIN", TRAIN, TRAIN_FIELDS),
             ("STATS", STATS, ("first", "count")),
             ("STATS_RESPONSE", STATS_RESPONSE, STATS_RESPONSE_FIELDS),
             ("FREEZE", FREEZE, ("layer",)),
             ("FREEZE_RESPONSE", FREEZE_RESPONSE, ("crc32",))]
C_CONSTANTS = {**{f"TRAIN_PHASE_{k}": v for k, v in TRAIN_PHASES.items()},
               **{f"TRAIN_PASS_{k}": v for k, v in TRAIN_PASSES.items()},
               "TRAIN_FLAG_CUMULATIVE": TRAIN_FLAG_CUMULATIVE, "TRAIN_FLAG_FMA": TRAIN_FLAG_FMA,
               "TRAIN_PASS_DONE": TRAIN_PASS_DONE, "TRAIN_FLAGS_KNOWN": TRAIN_FLAGS_KNOWN}

# A user's own BN function (firmware/include/bnrt_user.h) in a harness image
# (`toolkit verify --kernel`, docs/verify-your-code.md).  USER payloads start
# with a phase byte.  SETUP announces one layer (which tensors it has, its
# channels and eps) and answers the harness's capacity; PARAM sends a range of
# one tensor as float32; DATA fills the input buffer (float32, NCHW); CALL runs
# the user's function once on the first batch*channels*spatial inputs into the
# output buffer; READ answers a range of the output buffer.
USER_PHASES = {"SETUP": 0, "PARAM": 1, "DATA": 2, "CALL": 3, "READ": 4, "QUANT": 5}
USER_TENSORS = {"weight": 0, "bias": 1, "running_mean": 2, "running_var": 3}   # bit (1 << id) in flags
# SETUP: phase, flags (tensors present), dtype (DTYPES: f32 or s8, the
# function's signature), reserved, channels, eps
USER_SETUP = struct.Struct("<BBBBIf")
USER_SETUP_FIELDS = ("phase", "flags", "dtype", "reserved", "channels", "eps")
USER_SETUP_RESPONSE = struct.Struct("<II")    # max_channels, max_elements (per buffer)
USER_SETUP_RESPONSE_FIELDS = ("max_channels", "max_elements")
# QUANT (s8 only, after SETUP): phase, reserved, reserved, in_scale, in_zero_point,
# out_scale, out_zero_point (bnrt_user_bn_s8_t)
USER_QUANT = struct.Struct("<BBHfifi")
USER_QUANT_FIELDS = ("phase", "reserved", "reserved2", "in_scale", "in_zero_point", "out_scale",
                     "out_zero_point")
# PARAM / DATA / READ: phase, tensor (PARAM only), reserved, first, count, then
# count float32 (PARAM) or count elements of the layer's dtype (DATA); READ
# answers count elements.
USER = struct.Struct("<BBHII")
USER_FIELDS = ("phase", "tensor", "reserved", "first", "count")
# CALL: phase, reserved, layer (the BN layer's index in the model: a probe
# application picks the function it registered for it), batch, spatial
USER_CALL = struct.Struct("<BBHII")
USER_CALL_FIELDS = ("phase", "reserved", "layer", "batch", "spatial")
USER_CALL_RESPONSE = struct.Struct("<I")      # counter ticks spent in the user's function
C_STRUCTS += [("USER_SETUP", USER_SETUP, USER_SETUP_FIELDS),
              ("USER_SETUP_RESPONSE", USER_SETUP_RESPONSE, USER_SETUP_RESPONSE_FIELDS),
              ("USER_QUANT", USER_QUANT, USER_QUANT_FIELDS),
              ("USER", USER, USER_FIELDS),
              ("USER_CALL", USER_CALL, USER_CALL_FIELDS),
              ("USER_CALL_RESPONSE", USER_CALL_RESPONSE, ("ticks",))]
C_CONSTANTS.update({f"USER_PHASE_{k}": v for k, v in USER_PHASES.items()})
C_CONSTANTS.update({f"USER_TENSOR_{k.upper()}": v for k, v in USER_TENSORS.items()})

# ------------------------------------------------------------ status codes
# One list for the C runtime, the firmware and the host: (NAME, message, fix).
STATUSES = [
    ("OK", "ok", ""),
    ("ERR_ARG", "invalid argument", "check the call's pointers and sizes"),
    ("ERR_MAGIC", "not a .bnm model file (bad magic)", "export the model with `toolkit export`"),
    ("ERR_VERSION", "unsupported model format version", "re-export with this toolkit version"),
    ("ERR_TRUNCATED", "model file is truncated", "copy or upload the whole file again"),
    ("ERR_SIZE", "model size field does not match the data", "re-export the model"),
    ("ERR_CRC", "model CRC mismatch: the file is corrupted", "copy or upload the file again"),
    ("ERR_HEADER", "invalid field in the model header", "re-export the model"),
    ("ERR_BOUNDS", "an offset or length points outside the model", "re-export the model"),
    ("ERR_ALIGN", "misaligned tensor or buffer", "place the model on an 8-byte boundary"),
    ("ERR_OP", "unknown operation kind", "update the firmware or re-export"),
    ("ERR_DTYPE", "unknown or unsupported dtype", "use f32, s16 or s8"),
    ("ERR_LAYOUT", "unknown layout", "use nchw or nhwc"),
    ("ERR_CHANNELS", "invalid channel count", "re-export the model"),
    ("ERR_QUANT", "quantization parameter out of range", "re-export with other calibration data"),
    ("ERR_STRINGS", "invalid strings section", "re-export the model"),
    ("ERR_LAYER", "layer index out of range", "use a layer index below the layer count"),
    ("ERR_SHAPE", "tensor shape does not fit the layer", "send whole channels and matching sizes"),
    ("ERR_NO_MODEL", "no model is loaded", "upload a model first (`toolkit flash`)"),
    ("ERR_FRAME_CRC", "frame CRC mismatch", "retry; check the serial link"),
    ("ERR_FRAME_SIZE", "frame larger than the board accepts", "send smaller frames"),
    ("ERR_FRAME_FORMAT", "malformed frame", "retry; check the serial link"),
    ("ERR_COMMAND", "unknown command", "update the firmware"),
    ("ERR_LOAD_STATE", "no upload in progress", "start with LOAD_BEGIN"),
    ("ERR_LOAD_RANGE", "upload chunk outside the announced size or out of order",
     "resend from the last acknowledged offset"),
    ("ERR_TOO_LARGE", "model larger than the board's model slot", "use fewer layers or a board with more RAM"),
    ("ERR_INCOMPLETE", "upload is missing bytes", "send every chunk before LOAD_COMMIT"),
    ("ERR_BATCH", "train-mode BN needs more than one value per channel", "send a larger batch"),
    ("ERR_UNSUPPORTED", "not supported by this firmware build", "use a dtype, op or command the board lists in INFO"),
    ("ERR_TRAIN_STATE", "train-mode request out of order",
     "send TRAIN SETUP, then BEGIN, then the DATA passes in order"),
    ("ERR_NONFINITE", "an f32 parameter is NaN or infinite", "re-export from a model with finite parameters"),
    ("ERR_OVERLAP", "two layers' parameter blocks overlap", "re-export the model"),
]
STATUS = {name: code for code, (name, _, _) in enumerate(STATUSES)}


def status_name(code: int) -> str:
    return STATUSES[code][0] if 0 <= code < len(STATUSES) else f"STATUS_{code}"


def status_message(code: int) -> str:
    if 0 <= code < len(STATUSES):
        _, msg, fix = STATUSES[code]
        return f"{msg} ({STATUSES[code][0]}); {fix}" if fix else msg
    return f"unknown status {code}"
