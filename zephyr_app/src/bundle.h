/*
 * Ocre container bundle reader (format v1, docs/tiny.md).
 *
 * The tiny profile keeps its containers in a flat bundle at a fixed flash address and reads it in
 * place: no flash driver, no filesystem, no allocation. This reader is pure C99 (no Zephyr, no
 * WAMR, no libc calls) so the very same file is compiled into the Zephyr firmware, into a
 * bare-metal Cortex-M3 test firmware and into a host test program built with ASan/UBSan.
 *
 * Nothing in the bundle is trusted before ocre_bundle_open() has checked the header (magic,
 * version, sizes, bounds, alignment) and the CRC-32 over the whole bundle, and ocre_bundle_entry()
 * has checked the entry (every offset and length inside its area, strings NUL-terminated, module
 * 4-byte aligned, no overlap with another module, wasm header). The SHA-256 of a module is checked
 * separately (ocre_bundle_verify_entry) because the reader carries no hash implementation.
 */
#ifndef OCRE_BUNDLE_H
#define OCRE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCRE_BUNDLE_VERSION           1u
#define OCRE_BUNDLE_HEADER_SIZE       32u
#define OCRE_BUNDLE_ENTRY_SIZE        80u
#define OCRE_BUNDLE_ALIGN             4u
#define OCRE_BUNDLE_MAX_ENTRIES       32u
#define OCRE_BUNDLE_MAX_NAME          63u
#define OCRE_BUNDLE_MAX_STRINGS       32u
#define OCRE_BUNDLE_MAX_STRINGS_BYTES 1024u
#define OCRE_BUNDLE_FLAG_OCRE_API     0x1u
#define OCRE_BUNDLE_KNOWN_FLAGS       OCRE_BUNDLE_FLAG_OCRE_API

/* Result codes; ocre_bundle_strerror() turns them into the boot message. */
enum ocre_bundle_status {
	OCRE_BUNDLE_OK = 0,
	OCRE_BUNDLE_E_TRUNCATED, /* fewer bytes than the header, or total_size past the partition */
	OCRE_BUNDLE_E_MAGIC,     /* not "OCRB": empty (erased) partition or not a bundle */
	OCRE_BUNDLE_E_VERSION,   /* a format this firmware does not read */
	OCRE_BUNDLE_E_HEADER,    /* header_size, entry_size, reserved fields, alignment */
	OCRE_BUNDLE_E_COUNT,     /* too many entries, or the table does not fit */
	OCRE_BUNDLE_E_CRC,       /* CRC-32 mismatch: corrupted or half-written */
	OCRE_BUNDLE_E_INDEX,     /* entry index out of range */
	OCRE_BUNDLE_E_NAME,      /* name bounds, NUL, characters, duplicate */
	OCRE_BUNDLE_E_STRINGS,   /* argv/environ bounds, count, NUL layout, KEY=VALUE */
	OCRE_BUNDLE_E_FLAGS,     /* unknown flag bits or non-zero reserved word */
	OCRE_BUNDLE_E_MODULE,    /* module bounds, alignment, overlap, wasm header */
	OCRE_BUNDLE_E_SHA256     /* module bytes do not match the recorded SHA-256 */
};

/* An opened bundle: a view of the bytes, never a copy. */
struct ocre_bundle {
	const uint8_t *base;
	uint32_t total_size;
	uint32_t count;
	uint32_t data_offset;
	uint32_t crc32;
};

/* One validated entry. Pointers point into the bundle; strings are NUL-terminated there. */
struct ocre_bundle_entry {
	const char *name;
	uint32_t name_len;
	const char *args; /* args_count strings back to back, each NUL-terminated (NULL if none) */
	uint32_t args_len;
	uint32_t args_count;
	const char *env; /* env_count KEY=VALUE strings, same layout (NULL if none) */
	uint32_t env_len;
	uint32_t env_count;
	uint32_t flags;
	const uint8_t *module; /* 4-byte aligned inside the bundle */
	uint32_t module_offset;
	uint32_t module_size;
	const uint8_t *sha256; /* 32 bytes */
};

/* Check the header and the CRC of the bundle at base (avail = partition size). */
enum ocre_bundle_status ocre_bundle_open(struct ocre_bundle *b, const void *base, size_t avail);

/* Check and describe entry index (0 <= index < b->count); also checks it against entries before it
 * (unique name, no module overlap), so walking 0..count-1 in order validates the whole bundle. */
enum ocre_bundle_status ocre_bundle_entry(const struct ocre_bundle *b, uint32_t index,
					  struct ocre_bundle_entry *out);

/* SHA-256 function supplied by the caller: digest(data, len, out[32]). */
typedef void (*ocre_bundle_sha256_fn)(const uint8_t *data, size_t len, uint8_t out[32]);

/* Compare the entry's module with its recorded SHA-256 (constant time). */
enum ocre_bundle_status ocre_bundle_verify_entry(const struct ocre_bundle_entry *e,
						 ocre_bundle_sha256_fn sha256);

/* Next string of an args/env list: returns the string after s (NULL after the last); pass NULL
 * to get the first. */
const char *ocre_bundle_next_string(const char *list, uint32_t len, const char *s);

/* IEEE CRC-32 (zlib's), bitwise: no table, so it costs no flash or RAM. */
uint32_t ocre_bundle_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* A short English reason for a status, for the boot log. */
const char *ocre_bundle_strerror(enum ocre_bundle_status status);

#ifdef __cplusplus
}
#endif

#endif /* OCRE_BUNDLE_H */
