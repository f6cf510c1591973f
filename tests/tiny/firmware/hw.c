/*
 * UART0 of the LM3S6965 (a PL011): data register at 0x4000C000, flag register at +0x18 with TXFF
 * (transmit FIFO full) in bit 5. Exit through ARM semihosting SYS_EXIT_EXTENDED so QEMU returns the
 * firmware's status as its own exit code (needs -semihosting-config enable=on,target=native).
 */
#include "hw.h"

#define SYSCTL_RCGC1 (*(volatile uint32_t *)0x400FE104u)
#define UART0_DR (*(volatile uint32_t *)0x4000C000u)
#define UART0_FR (*(volatile uint32_t *)0x4000C018u)
#define UART0_CTL (*(volatile uint32_t *)0x4000C030u)
#define UART_FR_TXFF (1u << 5)

void uart_init(void)
{
    SYSCTL_RCGC1 |= 1u;                        /* clock UART0 (no-op on QEMU, needed on silicon) */
    UART0_CTL = (1u << 0) | (1u << 8) | (1u << 9); /* UARTEN, TXE, RXE */
}

void uart_putc(char c)
{
    while (UART0_FR & UART_FR_TXFF) {
    }
    UART0_DR = (uint32_t)(uint8_t)c;
}

void uart_puts(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

void uart_put_u32(uint32_t v)
{
    char buf[11];
    int i = 10;

    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    uart_puts(buf + i);
}

void uart_put_hex8(uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    uart_putc(hex[v >> 4]);
    uart_putc(hex[v & 15u]);
}

void semihost_exit(int status)
{
    /* SYS_EXIT_EXTENDED (0x20): block {ADP_Stopped_ApplicationExit, status} */
    volatile uint32_t block[2] = {0x20026u, (uint32_t)status};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}
