# Runtime core: validated model parser, BN kernels, CRC-32, status names
# (docs/runtime.md).  Other fragments compile $(CORE_SRCS) with their own
# toolchain and target flags plus $(CORE_CFLAGS), which carries part of the
# arithmetic contract: -ffp-contract=off (the unfused f32 form must round
# twice) and -fno-strict-aliasing (parameters are read in place from the blob).
#
#   make lib        $(BUILD)/host/libbnrt.so for toolkit/runtime.py (ctypes)
#   make sanitize   $(BUILD)/host/bnrt_driver_san: tests/c/driver.c + core, ASan+UBSan
#   make arm-size   compile the core for Cortex-M3/M4F/M7 (-Os) and print sizes

CORE_INC := $(FW_DIR)/include
# Sources and flags follow the build switches (bnrt.mk).
CORE_SRCS := $(BNRT_CORE_SRCS)
CORE_HDRS := $(wildcard $(CORE_INC)/*.h) $(FW_DIR)/src/kernels/kernel_args.h
CORE_CFLAGS := $(BNRT_CFLAGS) -Wall -Wextra -Werror
# Extra warnings for the core's own builds (not imposed on other fragments).
CORE_STRICT := -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wcast-qual

# ---- host library (ctypes) and sanitizer driver
CORE_HOST_CC ?= gcc
# The host library is built on the machine that uses it: -O3 -march=native lets
# GCC vectorize the kernels (its -O2 cost model leaves them scalar) and turns
# fmaf into vfmadd where the CPU has FMA; elsewhere glibc's correctly rounded
# fmaf is called.  Vector FMA rounds each lane once, so both are exact; the
# tests check it.
CORE_HOST_FMA := -march=native
CORE_LIB := $(BUILD)/host/libbnrt.so
CORE_DRIVER := $(BUILD)/host/bnrt_driver_san
CORE_DRIVER_SRC := $(FW_DIR)/../tests/c/driver.c

.PHONY: lib sanitize arm-size
all: lib
lib: $(CORE_LIB)
sanitize: $(CORE_DRIVER)

# Built to a temporary name and renamed, so a concurrent loader never sees half a file.
$(CORE_LIB): $(CORE_SRCS) $(CORE_HDRS) $(FW_DIR)/mk/core.mk
	@mkdir -p $(@D)
	$(CORE_HOST_CC) $(CORE_CFLAGS) $(CORE_STRICT) -O3 -fPIC -shared $(CORE_HOST_FMA) \
	    -o $@.$$$$.tmp $(CORE_SRCS) -lm && mv -f $@.$$$$.tmp $@

$(CORE_DRIVER): $(CORE_DRIVER_SRC) $(CORE_SRCS) $(CORE_HDRS) $(FW_DIR)/mk/core.mk
	@mkdir -p $(@D)
	$(CORE_HOST_CC) $(CORE_CFLAGS) $(CORE_STRICT) -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -o $@.$$$$.tmp $(CORE_DRIVER_SRC) $(CORE_SRCS) -lm && mv -f $@.$$$$.tmp $@

# ---- Cortex-M size check (objects only: nothing is linked)
CORE_ARM_CC ?= arm-none-eabi-gcc
CORE_ARM_SIZE ?= arm-none-eabi-size
CORE_ARM_NM ?= arm-none-eabi-nm
CORE_ARM_CORES := cortex-m3 cortex-m4 cortex-m7
CORE_ARM_FLAGS_cortex-m3 := -mcpu=cortex-m3 -mfloat-abi=soft
CORE_ARM_FLAGS_cortex-m4 := -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard
CORE_ARM_FLAGS_cortex-m7 := -mcpu=cortex-m7 -mfpu=fpv5-d16 -mfloat-abi=hard
CORE_ARM_COMMON := -Os -mthumb -ffunction-sections -fdata-sections

core_arm_obj = $(BUILD)/arm-size/$(1)/$(basename $(notdir $(2))).o
define core_arm_rule
$(call core_arm_obj,$(1),$(2)): $(2) $(CORE_HDRS) $(FW_DIR)/mk/core.mk
	@mkdir -p $$(@D)
	$(CORE_ARM_CC) $(CORE_ARM_COMMON) $(CORE_ARM_FLAGS_$(1)) $(CORE_CFLAGS) $(CORE_STRICT) \
	    -c -o $$@ $$<
endef
$(foreach c,$(CORE_ARM_CORES),$(foreach s,$(CORE_SRCS),$(eval $(call core_arm_rule,$(c),$(s)))))
CORE_ARM_OBJS := $(foreach c,$(CORE_ARM_CORES),$(foreach s,$(CORE_SRCS),$(call core_arm_obj,$(c),$(s))))

# Berkeley `size` (text includes .rodata) per object and in total, per core;
# then every function and table with its size, for the breakdown in docs/runtime.md.
arm-size: $(CORE_ARM_OBJS)
	@for c in $(CORE_ARM_CORES); do \
	    echo "== $$c"; \
	    $(CORE_ARM_SIZE) -t $(foreach s,$(CORE_SRCS),$(BUILD)/arm-size/$$c/$(basename $(notdir $(s))).o); \
	    $(CORE_ARM_NM) --size-sort -S -t d $(BUILD)/arm-size/$$c/*.o | grep -v ' [Uu] '; \
	done
