# libFuzzer targets under AddressSanitizer + UndefinedBehaviorSanitizer
# (tests/fuzz, docs/reliability.md).  `make -C firmware fuzz` builds
#   $(BUILD)/fuzz/fuzz_parser   bnrt_model_load + every layer run on arbitrary bytes
#   $(BUILD)/fuzz/fuzz_cmdloop  frame assembler + command handler on arbitrary bytes
# scripts/fuzz.sh [SECONDS] builds and runs both.  Needs clang and
# libclang-rt-14-dev (Debian).  Not part of `all`.
FUZZ_CC ?= clang
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SRC_DIR := $(abspath $(FW_DIR)/../tests/fuzz)
FUZZ_BASE := -std=c99 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -ffp-contract=off \
             -fno-sanitize-recover=all -I$(FW_DIR)/include
# The code under test gets coverage instrumentation; the harness does not (its
# own byte loops would otherwise dominate the run time), only ASan + UBSan.
FUZZ_CFLAGS := $(FUZZ_BASE) -fsanitize=fuzzer,address,undefined
FUZZ_HARNESS_CFLAGS := $(FUZZ_BASE) -fsanitize=address,undefined
# Only the board-free sources: the fuzz targets bring their own main and HAL.
# (Deferred: mk/sim.mk, which defines LOOP_SRCS, is read after this file.)
FUZZ_CORE = $(CORE_SRCS)
FUZZ_LOOP = $(filter $(FW_DIR)/src/%,$(LOOP_SRCS))
FUZZ_DEPS = $(wildcard $(FW_DIR)/include/*.h $(FW_DIR)/src/*.h $(FW_DIR)/src/kernels/*.h) \
            $(FW_DIR)/mk/fuzz.mk

.PHONY: fuzz
fuzz: $(FUZZ_DIR)/fuzz_parser $(FUZZ_DIR)/fuzz_cmdloop

$(FUZZ_DIR)/%.o: $(FUZZ_SRC_DIR)/%.c $(FW_DIR)/mk/fuzz.mk $(wildcard $(FW_DIR)/include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_HARNESS_CFLAGS) -c -o $@ $<

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_parser: $(FUZZ_DIR)/fuzz_parser.o $$(FUZZ_CORE) $$(FUZZ_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CORE_CFLAGS) -o $@.tmp $< $(FUZZ_CORE) -lm
	@mv $@.tmp $@

$(FUZZ_DIR)/fuzz_cmdloop: $(FUZZ_DIR)/fuzz_cmdloop.o $$(FUZZ_CORE) $$(FUZZ_LOOP) $$(FUZZ_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(CORE_CFLAGS) -o $@.tmp $< $(FUZZ_CORE) $(FUZZ_LOOP) -lm
	@mv $@.tmp $@

# Source-based coverage builds of the same targets (no sanitizers): scripts/fuzz.sh
# replays the corpus through them and prints line coverage of firmware/src.
FUZZ_COV_CFLAGS := $(FUZZ_BASE) -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping

.PHONY: fuzz-cov
fuzz-cov: $(FUZZ_DIR)/cov/fuzz_parser $(FUZZ_DIR)/cov/fuzz_cmdloop

$(FUZZ_DIR)/cov/fuzz_parser: $(FUZZ_SRC_DIR)/fuzz_parser.c $$(FUZZ_CORE) $$(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) $(CORE_CFLAGS) -o $@.tmp $< $(FUZZ_CORE) -lm
	@mv $@.tmp $@

$(FUZZ_DIR)/cov/fuzz_cmdloop: $(FUZZ_SRC_DIR)/fuzz_cmdloop.c $$(FUZZ_CORE) $$(FUZZ_LOOP) $$(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) $(CORE_CFLAGS) -o $@.tmp $< $(FUZZ_CORE) $(FUZZ_LOOP) -lm
	@mv $@.tmp $@

# The sources behind each target, for scripts/fuzz.sh's coverage report.
.PHONY: fuzz-srcs
fuzz-srcs:
	@echo "parser $(FUZZ_CORE)"
	@echo "cmdloop $(FUZZ_CORE) $(FUZZ_LOOP)"
