/* Vector table and reset handler for every Armv7-M board (M3, M4F, M7). */
#include <stdint.h>

#include "bnrt_cmdloop.h"
#include "cortex_m.h"
#include "port.h"

#ifndef BNRT_IRQ_COUNT
#error "BNRT_IRQ_COUNT must come from board.toml ([build] irq_count)"
#endif

/* Linker script symbols (cortex-m.ld). */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

void Reset_Handler(void);
void SysTick_Handler(void);
static void fault_handler(void);

typedef void (*vector_t)(void);

/* Entry 0 is the initial stack pointer; unused IRQs stay 0 (never enabled). */
__attribute__((section(".vectors"), used)) const uintptr_t bnrt_vectors[16 + BNRT_IRQ_COUNT] = {
    [0] = (uintptr_t)_estack,          [1] = (uintptr_t)Reset_Handler,
    [2] = (uintptr_t)fault_handler,  /* NMI */
    [3] = (uintptr_t)fault_handler,  /* HardFault */
    [4] = (uintptr_t)fault_handler,  /* MemManage */
    [5] = (uintptr_t)fault_handler,  /* BusFault */
    [6] = (uintptr_t)fault_handler,  /* UsageFault */
    [11] = (uintptr_t)fault_handler, /* SVCall */
    [12] = (uintptr_t)fault_handler, /* DebugMonitor */
    [14] = (uintptr_t)fault_handler, /* PendSV */
    [15] = (uintptr_t)SysTick_Handler, [16 + BNRT_UART_IRQ] = (uintptr_t)bnrt_uart_isr,
};

/* A crash ends an emulator run with exit status 3 (the launcher reports it);
 * a real board halts here for the debugger. */
static void fault_handler(void)
{
    port_exit(3);
    for (;;)
        cm_wfi();
}

void Reset_Handler(void)
{
    uint32_t *src = _sidata, *dst = _sdata;

    while (dst < _edata)
        *dst++ = *src++;
    for (dst = _sbss; dst < _ebss; dst++)
        *dst = 0;
#if BNRT_HAS_FPU
    /* Before any floating-point instruction: grant access to CP10/CP11. */
    SCB_CPACR |= SCB_CPACR_CP10_CP11;
    cm_barrier();
#endif
    bnrt_main();
    port_exit(0);
    for (;;)
        cm_wfi();
}

void port_exit(int code)
{
#if BNRT_SEMIHOSTING
    /* SYS_EXIT_EXTENDED: QEMU exits with `code` (needs -semihosting). */
    static uint32_t block[2];
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t *r1 __asm__("r1") = block;

    block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)code;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
#else
    (void)code;
#endif
}
