/* Netduino Plus 2 (STM32F405): USART1 on PA9 (TX) / PA10 (RX), AF7.  The
 * same bring-up as on the chip; QEMU ignores the RCC and GPIO writes. */
#include "port.h"
#include "stm32f4.h"

void board_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* read back: the clock is on before the USART is touched */
    stm32_pin_af(GPIOA_BASE, 9u, 7u);
    stm32_pin_af(GPIOA_BASE, 10u, 7u);
}
