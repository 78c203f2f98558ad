/* STM32F4 USART (also QEMU's stm32f2xx-usart model): 8N1, oversampling 16.
 * QEMU drops bytes that arrive before UE and RE are set; the host retries
 * INFO until the first answer, so nothing of a frame is lost. */
#include <stdint.h>

#include "cortex_m.h"
#include "port.h"

#define USART_SR CM_REG(BNRT_UART_BASE + 0x00u)
#define USART_DR CM_REG(BNRT_UART_BASE + 0x04u)
#define USART_BRR CM_REG(BNRT_UART_BASE + 0x08u)
#define USART_CR1 CM_REG(BNRT_UART_BASE + 0x0Cu)

#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_UE (1u << 13)

void port_uart_init(void)
{
    USART_BRR = (BNRT_UART_APB_HZ + BNRT_UART_BAUD / 2u) / BNRT_UART_BAUD;
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
}

void port_uart_putc(uint8_t byte)
{
    while (!(USART_SR & SR_TXE))
        ;
    USART_DR = byte;
}

int port_uart_getc(uint8_t *byte)
{
    /* Reading SR then DR also clears an overrun (ORE). */
    if (!(USART_SR & SR_RXNE))
        return 0;
    *byte = (uint8_t)USART_DR;
    return 1;
}

void port_uart_rx_irq(int enable)
{
    if (enable)
        USART_CR1 |= CR1_RXNEIE;
    else
        USART_CR1 &= ~CR1_RXNEIE;
}

void bnrt_uart_isr(void)
{
    /* RXNE is a level interrupt: pause it when the ring is full. */
    while (USART_SR & SR_RXNE) {
        if (!port_rx_room()) {
            port_rx_pause();
            return;
        }
        port_rx_push((uint8_t)USART_DR);
    }
}
