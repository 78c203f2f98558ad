/* MPS3 in QEMU: clocks run from reset and the UART needs no pins. */
#include "port.h"

void board_init(void)
{
}
