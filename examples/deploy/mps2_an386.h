/* The little this example needs from its board (mps2_an386.c). */
#ifndef MPS2_AN386_H
#define MPS2_AN386_H

#include <stddef.h>
#include <stdint.h>

void board_init(void);
void board_write(const char *text);
void board_write_bytes(const uint8_t *data, size_t len);
void board_exit(int code); /* QEMU: ends the emulator with `code` (semihosting) */

#endif
