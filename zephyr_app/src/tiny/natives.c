/*
 * The Ocre API subset of the tiny profile, served as WAMR natives in import module "env" with the
 * full profile's names and signatures (ocre-api.md 2.2): ocre_sleep, the five timer functions,
 * ocre_get_event (TIMER events only), ocre_register_dispatcher (recorded, needs ocre:api) and
 * ocre_messaging_free_module_event_data (a no-op: the tiny profile never delivers messages, but
 * the SDK's ocre_process_events() imports it).
 *
 * Signatures use WAMR's letters: 'i' i32, '*' a pointer WAMR checks and converts, '$' a string.
 */
#include <zephyr/kernel.h>

#include "tiny.h"
#include "wasm_export.h"

#define EVENT_TYPE_TIMER 0u

static struct ocre_tiny_ctx *ctx_of(wasm_exec_env_t env)
{
	return (struct ocre_tiny_ctx *)wasm_runtime_get_custom_data(
		wasm_runtime_get_module_inst(env));
}

static uint32_t now_ms(void)
{
	return k_uptime_get_32();
}

/* Sleep, waking at timer deadlines to queue their events so none is late by a whole sleep. */
static int32_t ocre_sleep(wasm_exec_env_t env, int32_t ms)
{
	struct ocre_tiny_ctx *ctx = ctx_of(env);
	uint32_t end = now_ms() + (uint32_t)(ms > 0 ? ms : 0);

	for (;;) {
		uint32_t now = now_ms();
		int32_t left = (int32_t)(end - now);
		uint32_t next;

		ocre_tiny_timers_poll(&ctx->timers, now);
		if (left <= 0) {
			return 0;
		}
		next = ocre_tiny_timers_next(&ctx->timers, now);
		k_msleep((int32_t)(next < (uint32_t)left ? (next ? next : 1u) : (uint32_t)left));
	}
}

static int32_t ocre_timer_create(wasm_exec_env_t env, int32_t id)
{
	return ocre_tiny_timer_create(&ctx_of(env)->timers, id);
}

static int32_t ocre_timer_start(wasm_exec_env_t env, int32_t id, int32_t interval, int32_t periodic)
{
	return ocre_tiny_timer_start(&ctx_of(env)->timers, id, interval, periodic, now_ms());
}

static int32_t ocre_timer_stop(wasm_exec_env_t env, int32_t id)
{
	return ocre_tiny_timer_stop(&ctx_of(env)->timers, id);
}

static int32_t ocre_timer_delete(wasm_exec_env_t env, int32_t id)
{
	return ocre_tiny_timer_delete(&ctx_of(env)->timers, id);
}

static int32_t ocre_timer_get_remaining(wasm_exec_env_t env, int32_t id)
{
	return ocre_tiny_timer_remaining(&ctx_of(env)->timers, id, now_ms());
}

/* Six u32 out-fields; all validated before popping so no event is lost (ocre-api.md 2.3). */
static int32_t ocre_get_event(wasm_exec_env_t env, int32_t type, int32_t id, int32_t port,
			      int32_t state, int32_t extra, int32_t len)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	struct ocre_tiny_ctx *ctx = ctx_of(env);
	const int32_t offs[6] = {type, id, port, state, extra, len};
	uint32_t vals[6] = {EVENT_TYPE_TIMER, 0, 0, 0, 0, 0};
	uint32_t timer;
	int i, rc;

	for (i = 0; i < 6; i++) {
		if (!wasm_runtime_validate_app_addr(inst, (uint64_t)(uint32_t)offs[i], 4)) {
			wasm_runtime_clear_exception(inst); /* -EINVAL, not a trap */
			return -OCRE_TINY_EINVAL;
		}
	}
	ocre_tiny_timers_poll(&ctx->timers, now_ms());
	rc = ocre_tiny_event_pop(&ctx->timers, &timer);
	if (rc != 0) {
		return rc;
	}
	vals[1] = timer;
	for (i = 0; i < 6; i++) {
		uint8_t *p = wasm_runtime_addr_app_to_native(inst, (uint64_t)(uint32_t)offs[i]);
		p[0] = (uint8_t)vals[i];
		p[1] = (uint8_t)(vals[i] >> 8);
		p[2] = (uint8_t)(vals[i] >> 16);
		p[3] = (uint8_t)(vals[i] >> 24);
	}
	return 0;
}

/* Recorded only (the host never calls into the guest); needs ocre:api and an existing export. */
static int32_t ocre_register_dispatcher(wasm_exec_env_t env, int32_t type, const char *name)
{
	wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
	struct ocre_tiny_ctx *ctx = ctx_of(env);

	if (!(ctx->entry->flags & OCRE_BUNDLE_FLAG_OCRE_API) || type < 0 || type > 3 ||
	    wasm_runtime_lookup_function(inst, name) == NULL) {
		return -OCRE_TINY_EINVAL;
	}
	return 0;
}

static int32_t ocre_messaging_free_module_event_data(wasm_exec_env_t env, int32_t a, int32_t b,
						     int32_t c)
{
	(void)env, (void)a, (void)b, (void)c;
	return 0;
}

static NativeSymbol env_symbols[] = {
	{"ocre_sleep", (void *)ocre_sleep, "(i)i", NULL},
	{"ocre_timer_create", (void *)ocre_timer_create, "(i)i", NULL},
	{"ocre_timer_start", (void *)ocre_timer_start, "(iii)i", NULL},
	{"ocre_timer_stop", (void *)ocre_timer_stop, "(i)i", NULL},
	{"ocre_timer_delete", (void *)ocre_timer_delete, "(i)i", NULL},
	{"ocre_timer_get_remaining", (void *)ocre_timer_get_remaining, "(i)i", NULL},
	{"ocre_get_event", (void *)ocre_get_event, "(iiiiii)i", NULL},
	{"ocre_register_dispatcher", (void *)ocre_register_dispatcher, "(i$)i", NULL},
	{"ocre_messaging_free_module_event_data", (void *)ocre_messaging_free_module_event_data,
	 "(iii)i", NULL},
};

extern int ocre_tiny_register_wasi(void);

int ocre_tiny_register_natives(void)
{
	if (!wasm_runtime_register_natives("env", env_symbols,
					   sizeof env_symbols / sizeof env_symbols[0])) {
		return -1;
	}
	return ocre_tiny_register_wasi();
}
