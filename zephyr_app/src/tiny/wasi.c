/*
 * The WASI preview1 subset the tiny profile serves, as WAMR natives: enough for a wasi-libc program
 * that prints (fd_write to stdout/stderr → the Zephyr console), reads its argv/environ (from the
 * bundle entry, in flash) and exits. WAMR's own libc-wasi is not built (WAMR_BUILD_LIBC_WASI=0): on
 * Zephyr it needs the filesystem and socket layers the tiny profile leaves out. Files, sockets,
 * random_get and the rest are not registered; ocre_py.zephyr.tiny refuses modules importing them.
 *
 * Errors are WASI errno values (not Linux ones): BADF 8, INVAL 28, SPIPE 70.
 */
#include <string.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "tiny.h"
#include "wasm_export.h"

#define WASI_ESUCCESS                  0
#define WASI_EBADF                     8
#define WASI_EFAULT                    21
#define WASI_EINVAL                    28
#define WASI_ESPIPE                    70
#define WASI_FILETYPE_CHARACTER_DEVICE 2

static struct ocre_tiny_ctx *ctx_of(wasm_module_inst_t inst)
{
	return (struct ocre_tiny_ctx *)wasm_runtime_get_custom_data(inst);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* argv = [name, args...] (argv[0] is the container name: the tiny profile has no image path). */
static int32_t list_sizes(wasm_module_inst_t inst, const char *first, uint32_t first_len,
			  const char *list, uint32_t len, uint32_t count, uint32_t off_count,
			  uint32_t off_size)
{
	uint8_t *pc, *ps;

	if (!wasm_runtime_validate_app_addr(inst, off_count, 4) ||
	    !wasm_runtime_validate_app_addr(inst, off_size, 4)) {
		return WASI_EFAULT;
	}
	(void)list;
	pc = wasm_runtime_addr_app_to_native(inst, off_count);
	ps = wasm_runtime_addr_app_to_native(inst, off_size);
	put_u32(pc, count + (first ? 1u : 0u));
	put_u32(ps, len + (first ? first_len + 1u : 0u));
	return WASI_ESUCCESS;
}

static int32_t list_get(wasm_module_inst_t inst, const char *first, uint32_t first_len,
			const char *list, uint32_t len, uint32_t count, uint32_t off_ptrs,
			uint32_t off_buf)
{
	uint32_t n = count + (first ? 1u : 0u), total = len + (first ? first_len + 1u : 0u),
		 pos = 0, i = 0;
	const char *s = NULL;
	uint8_t *ptrs, *buf;

	if (!wasm_runtime_validate_app_addr(inst, off_ptrs, (uint64_t)n * 4u) ||
	    !wasm_runtime_validate_app_addr(inst, off_buf, total)) {
		return WASI_EFAULT;
	}
	ptrs = wasm_runtime_addr_app_to_native(inst, off_ptrs);
	buf = wasm_runtime_addr_app_to_native(inst, off_buf);
	if (first) {
		memcpy(buf, first, first_len + 1u);
		put_u32(ptrs, off_buf);
		pos = first_len + 1u;
		i = 1;
	}
	while ((s = ocre_bundle_next_string(list, len, s)) != NULL) {
		/* bounded: the reader checked the NUL layout */
		uint32_t l = (uint32_t)strlen(s) + 1u;
		memcpy(buf + pos, s, l);
		put_u32(ptrs + 4u * i, off_buf + pos);
		pos += l;
		i++;
	}
	return WASI_ESUCCESS;
}

static int32_t args_sizes_get(wasm_exec_env_t env, int32_t argc, int32_t size)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	const struct ocre_bundle_entry *e = ctx_of(inst)->entry;
	return list_sizes(inst, e->name, e->name_len, e->args, e->args_len, e->args_count,
			  (uint32_t)argc, (uint32_t)size);
}

static int32_t args_get(wasm_exec_env_t env, int32_t argv, int32_t buf)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	const struct ocre_bundle_entry *e = ctx_of(inst)->entry;
	return list_get(inst, e->name, e->name_len, e->args, e->args_len, e->args_count,
			(uint32_t)argv, (uint32_t)buf);
}

static int32_t environ_sizes_get(wasm_exec_env_t env, int32_t count, int32_t size)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	const struct ocre_bundle_entry *e = ctx_of(inst)->entry;
	return list_sizes(inst, NULL, 0, e->env, e->env_len, e->env_count, (uint32_t)count,
			  (uint32_t)size);
}

static int32_t environ_get(wasm_exec_env_t env, int32_t environ, int32_t buf)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	const struct ocre_bundle_entry *e = ctx_of(inst)->entry;
	return list_get(inst, NULL, 0, e->env, e->env_len, e->env_count, (uint32_t)environ,
			(uint32_t)buf);
}

/* stdout and stderr go to the console, byte by byte through printk (no stdio buffers in RAM). */
static int32_t fd_write(wasm_exec_env_t env, int32_t fd, int32_t iovs, int32_t iovs_len,
			int32_t nwritten)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	uint32_t total = 0, i, j;
	uint8_t *iov;

	if (fd != 1 && fd != 2) {
		return WASI_EBADF;
	}
	if (iovs_len < 0 ||
	    !wasm_runtime_validate_app_addr(inst, (uint32_t)iovs, (uint64_t)iovs_len * 8u) ||
	    !wasm_runtime_validate_app_addr(inst, (uint32_t)nwritten, 4)) {
		return WASI_EFAULT;
	}
	iov = wasm_runtime_addr_app_to_native(inst, (uint32_t)iovs);
	for (i = 0; i < (uint32_t)iovs_len; i++) {
		uint32_t off = get_u32(iov + 8u * i), len = get_u32(iov + 8u * i + 4u);
		const char *p;
		if (!wasm_runtime_validate_app_addr(inst, off, len)) {
			return WASI_EFAULT;
		}
		p = wasm_runtime_addr_app_to_native(inst, off);
		for (j = 0; j < len; j++) {
			printk("%c", p[j]);
		}
		total += len;
	}
	put_u32(wasm_runtime_addr_app_to_native(inst, (uint32_t)nwritten), total);
	return WASI_ESUCCESS;
}

static int32_t fd_close(wasm_exec_env_t env, int32_t fd)
{
	(void)env;
	return fd >= 0 && fd <= 2 ? WASI_ESUCCESS : WASI_EBADF;
}

/* fdstat: 24 bytes {u8 filetype, u16 flags, u64 rights_base, u64 rights_inheriting}. */
static int32_t fd_fdstat_get(wasm_exec_env_t env, int32_t fd, int32_t out)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	uint8_t *p;

	if (fd < 0 || fd > 2) {
		return WASI_EBADF;
	}
	if (!wasm_runtime_validate_app_addr(inst, (uint32_t)out, 24)) {
		return WASI_EFAULT;
	}
	p = wasm_runtime_addr_app_to_native(inst, (uint32_t)out);
	memset(p, 0, 24);
	p[0] = WASI_FILETYPE_CHARACTER_DEVICE;
	p[8] = 0x40; /* rights_base: fd_write (bit 6) */
	return WASI_ESUCCESS;
}

static int32_t fd_seek(wasm_exec_env_t env, int32_t fd, int64_t offset, int32_t whence, int32_t out)
{
	(void)env, (void)offset, (void)whence, (void)out;
	return fd >= 0 && fd <= 2 ? WASI_ESPIPE : WASI_EBADF;
}

static void proc_exit(wasm_exec_env_t env, int32_t code)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	struct ocre_tiny_ctx *ctx = ctx_of(inst);

	ctx->exit_code = code;
	ctx->exited = 1;
	/* unwinds the interpreter; main.c recognises this exact text as an exit, not a trap */
	wasm_runtime_set_exception(inst, OCRE_TINY_EXIT_EXCEPTION);
}

/* Monotonic and realtime clocks both read the uptime (no RTC on the tiny targets). */
static int32_t clock_time_get(wasm_exec_env_t env, int32_t id, int64_t precision, int32_t out)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	uint64_t ns = (uint64_t)k_uptime_get() * 1000000u;
	uint8_t *p;

	(void)precision;
	if (id < 0 || id > 3) {
		return WASI_EINVAL;
	}
	if (!wasm_runtime_validate_app_addr(inst, (uint32_t)out, 8)) {
		return WASI_EFAULT;
	}
	p = wasm_runtime_addr_app_to_native(inst, (uint32_t)out);
	put_u32(p, (uint32_t)ns);
	put_u32(p + 4, (uint32_t)(ns >> 32));
	return WASI_ESUCCESS;
}

static int32_t sched_yield(wasm_exec_env_t env)
{
	(void)env;
	k_yield();
	return WASI_ESUCCESS;
}

static NativeSymbol wasi_symbols[] = {
	{"args_get", (void *)args_get, "(ii)i", NULL},
	{"args_sizes_get", (void *)args_sizes_get, "(ii)i", NULL},
	{"environ_get", (void *)environ_get, "(ii)i", NULL},
	{"environ_sizes_get", (void *)environ_sizes_get, "(ii)i", NULL},
	{"fd_write", (void *)fd_write, "(iiii)i", NULL},
	{"fd_close", (void *)fd_close, "(i)i", NULL},
	{"fd_fdstat_get", (void *)fd_fdstat_get, "(ii)i", NULL},
	{"fd_seek", (void *)fd_seek, "(iIii)i", NULL},
	{"proc_exit", (void *)proc_exit, "(i)", NULL},
	{"clock_time_get", (void *)clock_time_get, "(iIi)i", NULL},
	{"sched_yield", (void *)sched_yield, "()i", NULL},
};

int ocre_tiny_register_wasi(void)
{
	size_t n = sizeof wasi_symbols / sizeof wasi_symbols[0];

	if (!wasm_runtime_register_natives("wasi_snapshot_preview1", wasi_symbols, (uint32_t)n) ||
	    !wasm_runtime_register_natives("wasi_unstable", wasi_symbols, (uint32_t)n)) {
		return -1;
	}
	return 0;
}
