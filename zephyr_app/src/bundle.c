/*
 * Ocre container bundle reader, format v1 (see bundle.h and docs/tiny.md).
 *
 * Every multi-byte field is read byte by byte as little-endian, so the reader works on any host
 * endianness and never performs an unaligned load on a Cortex-M0/M3 bus. All arithmetic on
 * untrusted offsets is done so that it cannot wrap: a check is always "x <= limit - y" with
 * y <= limit already established, never "x + y <= limit".
 */
#include "bundle.h"

#define HDR_MAGIC       0u
#define HDR_VERSION     4u
#define HDR_HEADER_SIZE 6u
#define HDR_ENTRY_SIZE  8u
#define HDR_RESERVED0   10u
#define HDR_COUNT       12u
#define HDR_TOTAL       16u
#define HDR_DATA_OFFSET 20u
#define HDR_CRC         24u
#define HDR_RESERVED1   28u

#define ENT_NAME_OFF    0u
#define ENT_NAME_LEN    4u
#define ENT_ARGS_OFF    8u
#define ENT_ARGS_LEN    12u
#define ENT_ARGS_COUNT  16u
#define ENT_ENV_OFF     20u
#define ENT_ENV_LEN     24u
#define ENT_ENV_COUNT   28u
#define ENT_FLAGS       32u
#define ENT_MODULE_OFF  36u
#define ENT_MODULE_SIZE 40u
#define ENT_RESERVED    44u
#define ENT_SHA256      48u

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

uint32_t ocre_bundle_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *data++;
		for (int k = 0; k < 8; k++) {
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
		}
	}
	return ~crc;
}

enum ocre_bundle_status ocre_bundle_open(struct ocre_bundle *b, const void *base, size_t avail)
{
	static const uint8_t zero[4] = {0, 0, 0, 0};
	const uint8_t *p = (const uint8_t *)base;
	uint32_t count, total, data_off, table_end, crc;

	b->base = 0;
	b->total_size = b->count = b->data_offset = b->crc32 = 0;
	if (p == 0 || avail < OCRE_BUNDLE_HEADER_SIZE) {
		return OCRE_BUNDLE_E_TRUNCATED;
	}
	if (p[0] != 'O' || p[1] != 'C' || p[2] != 'R' || p[3] != 'B') {
		return OCRE_BUNDLE_E_MAGIC;
	}
	if (rd16(p + HDR_VERSION) != OCRE_BUNDLE_VERSION) {
		return OCRE_BUNDLE_E_VERSION;
	}
	if (rd16(p + HDR_HEADER_SIZE) != OCRE_BUNDLE_HEADER_SIZE ||
	    rd16(p + HDR_ENTRY_SIZE) != OCRE_BUNDLE_ENTRY_SIZE || rd16(p + HDR_RESERVED0) != 0 ||
	    rd32(p + HDR_RESERVED1) != 0) {
		return OCRE_BUNDLE_E_HEADER;
	}
	count = rd32(p + HDR_COUNT);
	if (count > OCRE_BUNDLE_MAX_ENTRIES) {
		return OCRE_BUNDLE_E_COUNT;
	}
	total = rd32(p + HDR_TOTAL);
	if ((size_t)total > avail || total % OCRE_BUNDLE_ALIGN != 0) {
		return OCRE_BUNDLE_E_TRUNCATED;
	}
	/* count <= 32, so this cannot overflow. */
	table_end = OCRE_BUNDLE_HEADER_SIZE + count * OCRE_BUNDLE_ENTRY_SIZE;
	data_off = rd32(p + HDR_DATA_OFFSET);
	if (data_off % OCRE_BUNDLE_ALIGN != 0 || data_off < table_end || data_off > total) {
		return OCRE_BUNDLE_E_HEADER;
	}
	crc = ocre_bundle_crc32(0, p, HDR_CRC);
	crc = ocre_bundle_crc32(crc, zero, sizeof zero);
	crc = ocre_bundle_crc32(crc, p + HDR_CRC + 4u, total - (HDR_CRC + 4u));
	if (crc != rd32(p + HDR_CRC)) {
		return OCRE_BUNDLE_E_CRC;
	}
	b->base = p;
	b->total_size = total;
	b->count = count;
	b->data_offset = data_off;
	b->crc32 = crc;
	return OCRE_BUNDLE_OK;
}

static int name_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* A range [off, off+len) inside [lo, hi) without wrapping. */
static int in_range(uint32_t off, uint32_t len, uint32_t lo, uint32_t hi)
{
	return off >= lo && off <= hi && len <= hi - off;
}

static enum ocre_bundle_status check_strings(const struct ocre_bundle *b, uint32_t off,
					     uint32_t len, uint32_t count, int is_env,
					     const char **out)
{
	uint32_t table_end = OCRE_BUNDLE_HEADER_SIZE + b->count * OCRE_BUNDLE_ENTRY_SIZE;
	uint32_t nuls = 0, i;
	const uint8_t *s;
	int at_start = 1;

	*out = 0;
	if (count > OCRE_BUNDLE_MAX_STRINGS || len > OCRE_BUNDLE_MAX_STRINGS_BYTES) {
		return OCRE_BUNDLE_E_STRINGS;
	}
	if ((count == 0) != (len == 0) || (count == 0 && off != 0)) {
		return OCRE_BUNDLE_E_STRINGS;
	}
	if (count == 0) {
		return OCRE_BUNDLE_OK;
	}
	if (!in_range(off, len, table_end, b->data_offset)) {
		return OCRE_BUNDLE_E_STRINGS;
	}
	s = b->base + off;
	if (s[len - 1] != 0) {
		return OCRE_BUNDLE_E_STRINGS;
	}
	for (i = 0; i < len; i++) {
		if (is_env && at_start && s[i] == '=') {
			return OCRE_BUNDLE_E_STRINGS; /* empty key */
		}
		if (s[i] == 0) {
			nuls++;
			at_start = 1;
			continue;
		}
		at_start = 0;
	}
	if (nuls != count) {
		return OCRE_BUNDLE_E_STRINGS;
	}
	if (is_env) {
		/* every KEY=VALUE holds an '=' */
		int seen_eq = 0;
		for (i = 0; i < len; i++) {
			if (s[i] == '=') {
				seen_eq = 1;
			} else if (s[i] == 0) {
				if (!seen_eq) {
					return OCRE_BUNDLE_E_STRINGS;
				}
				seen_eq = 0;
			}
		}
	}
	*out = (const char *)s;
	return OCRE_BUNDLE_OK;
}

/* Decode and check entry index alone (no cross-entry checks). */
static enum ocre_bundle_status decode_entry(const struct ocre_bundle *b, uint32_t index,
					    struct ocre_bundle_entry *e)
{
	static const uint8_t wasm_header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
	uint32_t table_end = OCRE_BUNDLE_HEADER_SIZE + b->count * OCRE_BUNDLE_ENTRY_SIZE;
	const uint8_t *p = b->base + OCRE_BUNDLE_HEADER_SIZE + index * OCRE_BUNDLE_ENTRY_SIZE;
	enum ocre_bundle_status st;
	uint32_t name_off = rd32(p + ENT_NAME_OFF), name_len = rd32(p + ENT_NAME_LEN), i;
	const uint8_t *name;

	/* name: name_len bytes then a NUL, all before data_offset */
	if (name_len < 1 || name_len > OCRE_BUNDLE_MAX_NAME ||
	    !in_range(name_off, name_len + 1u, table_end, b->data_offset)) {
		return OCRE_BUNDLE_E_NAME;
	}
	name = b->base + name_off;
	if (name[name_len] != 0 || name[0] == '.') {
		return OCRE_BUNDLE_E_NAME;
	}
	for (i = 0; i < name_len; i++) {
		if (!name_char_ok(name[i])) {
			return OCRE_BUNDLE_E_NAME;
		}
	}
	e->name = (const char *)name;
	e->name_len = name_len;

	e->args_len = rd32(p + ENT_ARGS_LEN);
	e->args_count = rd32(p + ENT_ARGS_COUNT);
	st = check_strings(b, rd32(p + ENT_ARGS_OFF), e->args_len, e->args_count, 0, &e->args);
	if (st != OCRE_BUNDLE_OK) {
		return st;
	}
	e->env_len = rd32(p + ENT_ENV_LEN);
	e->env_count = rd32(p + ENT_ENV_COUNT);
	st = check_strings(b, rd32(p + ENT_ENV_OFF), e->env_len, e->env_count, 1, &e->env);
	if (st != OCRE_BUNDLE_OK) {
		return st;
	}

	e->flags = rd32(p + ENT_FLAGS);
	if ((e->flags & ~OCRE_BUNDLE_KNOWN_FLAGS) != 0 || rd32(p + ENT_RESERVED) != 0) {
		return OCRE_BUNDLE_E_FLAGS;
	}

	e->module_offset = rd32(p + ENT_MODULE_OFF);
	e->module_size = rd32(p + ENT_MODULE_SIZE);
	if (e->module_offset % OCRE_BUNDLE_ALIGN != 0 || e->module_size < sizeof wasm_header ||
	    !in_range(e->module_offset, e->module_size, b->data_offset, b->total_size)) {
		return OCRE_BUNDLE_E_MODULE;
	}
	e->module = b->base + e->module_offset;
	for (i = 0; i < sizeof wasm_header; i++) {
		if (e->module[i] != wasm_header[i]) {
			return OCRE_BUNDLE_E_MODULE;
		}
	}
	e->sha256 = p + ENT_SHA256;
	return OCRE_BUNDLE_OK;
}

static int same_name(const struct ocre_bundle_entry *a, const struct ocre_bundle_entry *b)
{
	uint32_t i;

	if (a->name_len != b->name_len) {
		return 0;
	}
	for (i = 0; i < a->name_len; i++) {
		if (a->name[i] != b->name[i]) {
			return 0;
		}
	}
	return 1;
}

enum ocre_bundle_status ocre_bundle_entry(const struct ocre_bundle *b, uint32_t index,
					  struct ocre_bundle_entry *out)
{
	struct ocre_bundle_entry e, prev;
	enum ocre_bundle_status st;
	uint32_t j;

	if (b == 0 || b->base == 0 || out == 0 || index >= b->count) {
		return OCRE_BUNDLE_E_INDEX;
	}
	st = decode_entry(b, index, &e);
	if (st != OCRE_BUNDLE_OK) {
		return st;
	}
	/* Entries before this one: re-decoded (they are small, and nothing is cached between calls,
	 * so the reader holds no state and needs no RAM per entry). */
	for (j = 0; j < index; j++) {
		if (decode_entry(b, j, &prev) != OCRE_BUNDLE_OK) {
			/* walk the entries in order to see the first error */
			return OCRE_BUNDLE_E_INDEX;
		}
		if (same_name(&e, &prev)) {
			return OCRE_BUNDLE_E_NAME;
		}
		if (e.module_offset < prev.module_offset + prev.module_size &&
		    prev.module_offset < e.module_offset + e.module_size) {
			return OCRE_BUNDLE_E_MODULE;
		}
	}
	*out = e;
	return OCRE_BUNDLE_OK;
}

enum ocre_bundle_status ocre_bundle_verify_entry(const struct ocre_bundle_entry *e,
						 ocre_bundle_sha256_fn sha256)
{
	uint8_t digest[32];
	uint8_t diff = 0;
	int i;

	sha256(e->module, e->module_size, digest);
	for (i = 0; i < 32; i++) {
		diff |= (uint8_t)(digest[i] ^ e->sha256[i]);
	}
	return diff == 0 ? OCRE_BUNDLE_OK : OCRE_BUNDLE_E_SHA256;
}

const char *ocre_bundle_next_string(const char *list, uint32_t len, const char *s)
{
	const char *end = list + len;

	if (list == 0 || len == 0) {
		return 0;
	}
	if (s == 0) {
		return list;
	}
	while (s < end && *s != 0) {
		s++;
	}
	s++; /* past the NUL */
	return s < end ? s : 0;
}

const char *ocre_bundle_strerror(enum ocre_bundle_status status)
{
	switch (status) {
	case OCRE_BUNDLE_OK:
		return "ok";
	case OCRE_BUNDLE_E_TRUNCATED:
		return "truncated (total size past the partition)";
	case OCRE_BUNDLE_E_MAGIC:
		return "no bundle (bad magic; partition empty?)";
	case OCRE_BUNDLE_E_VERSION:
		return "unsupported bundle version";
	case OCRE_BUNDLE_E_HEADER:
		return "malformed header";
	case OCRE_BUNDLE_E_COUNT:
		return "too many entries";
	case OCRE_BUNDLE_E_CRC:
		return "CRC-32 mismatch (corrupted)";
	case OCRE_BUNDLE_E_INDEX:
		return "bad entry index";
	case OCRE_BUNDLE_E_NAME:
		return "bad or duplicate container name";
	case OCRE_BUNDLE_E_STRINGS:
		return "bad args/env strings";
	case OCRE_BUNDLE_E_FLAGS:
		return "unknown entry flags";
	case OCRE_BUNDLE_E_MODULE:
		return "bad module offset/size/header or overlap";
	case OCRE_BUNDLE_E_SHA256:
		return "module SHA-256 mismatch";
	}
	return "unknown error";
}
