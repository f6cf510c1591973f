/* Timers and timer events of the tiny profile; see timers.h. */
#include "timers.h"

#include <stddef.h>

static struct ocre_tiny_timer *get(struct ocre_tiny_timers *t, int32_t id)
{
	if (id < 1 || id > OCRE_TINY_MAX_TIMERS || !t->timer[id - 1].created) {
		return NULL;
	}
	return &t->timer[id - 1];
}

/* Signed distance between two wrapping millisecond stamps. */
static int32_t until(uint32_t deadline, uint32_t now)
{
	return (int32_t)(deadline - now);
}

void ocre_tiny_timers_reset(struct ocre_tiny_timers *t)
{
	struct ocre_tiny_timers zero = {0};
	*t = zero;
}

int ocre_tiny_timer_create(struct ocre_tiny_timers *t, int32_t id)
{
	if (id < 1 || id > OCRE_TINY_MAX_TIMERS) {
		return -OCRE_TINY_EINVAL;
	}
	if (t->timer[id - 1].created) {
		return -OCRE_TINY_EBUSY;
	}
	t->timer[id - 1].created = 1;
	t->timer[id - 1].running = 0;
	return 0;
}

int ocre_tiny_timer_start(struct ocre_tiny_timers *t, int32_t id, int32_t interval_ms,
			  int32_t periodic, uint32_t now_ms)
{
	struct ocre_tiny_timer *tm = get(t, id);

	if (tm == NULL || interval_ms < 1 || (uint32_t)interval_ms > OCRE_TINY_MAX_INTERVAL ||
	    (periodic != 0 && periodic != 1)) {
		return -OCRE_TINY_EINVAL;
	}
	tm->running = 1;
	tm->periodic = (uint8_t)periodic;
	tm->interval_ms = (uint32_t)interval_ms;
	tm->deadline_ms = now_ms + (uint32_t)interval_ms;
	return 0;
}

int ocre_tiny_timer_stop(struct ocre_tiny_timers *t, int32_t id)
{
	struct ocre_tiny_timer *tm = get(t, id);

	if (tm == NULL) {
		return -OCRE_TINY_EINVAL;
	}
	tm->running = 0;
	return 0;
}

int ocre_tiny_timer_delete(struct ocre_tiny_timers *t, int32_t id)
{
	struct ocre_tiny_timer *tm = get(t, id);
	uint8_t keep[OCRE_TINY_EVENT_QUEUE];
	uint8_t n = 0, i;

	if (tm == NULL) {
		return -OCRE_TINY_EINVAL;
	}
	tm->created = tm->running = 0;
	/* drop its pending events: a deleted id must not fire later */
	for (i = 0; i < t->len; i++) {
		uint8_t ev = t->queue[(t->head + i) % OCRE_TINY_EVENT_QUEUE];
		if (ev != (uint8_t)id) {
			keep[n++] = ev;
		}
	}
	for (i = 0; i < n; i++) {
		t->queue[i] = keep[i];
	}
	t->head = 0;
	t->len = n;
	return 0;
}

int32_t ocre_tiny_timer_remaining(struct ocre_tiny_timers *t, int32_t id, uint32_t now_ms)
{
	struct ocre_tiny_timer *tm = get(t, id);
	int32_t left;

	if (tm == NULL) {
		return -OCRE_TINY_EINVAL;
	}
	if (!tm->running) {
		return 0;
	}
	left = until(tm->deadline_ms, now_ms);
	return left > 0 ? left : 0;
}

static void push(struct ocre_tiny_timers *t, uint8_t id)
{
	if (t->len == OCRE_TINY_EVENT_QUEUE) {
		t->dropped++;
		return;
	}
	t->queue[(t->head + t->len) % OCRE_TINY_EVENT_QUEUE] = id;
	t->len++;
}

void ocre_tiny_timers_poll(struct ocre_tiny_timers *t, uint32_t now_ms)
{
	int i;

	for (i = 0; i < OCRE_TINY_MAX_TIMERS; i++) {
		struct ocre_tiny_timer *tm = &t->timer[i];
		if (!tm->running || until(tm->deadline_ms, now_ms) > 0) {
			continue;
		}
		push(t, (uint8_t)(i + 1));
		if (tm->periodic) {
			/*
			 * next deadline after now; periods missed while the container computed
			 * coalesce
			 */
			uint32_t late = now_ms - tm->deadline_ms;
			tm->deadline_ms += tm->interval_ms * (late / tm->interval_ms + 1u);
		} else {
			tm->running = 0;
		}
	}
}

uint32_t ocre_tiny_timers_next(const struct ocre_tiny_timers *t, uint32_t now_ms)
{
	uint32_t best = UINT32_MAX;
	int i;

	for (i = 0; i < OCRE_TINY_MAX_TIMERS; i++) {
		const struct ocre_tiny_timer *tm = &t->timer[i];
		if (tm->running) {
			int32_t left = until(tm->deadline_ms, now_ms);
			uint32_t l = left > 0 ? (uint32_t)left : 0u;
			if (l < best) {
				best = l;
			}
		}
	}
	return best;
}

int ocre_tiny_event_pop(struct ocre_tiny_timers *t, uint32_t *id)
{
	if (t->len == 0) {
		return -OCRE_TINY_ENOMSG;
	}
	*id = t->queue[t->head];
	t->head = (uint8_t)((t->head + 1) % OCRE_TINY_EVENT_QUEUE);
	t->len--;
	return 0;
}
