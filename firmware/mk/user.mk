# Harness images around a user's own BN function (`toolkit verify --kernel`,
# docs/verify-your-code.md): the normal firmware plus the USER command
# (src/user/) and the user's file.  Default images never contain them.
#
#   make user-sim USER_ENTRY=entry.c USER_OUT=DIR [USER_CFLAGS=...]
#        -> DIR/bnrt-user-sim (host simulator)
#   make user-board BOARD=qemu-... USER_ENTRY=entry.c USER_OUT=DIR [USER_CFLAGS=...]
#        [USER_CHANNELS=N USER_ELEMENTS=N] -> DIR/firmware.elf
#   make user-app BOARD=qemu-... APP_SRCS="main.c ..." USER_OUT=DIR [USER_CFLAGS=...]
#        -> DIR/firmware.elf: your application with the probe library
#        (include/bnrt_probe.h); its bnrt_cmd_poll() loop answers the protocol
#        and the USER command
#
# USER_ENTRY is a file the toolkit writes: it #includes the user's source and
# defines `bnrt_user_entry_f32 = NAME`, so a wrong signature fails to compile.
# The user's code is compiled with its own flags: no -Werror, -ffp-contract=off
# by default (USER_CFLAGS come last and may override it).
USER_HARNESS_SRCS := $(FW_DIR)/src/user/cmd_user.c
USER_CFLAGS ?=
USER_CODE_FLAGS = -O2 -g -ffp-contract=off -Werror=incompatible-pointer-types \
    -Werror=implicit-function-declaration -I$(FW_DIR)/include $(USER_CFLAGS)
user_defs = -DBNRT_USER_HARNESS=1 -I$(FW_DIR)/src/user -DBNRT_USER_CHANNELS=$(1)u -DBNRT_USER_ELEMENTS=$(2)u

.PHONY: user-sim user-board
user_need = $(if $(USER_ENTRY),,$(error set USER_ENTRY=entry.c))$(if $(USER_OUT),,$(error set USER_OUT=DIR))

# ---- host simulator
USER_SIM_OBJDIR := $(BUILD)/user/host/obj
USER_SIM_SRCS = $(abspath $(CORE_SRCS) $(LOOP_SRCS) $(SIM_SRCS) $(USER_HARNESS_SRCS))
USER_SIM_OBJS = $(patsubst $(FW_DIR)/%.c,$(USER_SIM_OBJDIR)/%.o,$(USER_SIM_SRCS))

user-sim: $(USER_OUT)/bnrt-user-sim

$(USER_SIM_OBJDIR)/%.o: $(FW_DIR)/%.c $(FW_DIR)/mk/user.mk $(FW_DIR)/mk/sim.mk
	@mkdir -p $(@D)
	@$(SIM_CC) $(SIM_CFLAGS) $(CORE_CFLAGS) $(call user_defs,65536,1048576) -MMD -MP -c $< -o $@

ifneq ($(filter user-sim,$(MAKECMDGOALS)),)
$(user_need)
$(USER_OUT)/entry.o: $(USER_ENTRY)
	@mkdir -p $(@D)
	@$(SIM_CC) $(SIM_FMA) $(USER_CODE_FLAGS) -MMD -MP -c $< -o $@

$(USER_OUT)/bnrt-user-sim: $(USER_SIM_OBJS) $(USER_OUT)/entry.o
	@$(SIM_CC) -o $@.tmp $^ -lm && mv -f $@.tmp $@

-include $(USER_OUT)/entry.d
-include $(shell find $(USER_SIM_OBJDIR) -name '*.d' 2>/dev/null)
endif

# ---- Cortex-M boards (variables from mk/arm.mk)
ifneq ($(filter user-board,$(MAKECMDGOALS)),)
USER_CHANNELS ?= 1024
USER_ELEMENTS ?= 65536
USER_ARM_OBJDIR := $(BUILD)/user/$(BOARD)/obj-$(USER_CHANNELS)-$(USER_ELEMENTS)
USER_ARM_SRCS = $(ARM_SRCS) $(USER_HARNESS_SRCS)
USER_ARM_OBJS = $(patsubst $(ARM_ROOT)/%.c,$(USER_ARM_OBJDIR)/%.o,$(USER_ARM_SRCS)) $(ARM_BOARD_OBJ)
USER_ARM_LDFLAGS = $(subst $(ARM_OUT)/firmware.map,$(USER_OUT)/firmware.map,$(ARM_LDFLAGS))

$(if $(BOARD),,$(error set BOARD, a Cortex-M board: $(strip $(ARM_ALL_BOARDS))))
$(user_need)
user-board: $(USER_OUT)/firmware.elf

$(USER_ARM_OBJDIR)/%.o: $(ARM_ROOT)/%.c $(ARM_CONFIG) $(FW_DIR)/mk/user.mk
	@mkdir -p $(@D)
	@$(ARM_CC) $(ARM_CFLAGS) $(call arm_opt,$<) $(call user_defs,$(USER_CHANNELS),$(USER_ELEMENTS)) \
	    -MMD -MP -c $< -o $@

$(USER_OUT)/entry.o: $(USER_ENTRY)
	@mkdir -p $(@D)
	@$(ARM_CC) $(ARM_ARCH_FLAGS) -ffunction-sections -fdata-sections $(USER_CODE_FLAGS) -MMD -MP -c $< -o $@

$(USER_OUT)/firmware.elf: $(USER_ARM_OBJS) $(USER_OUT)/entry.o $(ARM_OUT)/memory.ld
	@$(ARM_CC) $(USER_ARM_LDFLAGS) $(USER_ARM_OBJS) $(USER_OUT)/entry.o -lm -o $@.tmp \
	    > $(USER_OUT)/memory-usage.txt && mv -f $@.tmp $@

-include $(USER_OUT)/entry.d
-include $(shell find $(USER_ARM_OBJDIR) -name '*.d' 2>/dev/null)
endif

# ---- an application with the probe library (Cortex-M boards)
ifneq ($(filter user-app,$(MAKECMDGOALS)),)
USER_CHANNELS ?= 1024
USER_ELEMENTS ?= 65536
PROBE_OBJDIR := $(BUILD)/user/$(BOARD)/probe-$(USER_CHANNELS)-$(USER_ELEMENTS)
PROBE_SRCS = $(ARM_SRCS) $(USER_HARNESS_SRCS) $(FW_DIR)/src/user/probe.c
PROBE_OBJS = $(patsubst $(ARM_ROOT)/%.c,$(PROBE_OBJDIR)/%.o,$(PROBE_SRCS)) $(ARM_BOARD_OBJ)
APP_OBJS = $(foreach s,$(APP_SRCS),$(USER_OUT)/app/$(basename $(notdir $(s))).o)
PROBE_LDFLAGS = $(subst $(ARM_OUT)/firmware.map,$(USER_OUT)/firmware.map,$(ARM_LDFLAGS))

$(if $(BOARD),,$(error set BOARD, a Cortex-M board: $(strip $(ARM_ALL_BOARDS))))
$(if $(APP_SRCS),,$(error set APP_SRCS="main.c ..."))$(if $(USER_OUT),,$(error set USER_OUT=DIR))
user-app: $(USER_OUT)/firmware.elf

$(PROBE_OBJDIR)/%.o: $(ARM_ROOT)/%.c $(ARM_CONFIG) $(FW_DIR)/mk/user.mk
	@mkdir -p $(@D)
	@$(ARM_CC) $(ARM_CFLAGS) $(call arm_opt,$<) $(call user_defs,$(USER_CHANNELS),$(USER_ELEMENTS)) \
	    -DBNRT_USER_PROBE=1 -MMD -MP -c $< -o $@

# The application sees the image's configuration (BNRT_DEFS, ARM_DEFS): the
# layout of the bnrt_server_t it keeps must match the library's.
define app_rule
$(USER_OUT)/app/$(basename $(notdir $(1))).o: $(1) $(ARM_CONFIG) $(FW_DIR)/mk/user.mk
	@mkdir -p $$(@D)
	@$(ARM_CC) $(ARM_ARCH_FLAGS) -ffunction-sections -fdata-sections $(BNRT_DEFS) $(ARM_DEFS) \
	    $(USER_CODE_FLAGS) -MMD -MP -c $$< -o $$@
endef
$(foreach s,$(APP_SRCS),$(eval $(call app_rule,$(s))))

$(USER_OUT)/firmware.elf: $(PROBE_OBJS) $(APP_OBJS) $(ARM_OUT)/memory.ld
	@$(ARM_CC) $(PROBE_LDFLAGS) $(PROBE_OBJS) $(APP_OBJS) -lm -o $@.tmp \
	    > $(USER_OUT)/memory-usage.txt && mv -f $@.tmp $@

-include $(shell find $(PROBE_OBJDIR) $(USER_OUT)/app -name '*.d' 2>/dev/null)
endif
