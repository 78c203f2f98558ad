# Cortex-M images for the boards in ../boards (kind "qemu" or "serial"); a board
# elsewhere: ARM_BOARDS_DIR=<folder holding <name>/board.toml>.
#   make -C firmware board BOARD=qemu-mps2-an386   -> $(BUILD)/<board>/firmware.elf, .bin
#   make -C firmware boards                        -> every Cortex-M board
# Board settings come from boards/<name>/board.toml (read with ports/cortex-m/toml.awk);
# sources: $(CORE_SRCS) (mk/core.mk) + $(LOOP_SRCS) (mk/sim.mk) + the port + the board file.
ARM_ROOT := $(abspath $(FW_DIR)/..)
ARM_BOARDS_DIR := $(ARM_ROOT)/boards
ARM_PORTS := $(FW_DIR)/ports
ARM_CC ?= arm-none-eabi-gcc
ARM_OBJCOPY ?= arm-none-eabi-objcopy
ARM_SIZE ?= arm-none-eabi-size
# Every board.toml whose kind is qemu or serial.
ARM_ALL_BOARDS := $(foreach t,$(sort $(wildcard $(ARM_BOARDS_DIR)/*/board.toml)),\
    $(if $(filter qemu serial,$(shell awk -v sec= -v key=kind -f $(ARM_PORTS)/cortex-m/toml.awk $(t))),\
        $(notdir $(patsubst %/,%,$(dir $(t))))))

.PHONY: board boards print-kernel-cflags
boards:
	@set -e; for b in $(ARM_ALL_BOARDS); do $(MAKE) --no-print-directory -f $(FW_DIR)/Makefile board BOARD=$$b; done

ifeq ($(BOARD),)
board:
	$(error set BOARD, one of: $(strip $(ARM_ALL_BOARDS)))
else ifneq ($(filter board print-kernel-cflags user-board user-app,$(MAKECMDGOALS)),)
# (Only when `board` is a goal: a BOARD in the environment must not break other targets.)
ARM_TOML := $(ARM_BOARDS_DIR)/$(BOARD)/board.toml
ifeq ($(wildcard $(ARM_TOML)),)
$(error no board $(BOARD): $(ARM_TOML) is missing (`toolkit boards` lists the boards))
endif
arm_toml = $(shell awk -v sec='$(1)' -v key='$(2)' -f $(ARM_PORTS)/cortex-m/toml.awk $(ARM_TOML))
ARM_KIND := $(call arm_toml,,kind)
ifeq ($(filter qemu serial,$(ARM_KIND)),)
$(error board $(BOARD) is of kind "$(ARM_KIND)"; `make board` builds kinds qemu and serial)
endif
ARM_CPU := $(call arm_toml,,cpu)
ARM_FPU := $(call arm_toml,,fpu)
ARM_FLOAT_ABI := $(call arm_toml,build,float_abi)
ARM_DRIVER := $(call arm_toml,uart,driver)
ARM_COUNTER_SOURCE := $(call arm_toml,counter,source)
ARM_COUNTER_KIND := $(shell echo '$(call arm_toml,counter,kind)' | tr a-z A-Z)
ARM_SEMIHOSTING := $(if $(filter qemu,$(ARM_KIND)),1,0)
ARM_APB_HZ := $(call arm_toml,uart,apb_hz)

ifeq ($(ARM_FPU),none)
ARM_FPU_FLAGS := -mfloat-abi=soft
ARM_HAS_FPU := 0
else
ARM_FPU_FLAGS := -mfpu=$(ARM_FPU) -mfloat-abi=$(ARM_FLOAT_ABI)
ARM_HAS_FPU := 1
endif

# Build switches: make variables (bnrt.mk) win over board.toml [build]
# dtypes / train / protocol.  bnrt.mk has already applied its defaults, so
# only a value that did not come from the command line or environment is replaced.
arm_toml_list = $(strip $(subst $(comma), ,$(subst ",,$(subst [,,$(subst ],,$(1))))))
comma := ,
space := $(subst ,, )
ARM_TOML_DTYPES := $(call arm_toml_list,$(call arm_toml,build,dtypes))
ARM_TOML_TRAIN := $(call arm_toml,build,train)
ARM_TOML_PROTOCOL := $(call arm_toml,build,protocol)
arm_bool = $(if $(filter true,$(1)),1,$(if $(filter false,$(1)),0,$(1)))
ifeq ($(filter command line environment,$(origin BNRT_DTYPES)),)
ifneq ($(ARM_TOML_DTYPES),)
BNRT_DTYPES := $(ARM_TOML_DTYPES)
endif
endif
ifeq ($(filter command line environment,$(origin BNRT_TRAIN)),)
ifneq ($(ARM_TOML_TRAIN),)
BNRT_TRAIN := $(call arm_bool,$(ARM_TOML_TRAIN))
endif
endif
ifeq ($(filter command line environment,$(origin BNRT_PROTOCOL)),)
ifneq ($(ARM_TOML_PROTOCOL),)
BNRT_PROTOCOL := $(call arm_bool,$(ARM_TOML_PROTOCOL))
endif
endif
# Re-derive sources and flags from the switches as they now stand.
include $(FW_DIR)/bnrt.mk
CORE_SRCS := $(BNRT_CORE_SRCS)
CORE_CFLAGS := $(BNRT_CFLAGS) -Wall -Wextra -Werror
ifneq ($(BNRT_PROTOCOL),1)
$(error a board image is the protocol server (BNRT_PROTOCOL=1); without it, link the runtime into your own firmware: firmware/bnrt.mk or firmware/CMakeLists.txt, examples/deploy)
endif
# A model linked into flash, active at boot (BNRT_BOOT_MODEL_C: a C file from
# `toolkit export m.bnm -o bnrt_boot_model.c`; `toolkit build --model` makes it).
BNRT_BOOT_MODEL_C ?=
# Every configuration other than the default builds into its own folder.
ARM_VARIANT := $(if $(filter-out f32 s16 s8,$(sort $(BNRT_DTYPES)))$(filter-out 3,$(words $(sort $(BNRT_DTYPES)))),-$(subst $(space),-,$(sort $(BNRT_DTYPES))))$(if $(filter 0,$(BNRT_TRAIN_ON)),-notrain)$(if $(BNRT_BOOT_MODEL_C),-model)
ARM_OUT ?= $(BUILD)/$(BOARD)$(ARM_VARIANT)
ARM_OBJDIR := $(ARM_OUT)/obj
ARM_ARCH_FLAGS := -mcpu=$(ARM_CPU) -mthumb $(ARM_FPU_FLAGS)
ARM_DEFS := -DBNRT_BOARD_NAME='"$(BOARD)"' \
    -DBNRT_CLOCK_HZ=$(call arm_toml,,clock_hz)u \
    -DBNRT_UART_BASE=$(call arm_toml,uart,base)u \
    -DBNRT_UART_IRQ=$(call arm_toml,uart,irq)u \
    -DBNRT_UART_BAUD=$(call arm_toml,uart,baud)u \
    $(if $(ARM_APB_HZ),-DBNRT_UART_APB_HZ=$(ARM_APB_HZ)u) \
    -DBNRT_IRQ_COUNT=$(call arm_toml,build,irq_count) \
    -DBNRT_HAS_FPU=$(ARM_HAS_FPU) \
    -DBNRT_COUNTER_DWT=$(if $(filter dwt,$(ARM_COUNTER_SOURCE)),1,0) \
    -DBNRT_COUNTER_HZ=$(call arm_toml,counter,hz)u \
    -DBNRT_COUNTER_KIND=BNRT_COUNTER_$(ARM_COUNTER_KIND) \
    -DBNRT_SEMIHOSTING=$(ARM_SEMIHOSTING) \
    -DBNRT_MAX_PAYLOAD=$(call arm_toml,build,max_payload)u \
    -DBNRT_MODEL_SLOT_SIZE=$(call arm_toml,build,model_slot_size)u \
    -DBNRT_WITH_BOOT_MODEL=$(if $(BNRT_BOOT_MODEL_C),1,0)
# Recursive (=): CORE_CFLAGS (mk/core.mk) carries part of the arithmetic contract.
# Kernels are built for speed (-O2: at -Os GCC spills the s8 loop counter to
# the stack, 15 instead of 7 instructions per element on the M4), the rest for size.
ARM_OPT ?= -Os
ARM_KERNEL_OPT ?= -O2
arm_opt = $(if $(findstring /src/kernels/,$(1)),$(ARM_KERNEL_OPT),$(ARM_OPT))
ARM_CFLAGS = $(ARM_ARCH_FLAGS) $(CORE_CFLAGS) -std=c99 -g -ffp-contract=off \
    -ffunction-sections -fdata-sections -Wall -Wextra -Werror \
    -I$(FW_DIR)/include -I$(ARM_PORTS)/cortex-m -I$(ARM_PORTS)/$(ARM_DRIVER) \
    -I$(ARM_BOARDS_DIR)/$(BOARD) $(ARM_DEFS)
ARM_LDFLAGS := $(ARM_ARCH_FLAGS) -specs=nano.specs -specs=nosys.specs -nostartfiles \
    -Wl,--gc-sections -Wl,-L,$(ARM_OUT) -T $(ARM_PORTS)/cortex-m/cortex-m.ld \
    -Wl,-Map,$(ARM_OUT)/firmware.map -Wl,--print-memory-usage

# Optimized kernels ([build] kernels = "<folder of src/kernels/>", e.g. "mve"):
# each file there replaces the scalar kernel of the same name (TFLM style);
# kernels without a variant stay scalar.  A mistyped folder fails the build.
ARM_KERNEL_VARIANT := $(call arm_toml,build,kernels)
ARM_KERNEL_DIR := $(abspath $(FW_DIR)/src/kernels)
ifneq ($(ARM_KERNEL_VARIANT),)
ARM_VARIANT_SRCS := $(wildcard $(ARM_KERNEL_DIR)/$(ARM_KERNEL_VARIANT)/*.c)
ifeq ($(ARM_VARIANT_SRCS),)
$(error board $(BOARD): [build] kernels = "$(ARM_KERNEL_VARIANT)" but firmware/src/kernels/$(ARM_KERNEL_VARIANT)/ has no kernels)
endif
endif
ARM_REPLACED_SRCS := $(addprefix $(ARM_KERNEL_DIR)/,$(notdir $(ARM_VARIANT_SRCS)))

ARM_PORT_SRCS := $(ARM_PORTS)/cortex-m/startup.c $(ARM_PORTS)/cortex-m/hal.c \
    $(ARM_PORTS)/$(ARM_DRIVER)/uart.c
# The board file may live outside this tree (a user's ARM_BOARDS_DIR=...): own rule.
ARM_BOARD_SRC := $(ARM_BOARDS_DIR)/$(BOARD)/board.c
ARM_BOARD_OBJ := $(ARM_OBJDIR)/boards/$(BOARD)/board.o
# Recursive (=): CORE_SRCS and LOOP_SRCS come from fragments read after this one.
ARM_SRCS = $(filter-out $(ARM_REPLACED_SRCS),$(abspath $(CORE_SRCS) $(LOOP_SRCS))) \
    $(ARM_VARIANT_SRCS) $(ARM_PORT_SRCS)
ARM_OBJS = $(patsubst $(ARM_ROOT)/%.c,$(ARM_OBJDIR)/%.o,$(ARM_SRCS)) $(ARM_BOARD_OBJ) \
    $(if $(BNRT_BOOT_MODEL_C),$(ARM_OBJDIR)/boot_model.o)
# Any change to the board, the port or this file rebuilds everything.
ARM_CONFIG := $(ARM_TOML) $(FW_DIR)/mk/arm.mk $(FW_DIR)/bnrt.mk $(ARM_PORTS)/cortex-m/cortex-m.ld

board: $(ARM_OUT)/firmware.elf $(ARM_OUT)/firmware.bin

$(ARM_OUT)/memory.ld: $(ARM_CONFIG)
	@mkdir -p $(@D)
	@printf 'MEMORY\n{\n    FLASH (rx) : ORIGIN = %s, LENGTH = %s\n    RAM (rwx) : ORIGIN = %s, LENGTH = %s\n}\n' \
	    $(call arm_toml,memory,flash_origin) $(call arm_toml,memory,flash_size) \
	    $(call arm_toml,memory,ram_origin) $(call arm_toml,memory,ram_size) > $@.tmp
	@mv $@.tmp $@

$(ARM_OBJDIR)/%.o: $(ARM_ROOT)/%.c $(ARM_CONFIG)
	@mkdir -p $(@D)
	@echo "  CC    $(BOARD)  $(patsubst $(ARM_ROOT)/%,%,$<)"
	@$(ARM_CC) $(ARM_CFLAGS) $(call arm_opt,$<) -MMD -MP -c $< -o $@

$(ARM_OBJDIR)/boot_model.o: $(BNRT_BOOT_MODEL_C) $(ARM_CONFIG)
	@mkdir -p $(@D)
	@echo "  CC    $(BOARD)  boot model $(notdir $<)"
	@$(ARM_CC) $(ARM_CFLAGS) $(ARM_OPT) -c $< -o $@
$(ARM_BOARD_OBJ): $(ARM_BOARD_SRC) $(ARM_CONFIG)
	@mkdir -p $(@D)
	@echo "  CC    $(BOARD)  board.c"
	@$(ARM_CC) $(ARM_CFLAGS) $(ARM_OPT) -MMD -MP -c $< -o $@

# The flags the kernels of this board build with (used by `toolkit bench`).
print-kernel-cflags:
	@echo $(ARM_CFLAGS) $(ARM_KERNEL_OPT)

.SECONDEXPANSION:
$(ARM_OUT)/firmware.elf: $$(ARM_OBJS) $(ARM_OUT)/memory.ld
	@echo "  LD    $(BOARD)  $(patsubst $(ARM_ROOT)/%,%,$@)"
	@$(ARM_CC) $(ARM_LDFLAGS) $(ARM_OBJS) -lm -o $@.tmp > $(ARM_OUT)/memory-usage.txt
	@mv $@.tmp $@
	@$(ARM_SIZE) $@

$(ARM_OUT)/firmware.bin: $(ARM_OUT)/firmware.elf
	@$(ARM_OBJCOPY) -O binary $< $@.tmp
	@mv $@.tmp $@

-include $(shell find $(ARM_OBJDIR) -name '*.d' 2>/dev/null)
endif
