/*
 * Timers and the timer-event queue of the tiny profile, in pure C99 with time passed in.
 *
 * The tiny firmware runs one container at a time on one thread, so timers need no kernel objects:
 * they are deadlines checked whenever the container enters the host (ocre_get_event, ocre_sleep,
 * ocre_timer_get_remaining). That keeps this file free of Zephyr and WAMR, so the host tests run it
 * under ASan/UBSan, and costs a few hundred bytes of RAM (ocre-api.md 2.4 semantics, D1/D2: the
 * table and queue belong to the one running container and are reset between containers).
 */
#ifndef OCRE_TINY_TIMERS_H
#define OCRE_TINY_TIMERS_H

#include <stdint.h>

#define OCRE_TINY_MAX_TIMERS   8  /* ids 1..8, Zephyr's CONFIG_OCRE_MAX_TIMERS default */
#define OCRE_TINY_EVENT_QUEUE  16 /* a full queue drops the new event, as upstream */
#define OCRE_TINY_MAX_INTERVAL 65535u

/* Linux errno values, as the Ocre API returns them (ocre-api.md 2.1). */
#define OCRE_TINY_EINVAL 22
#define OCRE_TINY_EBUSY  16
#define OCRE_TINY_ENOMSG 42

struct ocre_tiny_timer {
	uint8_t created;
	uint8_t running;
	uint8_t periodic;
	uint32_t interval_ms;
	/* absolute, in the caller's millisecond clock (wraps after 49 days) */
	uint32_t deadline_ms;
};

struct ocre_tiny_timers {
	struct ocre_tiny_timer timer[OCRE_TINY_MAX_TIMERS];
	uint8_t queue[OCRE_TINY_EVENT_QUEUE]; /* timer ids */
	uint8_t head, len;
	uint32_t dropped;
};

void ocre_tiny_timers_reset(struct ocre_tiny_timers *t);
int ocre_tiny_timer_create(struct ocre_tiny_timers *t, int32_t id);
int ocre_tiny_timer_start(struct ocre_tiny_timers *t, int32_t id, int32_t interval_ms,
			  int32_t periodic, uint32_t now_ms);
int ocre_tiny_timer_stop(struct ocre_tiny_timers *t, int32_t id);
int ocre_tiny_timer_delete(struct ocre_tiny_timers *t, int32_t id);
/* ms until the next expiry, 0 if not running; negative errno for a bad id */
int32_t ocre_tiny_timer_remaining(struct ocre_tiny_timers *t, int32_t id, uint32_t now_ms);
/* Queue a TIMER event for every expired timer (periodic ones re-armed; missed periods coalesce). */
void ocre_tiny_timers_poll(struct ocre_tiny_timers *t, uint32_t now_ms);
/* ms from now until the earliest running deadline (UINT32_MAX if none). */
uint32_t ocre_tiny_timers_next(const struct ocre_tiny_timers *t, uint32_t now_ms);
/* Pop one timer event: 0 and *id, or -ENOMSG when empty. */
int ocre_tiny_event_pop(struct ocre_tiny_timers *t, uint32_t *id);

#endif /* OCRE_TINY_TIMERS_H */
