# The bnrt runtime for make-based projects (docs/runtime.md "Make fragment").
#
#   BNRT_DTYPES   := s8          # any of f32 s16 s8 (default: all three)
#   BNRT_TRAIN    := 0           # 1: on-device train-mode BN commands (default 1)
#   BNRT_PROTOCOL := 0           # 1: the serial protocol server (default 1)
#   include path/to/firmware/bnrt.mk
#   CFLAGS += $(BNRT_CFLAGS)     # -ffp-contract=off etc.: exactness depends on them
#   SRCS   += $(BNRT_SRCS)
#
# Defines: BNRT_SRCS (= BNRT_CORE_SRCS + BNRT_PROTOCOL_SRCS), BNRT_CFLAGS
# (include path, switch macros and the flags the arithmetic contract needs).
# With BNRT_PROTOCOL=1 the application provides the HAL (bnrt_hal.h).
# The firmware's own builds (mk/*.mk) read these same variables.
BNRT_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
BNRT_DTYPES ?= f32 s16 s8
BNRT_TRAIN ?= 1
BNRT_PROTOCOL ?= 1

ifneq ($(filter-out f32 s16 s8,$(BNRT_DTYPES)),)
$(error BNRT_DTYPES: unknown dtype "$(filter-out f32 s16 s8,$(BNRT_DTYPES))"; use f32, s16, s8)
endif
ifeq ($(strip $(BNRT_DTYPES)),)
$(error BNRT_DTYPES is empty; list at least one of f32 s16 s8)
endif
ifneq ($(filter-out 0 1,$(BNRT_TRAIN) $(BNRT_PROTOCOL)),)
$(error BNRT_TRAIN and BNRT_PROTOCOL take 0 or 1)
endif
# Training is served by the protocol: no protocol, no training.
BNRT_TRAIN_ON := $(if $(filter 1,$(BNRT_PROTOCOL)),$(BNRT_TRAIN),0)

bnrt_on = $(if $(filter $(1),$(BNRT_DTYPES)),1,0)
BNRT_CORE_SRCS := $(addprefix $(BNRT_DIR)/src/,status.c crc32.c model.c kernels/kernel_args.c \
    $(foreach d,$(filter f32 s8 s16,$(BNRT_DTYPES)),kernels/bn_affine_$(d).c))
# Training computes in f32: it brings the f32 kernel along even when models
# may not run f32 layers (BNRT_WITH_F32=0).
BNRT_PROTOCOL_SRCS := $(if $(filter 1,$(BNRT_PROTOCOL)),$(addprefix $(BNRT_DIR)/src/,cmdloop.c cobs.c \
    $(if $(filter 1,$(BNRT_TRAIN_ON)),cmd_train.c kernels/bn_train_f32.c \
        $(if $(filter f32,$(BNRT_DTYPES)),,kernels/bn_affine_f32.c))))
BNRT_SRCS := $(BNRT_CORE_SRCS) $(BNRT_PROTOCOL_SRCS)
BNRT_DEFS := -DBNRT_WITH_F32=$(call bnrt_on,f32) -DBNRT_WITH_S16=$(call bnrt_on,s16) \
    -DBNRT_WITH_S8=$(call bnrt_on,s8) -DBNRT_WITH_TRAIN=$(BNRT_TRAIN_ON) \
    -DBNRT_WITH_PROTOCOL=$(BNRT_PROTOCOL)
# -ffp-contract=off: the unfused f32 form must round twice; -fno-strict-aliasing:
# parameters are read in place from the byte blob.
BNRT_CFLAGS := -std=c99 -ffp-contract=off -fno-strict-aliasing -I$(BNRT_DIR)/include $(BNRT_DEFS)
