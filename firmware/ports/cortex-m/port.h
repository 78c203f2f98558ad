/* Contract between the shared Cortex-M code (this folder), one UART driver
 * (firmware/ports/<driver>/) and one board file (boards/<name>/board.c).
 *
 * Board settings arrive as -D macros that firmware/mk/arm.mk takes from
 * boards/<name>/board.toml: BNRT_CLOCK_HZ, BNRT_UART_BASE, BNRT_UART_IRQ,
 * BNRT_UART_BAUD, BNRT_UART_APB_HZ (STM32), BNRT_IRQ_COUNT, BNRT_HAS_FPU,
 * BNRT_COUNTER_DWT (1: DWT CYCCNT, 0: SysTick), BNRT_SEMIHOSTING. */
#ifndef BNRT_PORT_H
#define BNRT_PORT_H

#include <stdint.h>

/* Board file: clocks and pins the UART needs, before the driver starts. */
void board_init(void);

/* UART driver.  port_uart_init() enables transmit, receive and the receive
 * interrupt (BNRT_UART_IRQ); the shared code enables the IRQ in the NVIC.
 * bnrt_uart_isr() moves received bytes into the shared ring with
 * port_rx_push() while port_rx_room() says there is room; on a full ring it
 * calls port_rx_pause() and leaves the byte in the UART, so the link's flow
 * control (QEMU) or an overrun (real hardware) decides what happens.  The
 * reader turns the interrupt back on with port_uart_rx_irq(1). */
void port_uart_init(void);
void port_uart_putc(uint8_t byte);
int port_uart_getc(uint8_t *byte); /* 1 and the byte if one waits */
void port_uart_rx_irq(int enable);
void bnrt_uart_isr(void);

/* Shared code, for the driver's interrupt handler. */
int port_rx_room(void);
void port_rx_push(uint8_t byte);
void port_rx_pause(void);

/* Semihosting exit (QEMU with -semihosting); returns if unsupported. */
void port_exit(int code);

#endif /* BNRT_PORT_H */
