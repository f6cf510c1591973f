/*
 * Bundle-walk test firmware: reads the container bundle in place from flash at the partition
 * address (0x30000 on the LM3S6965), with the same bundle.c the tiny Zephyr firmware uses, and
 * prints one line per entry over UART0:
 *
 *   OCRE-BUNDLE at 0x00030000 size 65536
 *   bundle ok count=2 size=20452 crc=7c6034d8
 *   entry hello size=20214 sha256=1598f0...0f0c ok
 *   OCRE-BUNDLE done rc=0
 *
 * A refused bundle prints "bundle refused: <reason>" and exits with status 1; a SHA-256 mismatch
 * prints "... MISMATCH" and exits with 2. The QEMU exit status is this status (semihosting).
 */
#include <stdint.h>

#include "bundle.h"
#include "hw.h"
#include "sha256.h"

extern const uint8_t __bundle_start[];
extern const uint8_t __bundle_size[]; /* a linker symbol whose address is the size */

int main(void)
{
    struct ocre_bundle b;
    struct ocre_bundle_entry e;
    enum ocre_bundle_status st;
    uint32_t size = (uint32_t)(uintptr_t)__bundle_size, i;
    int rc = 0;

    uart_init();
    uart_puts("OCRE-BUNDLE at 0x");
    uart_put_hex8((uint8_t)((uintptr_t)__bundle_start >> 24));
    uart_put_hex8((uint8_t)((uintptr_t)__bundle_start >> 16));
    uart_put_hex8((uint8_t)((uintptr_t)__bundle_start >> 8));
    uart_put_hex8((uint8_t)(uintptr_t)__bundle_start);
    uart_puts(" size ");
    uart_put_u32(size);
    uart_puts("\n");

    st = ocre_bundle_open(&b, __bundle_start, size);
    if (st != OCRE_BUNDLE_OK) {
        uart_puts("bundle refused: ");
        uart_puts(ocre_bundle_strerror(st));
        uart_puts("\nOCRE-BUNDLE done rc=1\n");
        return 1;
    }
    uart_puts("bundle ok count=");
    uart_put_u32(b.count);
    uart_puts(" size=");
    uart_put_u32(b.total_size);
    uart_puts(" crc=");
    for (i = 0; i < 4; i++) {
        uart_put_hex8((uint8_t)(b.crc32 >> (24 - 8 * i)));
    }
    uart_puts("\n");
    for (i = 0; i < b.count; i++) {
        st = ocre_bundle_entry(&b, i, &e);
        if (st != OCRE_BUNDLE_OK) {
            uart_puts("entry refused: ");
            uart_puts(ocre_bundle_strerror(st));
            uart_puts("\nOCRE-BUNDLE done rc=1\n");
            return 1;
        }
        uart_puts("entry ");
        uart_puts(e.name);
        uart_puts(" size=");
        uart_put_u32(e.module_size);
        uart_puts(" sha256=");
        for (int k = 0; k < 32; k++) {
            uart_put_hex8(e.sha256[k]);
        }
        if (ocre_bundle_verify_entry(&e, ocre_sha256) == OCRE_BUNDLE_OK) {
            uart_puts(" ok\n");
        } else {
            uart_puts(" MISMATCH\n");
            rc = 2;
        }
    }
    uart_puts("OCRE-BUNDLE done rc=");
    uart_put_u32((uint32_t)rc);
    uart_puts("\n");
    return rc;
}
