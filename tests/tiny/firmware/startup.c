/*
 * Cortex-M3 start-up for the bundle-walk test firmware: vector table, .data/.bss set-up, a fault
 * handler that reports over UART and exits QEMU, and the few libc functions the compiler may call.
 */
#include <stddef.h>
#include <stdint.h>

#include "hw.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _stack_top;
extern int main(void);

void reset_handler(void);
void fault_handler(void);

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_stack_top,
    reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    fault_handler, /* MemManage */
    fault_handler, /* BusFault */
    fault_handler, /* UsageFault */
};

void reset_handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;

    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; dst++) {
        *dst = 0;
    }
    semihost_exit(main());
}

void fault_handler(void)
{
    uart_puts("FAULT\n");
    semihost_exit(3);
}

/* The compiler may emit calls to these even with -ffreestanding. */
void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--) {
        *dp++ = *sp++;
    }
    return d;
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *dp = d;
    while (n--) {
        *dp++ = (uint8_t)c;
    }
    return d;
}
