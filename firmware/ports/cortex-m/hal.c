/* bnrt_hal.h for Armv7-M boards: interrupt-driven receive into a ring,
 * WFI while waiting (an emulator then idles instead of pinning a host core),
 * polled transmit, a 1 ms SysTick and the kernel counter. */
#include <stddef.h>
#include <stdint.h>

#include "bnrt_hal.h"
#include "bnrt_spec.h"
#include "cortex_m.h"
#include "port.h"

#ifndef BNRT_RX_RING_SIZE
#define BNRT_RX_RING_SIZE 512u
#endif
#if (BNRT_RX_RING_SIZE & (BNRT_RX_RING_SIZE - 1u)) != 0
#error "BNRT_RX_RING_SIZE must be a power of two"
#endif

#define TICKS_PER_MS (BNRT_CLOCK_HZ / 1000u)

/* Name and counter come from board.toml (name, [counter]). */
const bnrt_board_t bnrt_board = {BNRT_BOARD_NAME, BNRT_COUNTER_HZ, BNRT_COUNTER_KIND};

static volatile uint32_t tick_ms;
static volatile uint8_t ring[BNRT_RX_RING_SIZE];
static volatile uint32_t ring_head, ring_tail; /* head: ISR writes; tail: reader */
static volatile uint8_t rx_irq_off;            /* the ISR paused on a full ring */

void SysTick_Handler(void)
{
    tick_ms++;
}

int port_rx_room(void)
{
    return ring_head - ring_tail < BNRT_RX_RING_SIZE;
}

void port_rx_push(uint8_t byte)
{
    uint32_t head = ring_head;

    ring[head % BNRT_RX_RING_SIZE] = byte;
    ring_head = head + 1u;
}

void port_rx_pause(void)
{
    rx_irq_off = 1;
    port_uart_rx_irq(0);
}

static int ring_pop(uint8_t *byte)
{
    uint32_t tail = ring_tail;

    if (tail == ring_head)
        return 0;
    *byte = ring[tail % BNRT_RX_RING_SIZE];
    ring_tail = tail + 1u;
    return 1;
}

void bnrt_hal_init(void)
{
    board_init();
    SYST_RVR = TICKS_PER_MS - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
#if BNRT_COUNTER_DWT
    DWT_LAR = DWT_LAR_KEY;
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
#endif
    port_uart_init();
    cm_nvic_enable(BNRT_UART_IRQ);
    cm_irq_enable();
}

int bnrt_hal_read_byte(uint8_t *byte, uint32_t timeout_ms)
{
    uint32_t start = tick_ms;

    for (;;) {
        /* Check and sleep with interrupts masked: an interrupt that arrives
         * after the check still ends the WFI, so no wake-up is lost. */
        cm_irq_disable();
        if (ring_pop(byte) || port_uart_getc(byte)) {
            if (rx_irq_off) {
                rx_irq_off = 0;
                port_uart_rx_irq(1);
            }
            cm_irq_enable();
            return 1;
        }
        if (tick_ms - start >= timeout_ms) {
            cm_irq_enable();
            return 0;
        }
        cm_wfi();
        cm_irq_enable();
    }
}

void bnrt_hal_write(const uint8_t *data, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        port_uart_putc(data[i]);
}

uint32_t bnrt_hal_millis(void)
{
    return tick_ms;
}

#if !BNRT_COUNTER_DWT
/* Milliseconds and SysTick ticks into the current millisecond, consistent
 * even when the SysTick interrupt is pending but not yet taken. */
static void systick_now(uint32_t *ms, uint32_t *sub)
{
    uint32_t m0, m, v;

    do {
        m0 = tick_ms;
        m = m0;
        v = SYST_CVR;
        if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
            v = SYST_CVR;
            m = m0 + 1u;
        }
    } while (m0 != tick_ms);
    *ms = m;
    *sub = (TICKS_PER_MS - 1u) - v;
}
#endif

uint32_t bnrt_hal_counter(void)
{
#if BNRT_COUNTER_DWT
    return DWT_CYCCNT;
#else
    /* SysTick ticks scaled to BNRT_COUNTER_HZ (under QEMU -icount shift=0:
     * 1e9, one count per executed instruction, resolution one tick). */
    uint32_t ms, sub;

    systick_now(&ms, &sub);
    return ms * (uint32_t)(BNRT_COUNTER_HZ / 1000u)
           + (uint32_t)((uint64_t)sub * BNRT_COUNTER_HZ / BNRT_CLOCK_HZ);
#endif
}
