# Host simulator board (boards/host-sim): the firmware's command loop on a
# pseudo-terminal or a loopback TCP socket.  `make -C firmware sim`.
#
# LOOP_SRCS is what every board build needs besides CORE_SRCS (mk/core.mk)
# and its own HAL: the command loop and the framing, plain C99, no POSIX.
# (BNRT_PROTOCOL_SRCS: bnrt.mk, with or without training.)
LOOP_SRCS := $(BNRT_PROTOCOL_SRCS)

SIM_CC ?= gcc
SIM_SRCS := $(FW_DIR)/ports/host/main.c $(FW_DIR)/ports/host/hal_host.c
# fmaf stays one fused operation either way; -mfma lets gcc inline it.
SIM_FMA := $(shell grep -qw fma /proc/cpuinfo 2>/dev/null && echo -mfma)
# The host has RAM to spare: big frames and 4 MiB model slots.
SIM_SIZES := -DBNRT_MAX_PAYLOAD=16384u -DBNRT_MODEL_SLOT_SIZE=4194304u
SIM_CFLAGS := -std=c99 -O2 -Wall -Wextra -Werror -ffp-contract=off $(SIM_FMA) $(SIM_SIZES) \
              -I$(FW_DIR)/include -I$(FW_DIR)/ports/host
SIM_BIN := $(BUILD)/host/bnrt-sim

.PHONY: sim
all: sim
sim: $(SIM_BIN)

$(SIM_BIN): $(CORE_SRCS) $(LOOP_SRCS) $(SIM_SRCS) $(wildcard $(FW_DIR)/include/*.h) \
            $(wildcard $(FW_DIR)/ports/host/*.h) $(FW_DIR)/mk/sim.mk
	@mkdir -p $(@D)
	$(SIM_CC) $(SIM_CFLAGS) $(CORE_CFLAGS) -o $@.$$$$.tmp $(CORE_SRCS) $(LOOP_SRCS) $(SIM_SRCS) -lm \
	    && mv $@.$$$$.tmp $@
