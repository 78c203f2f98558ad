/* STM32F4 clock-enable and pin-mux registers the board files use
 * (RM0090 / RM0390).  QEMU does not model them; writes there are ignored. */
#ifndef BNRT_STM32F4_H
#define BNRT_STM32F4_H

#include <stdint.h>

#include "cortex_m.h"

#define RCC_AHB1ENR CM_REG(0x40023830u)
#define RCC_APB1ENR CM_REG(0x40023840u)
#define RCC_APB2ENR CM_REG(0x40023844u)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define RCC_APB2ENR_USART1EN (1u << 4)

#define GPIOA_BASE 0x40020000u
#define GPIO_MODER(base) CM_REG((base) + 0x00u)
#define GPIO_AFR(base, pin) CM_REG((base) + 0x20u + 4u * ((pin) / 8u))

/* Put `pin` of the GPIO port at `base` in alternate function `af`. */
static inline void stm32_pin_af(uint32_t base, uint32_t pin, uint32_t af)
{
    uint32_t shift = (pin % 8u) * 4u;

    GPIO_AFR(base, pin) = (GPIO_AFR(base, pin) & ~(0xFu << shift)) | (af << shift);
    GPIO_MODER(base) = (GPIO_MODER(base) & ~(3u << (2u * pin))) | (2u << (2u * pin));
}

#endif /* BNRT_STM32F4_H */
