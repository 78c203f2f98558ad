/* Startup, UART and the bnrt HAL for the MPS2 AN386 (Cortex-M4F) in QEMU:
 * what an application brings for itself.  CMSDK APB UART0, polled. */
#include "mps2_an386.h"

#include "bnrt.h"
#if BNRT_WITH_PROTOCOL
#include "bnrt_hal.h"
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define UART_DATA REG(0x40004000u)
#define UART_STATE REG(0x40004004u)
#define UART_CTRL REG(0x40004008u)
#define UART_BAUDDIV REG(0x40004010u)
#define CLOCK_HZ 25000000u

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
int main(void);
void Reset_Handler(void);
static void halt(void);
#if BNRT_WITH_PROTOCOL
void SysTick_Handler(void);
#endif

__attribute__((section(".vectors"), used)) static const uintptr_t vectors[16] = {
    [0] = (uintptr_t)_estack,
    [1] = (uintptr_t)Reset_Handler,
    [2] = (uintptr_t)halt,
    [3] = (uintptr_t)halt,
    [4] = (uintptr_t)halt,
    [5] = (uintptr_t)halt,
    [6] = (uintptr_t)halt,
#if BNRT_WITH_PROTOCOL
    [15] = (uintptr_t)SysTick_Handler,
#endif
};

void Reset_Handler(void)
{
    uint32_t *src = _sidata, *dst = _sdata;

    while (dst < _edata)
        *dst++ = *src++;
    for (dst = _sbss; dst < _ebss; dst++)
        *dst = 0;
#if defined(__ARM_FP)
    REG(0xE000ED88u) |= 0xFu << 20; /* CPACR: CP10/CP11 full access */
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
    board_exit(main());
    halt();
}

static void halt(void)
{
    board_exit(3);
    for (;;)
        __asm__ volatile("wfi");
}

void board_exit(int code)
{
    /* SYS_EXIT_EXTENDED, ADP_Stopped_ApplicationExit: QEMU exits with `code`. */
    static uint32_t block[2];
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t *r1 __asm__("r1") = block;

    block[0] = 0x20026u;
    block[1] = (uint32_t)code;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

void board_init(void)
{
    UART_BAUDDIV = CLOCK_HZ / 115200u;
    UART_CTRL = 3u;  /* TX and RX enable */
    (void)UART_DATA; /* QEMU looks for host bytes again at once */
#if BNRT_WITH_PROTOCOL
    REG(0xE000E014u) = CLOCK_HZ / 1000u - 1u; /* SysTick: 1 ms */
    REG(0xE000E018u) = 0;
    REG(0xE000E010u) = 7u;
#endif
}

void board_write_bytes(const uint8_t *data, size_t len)
{
    while (len--) {
        while (UART_STATE & 1u)
            ;
        UART_DATA = *data++;
    }
}

void board_write(const char *text)
{
    while (*text)
        board_write_bytes((const uint8_t *)text++, 1);
}

#if BNRT_WITH_PROTOCOL
/* ---- the HAL the protocol server uses (bnrt_hal.h) */
static volatile uint32_t ticks;

void SysTick_Handler(void)
{
    ticks++;
}

const bnrt_board_t bnrt_board = {"deploy-example", 0, BNRT_COUNTER_NONE};

void bnrt_hal_init(void)
{
    board_init();
}

int bnrt_hal_read_byte(uint8_t *byte, uint32_t timeout_ms)
{
    const uint32_t start = ticks;

    do {
        if (UART_STATE & 2u) {
            *byte = (uint8_t)UART_DATA;
            return 1;
        }
    } while (ticks - start < timeout_ms);
    return 0;
}

void bnrt_hal_write(const uint8_t *data, size_t len)
{
    board_write_bytes(data, len);
}

uint32_t bnrt_hal_counter(void)
{
    return 0;
}

uint32_t bnrt_hal_millis(void)
{
    return ticks;
}
#endif
