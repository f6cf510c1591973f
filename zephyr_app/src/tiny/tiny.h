/*
 * The tiny firmware's per-container context, shared by main.c, natives.c and wasi.c.
 * One container runs at a time; its context is attached to the WAMR instance as custom data.
 */
#ifndef OCRE_TINY_H
#define OCRE_TINY_H

#include <stdint.h>

#include "bundle.h"
#include "timers.h"

struct ocre_tiny_ctx {
	const struct ocre_bundle_entry *entry; /* argv/environ come from the bundle, in flash */
	struct ocre_tiny_timers timers;
	int32_t exit_code;
	uint8_t exited; /* proc_exit was called */
};

/* Register the env (Ocre subset) and wasi_snapshot_preview1 natives with WAMR. */
int ocre_tiny_register_natives(void);

/* The literal exception text proc_exit raises, so main.c can tell an exit from a trap. */
#define OCRE_TINY_EXIT_EXCEPTION "ocre: proc_exit"

#endif /* OCRE_TINY_H */
