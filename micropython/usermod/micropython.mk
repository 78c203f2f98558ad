# Make-based ports (unix, esp8266, stm32 ...):
#   make -C ports/unix USER_C_MODULES=/path/to/this/repo/micropython/usermod
# Compiles the runtime core (the same sources as firmware/mk/core.mk) with its
# arithmetic contract: no FMA contraction, no strict aliasing.
BNRT_USERMOD_DIR := $(USERMOD_DIR)
BNRT_FW_DIR := $(BNRT_USERMOD_DIR)/../../firmware

SRC_USERMOD_C += $(BNRT_USERMOD_DIR)/bnrt_usermod.c
SRC_USERMOD_LIB_C += $(addprefix $(BNRT_FW_DIR)/src/,status.c crc32.c model.c \
    kernels/kernel_args.c kernels/bn_affine_f32.c kernels/bn_affine_s8.c kernels/bn_affine_s16.c)
CFLAGS_USERMOD += -I$(BNRT_FW_DIR)/include -I$(BNRT_FW_DIR)/src/kernels \
    -ffp-contract=off -fno-strict-aliasing
