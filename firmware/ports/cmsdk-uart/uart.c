/* Arm CMSDK APB UART (MPS2 boards): 8N1, one-byte buffers each way. */
#include <stdint.h>

#include "cortex_m.h"
#include "port.h"

#define UART_DATA CM_REG(BNRT_UART_BASE + 0x00u)
#define UART_STATE CM_REG(BNRT_UART_BASE + 0x04u)
#define UART_CTRL CM_REG(BNRT_UART_BASE + 0x08u)
#define UART_INTCLEAR CM_REG(BNRT_UART_BASE + 0x0Cu)
#define UART_BAUDDIV CM_REG(BNRT_UART_BASE + 0x10u)

#define STATE_TXFULL (1u << 0)
#define STATE_RXFULL (1u << 1)
#define CTRL_TX_EN (1u << 0)
#define CTRL_RX_EN (1u << 1)
#define CTRL_RX_INTEN (1u << 3)
#define INT_RX (1u << 1)

void port_uart_init(void)
{
    UART_BAUDDIV = BNRT_CLOCK_HZ / BNRT_UART_BAUD; /* >= 16, or QEMU ignores it */
    UART_CTRL = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN;
    /* QEMU stops polling the host side while receive is disabled; one read
     * of DATA makes it look again now instead of about a second later. */
    (void)UART_DATA;
}

void port_uart_putc(uint8_t byte)
{
    while (UART_STATE & STATE_TXFULL)
        ;
    UART_DATA = byte;
}

int port_uart_getc(uint8_t *byte)
{
    if (!(UART_STATE & STATE_RXFULL))
        return 0;
    *byte = (uint8_t)UART_DATA;
    return 1;
}

void port_uart_rx_irq(int enable)
{
    if (enable)
        UART_CTRL |= CTRL_RX_INTEN;
    else
        UART_CTRL &= ~CTRL_RX_INTEN;
}

void bnrt_uart_isr(void)
{
    /* The RX interrupt bit is sticky: clear it before draining, so a byte
     * arriving during the drain raises it again. */
    UART_INTCLEAR = INT_RX;
    while (UART_STATE & STATE_RXFULL) {
        if (!port_rx_room()) {
            port_rx_pause(); /* leave the byte: QEMU holds back the rest */
            return;
        }
        port_rx_push((uint8_t)UART_DATA);
    }
}
