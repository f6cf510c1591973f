/* LM3S6965 UART0 and ARM semihosting, as QEMU's lm3s6965evb models them. */
#ifndef TEST_FW_HW_H
#define TEST_FW_HW_H

#include <stdint.h>

void uart_init(void);
void uart_putc(char c);
void uart_puts(const char *s);
void uart_put_u32(uint32_t v);
void uart_put_hex8(uint8_t v);
__attribute__((noreturn)) void semihost_exit(int status);

#endif
