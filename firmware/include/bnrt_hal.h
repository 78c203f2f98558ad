/* The hardware abstraction every board implements (one small .c file per
 * board or port).  The command loop (firmware/src/cmdloop.c) is the only user. */
#ifndef BNRT_HAL_H
#define BNRT_HAL_H

#include <stddef.h>
#include <stdint.h>

/* Bring up clocks, UART, FPU and counter.  Called once before anything else. */
void bnrt_hal_init(void);

/* Wait up to `timeout_ms` for one received byte.  Returns 1 and stores it in
 * `*byte`, or 0 on timeout.  Must not block longer than the timeout. */
int bnrt_hal_read_byte(uint8_t *byte, uint32_t timeout_ms);

/* Send `len` bytes; returns when they are queued or sent. */
void bnrt_hal_write(const uint8_t *data, size_t len);

/* Free-running counter for timing kernels (cycles, or retired instructions
 * under an emulator).  Return 0 forever when the board has none. */
uint32_t bnrt_hal_counter(void);

/* Milliseconds since start; wraps. */
uint32_t bnrt_hal_millis(void);

/* Static description of the board, reported by INFO. */
typedef struct {
    const char *name;     /* the board name from boards/<name>/board.toml */
    uint32_t counter_hz;  /* ticks per second of bnrt_hal_counter(), 0 if unknown */
    uint8_t counter_kind; /* BNRT_COUNTER_NONE / _CYCLES / _INSTRUCTIONS */
} bnrt_board_t;

extern const bnrt_board_t bnrt_board;

#endif /* BNRT_HAL_H */
