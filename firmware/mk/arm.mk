# Cortex-M images for the boards in ../boards (kind "qemu" or "serial"); a board
# elsewhere: ARM_BOARDS_DIR=<folder holding <name>/board.toml>.
#   make -C firmware board BOARD=qemu-mps2-an386   -> $(BUILD)/<board>/firmware.elf, .bin
#   make -C firmware boards                        -> every Cortex-M board
# Board settings come from board.toml through $(BUILD)/<name>/board.mk, which
# toolkit/boardschema.py generates from the validated TOML (`toolkit build` writes
# it first; here make regenerates it with $(PYTHON) when it is missing or older).
# Sources: $(CORE_SRCS) (mk/core.mk) + $(LOOP_SRCS) (mk/sim.mk) + the port + the board file.
ARM_ROOT := $(abspath $(FW_DIR)/..)
ARM_BOARDS_DIR := $(ARM_ROOT)/boards
ARM_PORTS := $(FW_DIR)/ports
ARM_CC ?= arm-none-eabi-gcc
ARM_OBJCOPY ?= arm-none-eabi-objcopy
ARM_SIZE ?= arm-none-eabi-size
PYTHON ?= python3
# Every board with a board file (the boards of kind qemu or serial).
ARM_ALL_BOARDS := $(notdir $(patsubst %/board.c,%,$(sort $(wildcard $(ARM_BOARDS_DIR)/*/board.c))))

.PHONY: board boards print-kernel-cflags
boards:
	@set -e; for b in $(ARM_ALL_BOARDS); do $(MAKE) --no-print-directory -f $(FW_DIR)/Makefile board BOARD=$$b; done

ifeq ($(BOARD),)
board:
	$(error set BOARD, one of: $(strip $(ARM_ALL_BOARDS)))
else ifneq ($(filter board print-kernel-cflags user-board user-app,$(MAKECMDGOALS)),)
# (Only when `board` is a goal: a BOARD in the environment must not break other targets.)
ARM_FRAGMENT := $(BUILD)/$(BOARD)/board.mk
# The fragment names its board.toml (BOARD_TOML), so an edit there regenerates it.
include $(ARM_FRAGMENT)
$(ARM_FRAGMENT): $(BOARD_TOML)
	@mkdir -p $(@D)
	@cd $(ARM_ROOT) && $(PYTHON) -m toolkit.boardschema $(BOARD) --boards-path $(ARM_BOARDS_DIR) -o $@
ifneq ($(BOARD_NAME),)
ifeq ($(filter qemu serial,$(BOARD_KIND)),)
$(error board $(BOARD) is of kind "$(BOARD_KIND)"; `make board` builds kinds qemu and serial)
endif
endif
ARM_KIND := $(BOARD_KIND)
ARM_CPU := $(BOARD_CPU)
ARM_FPU := $(BOARD_FPU)
ARM_FLOAT_ABI := $(BOARD_BUILD_FLOAT_ABI)
ARM_DRIVER := $(BOARD_UART_DRIVER)
ARM_COUNTER_SOURCE := $(BOARD_COUNTER_SOURCE)
ARM_COUNTER_KIND := $(shell echo '$(BOARD_COUNTER_KIND)' | tr a-z A-Z)
ARM_SEMIHOSTING := $(if $(filter qemu,$(ARM_KIND)),1,0)
ARM_APB_HZ := $(BOARD_UART_APB_HZ)

ifeq ($(ARM_FPU),none)
ARM_FPU_FLAGS := -mfloat-abi=soft
ARM_HAS_FPU := 0
else
ARM_FPU_FLAGS := -mfpu=$(ARM_FPU) -mfloat-abi=$(ARM_FLOAT_ABI)
ARM_HAS_FPU := 1
endif

# Build switches: make variables (bnrt.mk) win over board.toml [build]
# dtypes / train / protocol (BOARD_BUILD_* in the fragment).  bnrt.mk has already
# applied its defaults, so only a value that did not come from the command line
# or environment is replaced.
space := $(subst ,, )
ifeq ($(filter command line environment,$(origin BNRT_DTYPES)),)
ifneq ($(BOARD_BUILD_DTYPES),)
BNRT_DTYPES := $(BOARD_BUILD_DTYPES)
endif
endif
ifeq ($(filter command line environment,$(origin BNRT_TRAIN)),)
ifneq ($(BOARD_BUILD_TRAIN),)
BNRT_TRAIN := $(BOARD_BUILD_TRAIN)
endif
endif
ifeq ($(filter command line environment,$(origin BNRT_PROTOCOL)),)
ifneq ($(BOARD_BUILD_PROTOCOL),)
BNRT_PROTOCOL := $(BOARD_BUILD_PROTOCOL)
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
    -DBNRT_CLOCK_HZ=$(BOARD_CLOCK_HZ)u \
    -DBNRT_UART_BASE=$(BOARD_UART_BASE)u \
    -DBNRT_UART_IRQ=$(BOARD_UART_IRQ)u \
    -DBNRT_UART_BAUD=$(BOARD_UART_BAUD)u \
    $(if $(ARM_APB_HZ),-DBNRT_UART_APB_HZ=$(ARM_APB_HZ)u) \
    -DBNRT_IRQ_COUNT=$(BOARD_BUILD_IRQ_COUNT) \
    -DBNRT_HAS_FPU=$(ARM_HAS_FPU) \
    -DBNRT_COUNTER_DWT=$(if $(filter dwt,$(ARM_COUNTER_SOURCE)),1,0) \
    -DBNRT_COUNTER_HZ=$(BOARD_COUNTER_HZ)u \
    -DBNRT_COUNTER_KIND=BNRT_COUNTER_$(ARM_COUNTER_KIND) \
    -DBNRT_SEMIHOSTING=$(ARM_SEMIHOSTING) \
    -DBNRT_MAX_PAYLOAD=$(BOARD_BUILD_MAX_PAYLOAD)u \
    -DBNRT_MODEL_SLOT_SIZE=$(BOARD_BUILD_MODEL_SLOT_SIZE)u \
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
    -I$(BOARD_DIR) $(ARM_DEFS)
ARM_LDFLAGS := $(ARM_ARCH_FLAGS) -specs=nano.specs -specs=nosys.specs -nostartfiles \
    -Wl,--gc-sections -Wl,-L,$(ARM_OUT) -T $(ARM_PORTS)/cortex-m/cortex-m.ld \
    -Wl,-Map,$(ARM_OUT)/firmware.map -Wl,--print-memory-usage

# Optimized kernels ([build] kernels = "<folder of src/kernels/>", e.g. "mve"):
# each file there replaces the scalar kernel of the same name (TFLM style);
# kernels without a variant stay scalar.  A mistyped folder fails the build.
ARM_KERNEL_VARIANT := $(BOARD_BUILD_KERNELS)
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
# The board file may live outside this tree (a user's board folder): own rule.
ARM_BOARD_SRC := $(BOARD_DIR)/board.c
ARM_BOARD_OBJ := $(ARM_OBJDIR)/boards/$(BOARD)/board.o
# Recursive (=): CORE_SRCS and LOOP_SRCS come from fragments read after this one.
ARM_SRCS = $(filter-out $(ARM_REPLACED_SRCS),$(abspath $(CORE_SRCS) $(LOOP_SRCS))) \
    $(ARM_VARIANT_SRCS) $(ARM_PORT_SRCS)
# The board file comes first: a mistake there fails before anything else compiles.
ARM_OBJS = $(ARM_BOARD_OBJ) $(patsubst $(ARM_ROOT)/%.c,$(ARM_OBJDIR)/%.o,$(ARM_SRCS)) \
    $(if $(BNRT_BOOT_MODEL_C),$(ARM_OBJDIR)/boot_model.o)
# Any change to the board, the port or this file rebuilds everything.
ARM_CONFIG := $(ARM_FRAGMENT) $(FW_DIR)/mk/arm.mk $(FW_DIR)/bnrt.mk $(ARM_PORTS)/cortex-m/cortex-m.ld

board: $(ARM_OUT)/firmware.elf $(ARM_OUT)/firmware.bin

$(ARM_OUT)/memory.ld: $(ARM_CONFIG)
	@mkdir -p $(@D)
	@printf 'MEMORY\n{\n    FLASH (rx) : ORIGIN = %s, LENGTH = %s\n    RAM (rwx) : ORIGIN = %s, LENGTH = %s\n}\n' \
	    $(BOARD_MEMORY_FLASH_ORIGIN) $(BOARD_MEMORY_FLASH_SIZE) \
	    $(BOARD_MEMORY_RAM_ORIGIN) $(BOARD_MEMORY_RAM_SIZE) > $@.tmp
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
