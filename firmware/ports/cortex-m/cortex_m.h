/* The few Armv7-M system registers the port touches (ARMv7-M ARM, B3.2). */
#ifndef BNRT_CORTEX_M_H
#define BNRT_CORTEX_M_H

#include <stdint.h>

#define CM_REG(addr) (*(volatile uint32_t *)(addr))

#define SCB_ICSR CM_REG(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_CPACR CM_REG(0xE000ED88u)
#define SCB_CPACR_CP10_CP11 (0xFu << 20) /* full access to the FPU */

#define SYST_CSR CM_REG(0xE000E010u)
#define SYST_RVR CM_REG(0xE000E014u)
#define SYST_CVR CM_REG(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* 1: processor clock */

#define NVIC_ISER(n) CM_REG(0xE000E100u + 4u * (n))

#define DEMCR CM_REG(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL CM_REG(0xE0001000u)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CYCCNT CM_REG(0xE0001004u)
#define DWT_LAR CM_REG(0xE0001FB0u)
#define DWT_LAR_KEY 0xC5ACCE55u /* unlocks the DWT on a Cortex-M7 */

static inline void cm_irq_disable(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
}
static inline void cm_irq_enable(void)
{
    __asm__ volatile("cpsie i" ::: "memory");
}
static inline void cm_wfi(void)
{
    __asm__ volatile("wfi" ::: "memory");
}
static inline void cm_barrier(void)
{
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}
static inline void cm_nvic_enable(uint32_t irq)
{
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

#endif /* BNRT_CORTEX_M_H */
