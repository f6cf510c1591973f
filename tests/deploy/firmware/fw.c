/* Bare-metal Cortex-M test firmware for `ocre zephyr run` on QEMU (mps2-an385, lm3s6965evb).
 *
 * Prints a banner on UART0, then reads back a blob that QEMU's loader device placed at BLOB_ADDR
 * (the way `run --storage` preloads a storage partition): magic "TBLB" (a test blob, not the tiny
 * bundle's "OCRB"), little-endian u32 length, then the text, which it echoes. Without HANG it ends
 * QEMU through semihosting SYS_EXIT_EXTENDED with status 0 (blob found) or 3 (no blob); with HANG it
 * spins forever (timeout tests).
 */
#include <stdint.h>

#define REG(a) (*(volatile uint32_t *)(a))

#if defined(MACHINE_MPS2)
/* CMSDK APB UART0: DATA +0, STATE +4 (bit0 TX full), CTRL +8 (bit0 TX enable), BAUDDIV +0x10. */
#define UART 0x40004000u
static void uart_init(void) { REG(UART + 0x10) = 16; REG(UART + 0x8) = 1; }
static void uart_putc(char c) { while (REG(UART + 0x4) & 1u) {} REG(UART) = (uint32_t)c; }
#define MACHINE_NAME "mps2-an385"
#else
/* Stellaris LM3S6965 UART0: DR +0, FR +0x18 (TXFF bit 5). */
#define UART 0x4000C000u
static void uart_init(void) {}
static void uart_putc(char c) { while (REG(UART + 0x18) & (1u << 5)) {} REG(UART) = (uint32_t)c; }
#define MACHINE_NAME "lm3s6965evb"
#endif

static void puts_(const char *s) { while (*s) { if (*s == '\n') uart_putc('\r'); uart_putc(*s++); } }

static void put_hex(uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 28; i >= 0; i -= 4) uart_putc(digits[(v >> i) & 0xfu]);
}

static void semihost_exit(uint32_t code) {
    volatile uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, code};
    register uint32_t r0 __asm__("r0") = 0x20u; /* SYS_EXIT_EXTENDED */
    register uint32_t r1 __asm__("r1") = (uint32_t)block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}

void reset_handler(void) {
    uart_init();
    puts_("boot " MACHINE_NAME "\n");
    const volatile uint8_t *blob = (const volatile uint8_t *)BLOB_ADDR;
    uint32_t code = 3;
    if (blob[0] == 'T' && blob[1] == 'B' && blob[2] == 'L' && blob[3] == 'B') {
        uint32_t len = blob[4] | (blob[5] << 8) | (blob[6] << 16) | ((uint32_t)blob[7] << 24);
        uint32_t sum = 0;
        puts_("blob: ");
        for (uint32_t i = 0; i < len && i < 4096; i++) { uart_putc((char)blob[8 + i]); sum += blob[8 + i]; }
        puts_("\nsum: ");
        put_hex(sum);
        puts_("\n");
        code = 0;
    } else {
        puts_("no blob\n");
    }
#ifdef HANG
    puts_("hanging\n");
    for (;;) {}
#endif
    puts_("done\n");
    semihost_exit(code);
    for (;;) {}
}

extern uint32_t _stack_top;
__attribute__((section(".vectors"), used)) const void *vectors[] = {&_stack_top, (void *)reset_handler};
