/*
 * SHA-256 (FIPS 180-4) in plain C99, for checking bundle entries before a container is loaded.
 *
 * Small rather than fast: one 64-word schedule on the stack, no tables beyond the 64 round
 * constants, no libc. Shared by the tiny firmware and the bare-metal Cortex-M3 test firmware.
 */
#ifndef OCRE_SHA256_H
#define OCRE_SHA256_H

#include <stddef.h>
#include <stdint.h>

void ocre_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif /* OCRE_SHA256_H */
