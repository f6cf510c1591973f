/*
 * Ocre tiny firmware: WAMR's classic interpreter running the containers of a flash bundle.
 *
 * Boot: find the bundle at the partition address (memory-mapped flash, read in place: no flash
 * driver, no filesystem), validate it completely (bundle.c: header, CRC-32, every entry), then run
 * each container in bundle order, one at a time: check its SHA-256, copy the module into the WAMR
 * pool (the classic interpreter rewrites opcodes in place, so it cannot run from flash), load,
 * instantiate with no app heap (the module's linear memory is shrunk to __heap_base by WAMR),
 * call _start, report the exit code, free everything. A refused bundle stops with one clear line.
 *
 * Console lines the Twister scenario and `west ocre run --expect` match:
 *   "Ocre tiny: bundle at 0x00030000: 1 container(s)"
 *   "Ocre tiny: container hello exited with status 0"
 *   "Ocre tiny: bundle refused: CRC-32 mismatch (corrupted)"
 *   "Ocre tiny: done"
 */
#include <string.h>
#include <zephyr/devicetree.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "bundle.h"
#include "sha256.h"
#include "tiny.h"
#include "wasm_export.h"

/* The bundle partition: node label ocre_bundle_partition (boards/<board>.overlay or the overlay
 * 'west ocre build --profile tiny' generates). 'west ocre build' passes the absolute address it
 * computed; a plain 'west build' (Twister) uses flash node base + partition offset, as Ocre's own
 * Kconfig computes its storage address (exact for fixed-partitions on qemu_cortex_m3). */
#define BUNDLE_NODE DT_NODELABEL(ocre_bundle_partition)
#if defined(OCRE_TINY_BUNDLE_ADDR) && defined(OCRE_TINY_BUNDLE_SIZE)
#define BUNDLE_ADDR OCRE_TINY_BUNDLE_ADDR
#define BUNDLE_SIZE OCRE_TINY_BUNDLE_SIZE
#elif DT_NODE_EXISTS(BUNDLE_NODE)
#define BUNDLE_ADDR (DT_REG_ADDR(DT_GPARENT(BUNDLE_NODE)) + DT_REG_ADDR(BUNDLE_NODE))
#define BUNDLE_SIZE DT_REG_SIZE(BUNDLE_NODE)
#else
#error "the tiny profile needs a devicetree partition labelled ocre_bundle_partition"
#endif

#ifndef OCRE_TINY_POOL_SIZE
#define OCRE_TINY_POOL_SIZE (51 * 1024) /* = ocre_py.zephyr.tiny.QEMU_CORTEX_M3.pool_size */
#endif
#ifndef OCRE_TINY_WASM_STACK
#define OCRE_TINY_WASM_STACK 4096
#endif

static uint8_t pool[OCRE_TINY_POOL_SIZE] __aligned(8);
static struct ocre_tiny_ctx ctx;

static void pool_report(const char *when)
{
	mem_alloc_info_t info;

	if (wasm_runtime_get_mem_alloc_info(&info)) {
		printk("Ocre tiny: pool %s: %u of %u bytes free, high-water %u\n", when,
		       (unsigned)info.total_free_size, (unsigned)info.total_size,
		       (unsigned)info.highmark_size);
	}
}

/* Run one validated entry; returns its exit status, or a negative value if it could not start. */
static int run_entry(const struct ocre_bundle_entry *e)
{
	/* WAMR's load errors run past 128 characters (e.g. the reference-types one) */
	char err[256];
	uint8_t *copy;
	wasm_module_t module = NULL;
	wasm_module_inst_t inst = NULL;
	wasm_exec_env_t exec = NULL;
	wasm_function_inst_t start;
	const char *exc;
	int status = -1;

	if (ocre_bundle_verify_entry(e, ocre_sha256) != OCRE_BUNDLE_OK) {
		printk("Ocre tiny: container %s refused: module SHA-256 mismatch\n", e->name);
		return -1;
	}
	copy = wasm_runtime_malloc(e->module_size);
	if (copy == NULL) {
		printk("Ocre tiny: container %s: %u bytes do not fit the WAMR pool\n", e->name,
		       (unsigned)e->module_size);
		return -1;
	}
	memcpy(copy, e->module, e->module_size);
	module = wasm_runtime_load(copy, e->module_size, err, sizeof err);
	if (module == NULL) {
		printk("Ocre tiny: container %s: load failed: %s\n", e->name, err);
		goto out;
	}
	inst = wasm_runtime_instantiate(module, OCRE_TINY_WASM_STACK, 0, err, sizeof err);
	if (inst == NULL) {
		printk("Ocre tiny: container %s: instantiate failed: %s\n", e->name, err);
		goto out;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.entry = e;
	ocre_tiny_timers_reset(&ctx.timers);
	wasm_runtime_set_custom_data(inst, &ctx);
	start = wasm_runtime_lookup_function(inst, "_start");
	if (start == NULL) {
		printk("Ocre tiny: container %s: no _start export (not a WASI command)\n", e->name);
		goto out;
	}
	exec = wasm_runtime_create_exec_env(inst, OCRE_TINY_WASM_STACK);
	if (exec == NULL) {
		printk("Ocre tiny: container %s: no memory for its execution environment\n",
		       e->name);
		goto out;
	}
	printk("Ocre tiny: starting container %s (%u bytes)\n", e->name, (unsigned)e->module_size);
	if (wasm_runtime_call_wasm(exec, start, 0, NULL)) {
		status = 0; /* _start returned without proc_exit */
	} else if (ctx.exited && (exc = wasm_runtime_get_exception(inst)) != NULL &&
		   strstr(exc, OCRE_TINY_EXIT_EXCEPTION) != NULL) {
		status = ctx.exit_code;
	} else {
		exc = wasm_runtime_get_exception(inst);
		printk("Ocre tiny: container %s trapped: %s\n", e->name, exc ? exc : "(unknown)");
		status = 134; /* D3: a trap is a non-zero exit */
	}
	printk("Ocre tiny: container %s exited with status %d\n", e->name, status);
	pool_report("after run");
out:
	if (exec) {
		wasm_runtime_destroy_exec_env(exec);
	}
	if (inst) {
		wasm_runtime_deinstantiate(inst);
	}
	if (module) {
		wasm_runtime_unload(module);
	}
	wasm_runtime_free(copy);
	return status;
}

int main(void)
{
	RuntimeInitArgs init;
	struct ocre_bundle bundle;
	struct ocre_bundle_entry entry;
	enum ocre_bundle_status st;
	uint32_t i;

	printk("Ocre tiny: bundle at 0x%08x: ", (unsigned)BUNDLE_ADDR);
	st = ocre_bundle_open(&bundle, (const void *)BUNDLE_ADDR, BUNDLE_SIZE);
	if (st == OCRE_BUNDLE_OK) {
		for (i = 0; i < bundle.count && st == OCRE_BUNDLE_OK; i++) {
			st = ocre_bundle_entry(&bundle, i, &entry);
		}
	}
	if (st != OCRE_BUNDLE_OK) {
		printk("\nOcre tiny: bundle refused: %s\n", ocre_bundle_strerror(st));
		printk("Ocre tiny: deploy one with: west ocre deploy <app.wasm> -b <board> "
		       "--profile tiny\n");
		return 0;
	}
	printk("%u container(s)\n", (unsigned)bundle.count);

	memset(&init, 0, sizeof init);
	init.mem_alloc_type = Alloc_With_Pool;
	init.mem_alloc_option.pool.heap_buf = pool;
	init.mem_alloc_option.pool.heap_size = sizeof pool;
	if (!wasm_runtime_full_init(&init) || ocre_tiny_register_natives() != 0) {
		printk("Ocre tiny: WAMR initialisation failed (pool of %u bytes)\n",
		       (unsigned)sizeof pool);
		return 0;
	}
	pool_report("at start");
	for (i = 0; i < bundle.count; i++) {
		(void)ocre_bundle_entry(&bundle, i, &entry);
		(void)run_entry(&entry);
	}
	printk("Ocre tiny: done\n");
	return 0;
}
