/* NUCLEO-F446RE: USART2 on PA2 (TX) / PA3 (RX), AF7, wired to the ST-LINK
 * virtual COM port.  The core runs on the 16 MHz HSI it starts with. */
#include "port.h"
#include "stm32f4.h"

void board_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB1ENR |= RCC_APB1ENR_USART2EN;
    (void)RCC_APB1ENR; /* read back: the clock is on before the USART is touched */
    stm32_pin_af(GPIOA_BASE, 2u, 7u);
    stm32_pin_af(GPIOA_BASE, 3u, 7u);
}
