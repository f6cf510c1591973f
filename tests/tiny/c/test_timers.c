/* Host test of the tiny firmware's timer/event core (zephyr_app/src/tiny/timers.c), run by pytest
 * under ASan/UBSan. Prints "ok N" and exits 0, or names the failed check and exits 1. */
#include <stdio.h>
#include <stdint.h>

#include "timers.h"

static int checks, failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            printf("FAIL line %d: %s\n", __LINE__, #cond);                            \
            failed++;                                                                  \
        }                                                                              \
    } while (0)

int main(void)
{
    struct ocre_tiny_timers t;
    uint32_t id = 0, now = 1000;
    int i;

    ocre_tiny_timers_reset(&t);
    /* ids 1..8; duplicates are -EBUSY; bad ids -EINVAL (ocre-api.md 2.4) */
    CHECK(ocre_tiny_timer_create(&t, 0) == -OCRE_TINY_EINVAL);
    CHECK(ocre_tiny_timer_create(&t, 9) == -OCRE_TINY_EINVAL);
    CHECK(ocre_tiny_timer_create(&t, 1) == 0);
    CHECK(ocre_tiny_timer_create(&t, 1) == -OCRE_TINY_EBUSY);
    CHECK(ocre_tiny_timer_start(&t, 2, 10, 0, now) == -OCRE_TINY_EINVAL);
    CHECK(ocre_tiny_timer_start(&t, 1, 0, 0, now) == -OCRE_TINY_EINVAL);
    CHECK(ocre_tiny_timer_start(&t, 1, 65536, 0, now) == -OCRE_TINY_EINVAL);
    CHECK(ocre_tiny_timer_start(&t, 1, 10, 2, now) == -OCRE_TINY_EINVAL);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);

    /* one-shot: one event after the interval, then not running */
    CHECK(ocre_tiny_timer_start(&t, 1, 50, 0, now) == 0);
    CHECK(ocre_tiny_timer_remaining(&t, 1, now + 20) == 30);
    CHECK(ocre_tiny_timers_next(&t, now + 20) == 30);
    ocre_tiny_timers_poll(&t, now + 49);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);
    ocre_tiny_timers_poll(&t, now + 50);
    CHECK(ocre_tiny_event_pop(&t, &id) == 0 && id == 1);
    CHECK(ocre_tiny_timer_remaining(&t, 1, now + 60) == 0);
    ocre_tiny_timers_poll(&t, now + 200);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);

    /* periodic: every interval; missed periods coalesce into one event */
    CHECK(ocre_tiny_timer_start(&t, 1, 10, 1, now) == 0);
    for (i = 1; i <= 3; i++) {
        ocre_tiny_timers_poll(&t, now + 10u * (uint32_t)i);
        CHECK(ocre_tiny_event_pop(&t, &id) == 0 && id == 1);
    }
    ocre_tiny_timers_poll(&t, now + 75);
    CHECK(ocre_tiny_event_pop(&t, &id) == 0 && id == 1);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);
    CHECK(ocre_tiny_timer_remaining(&t, 1, now + 75) == 5);

    /* stop keeps the id, delete frees it and drops its pending events */
    CHECK(ocre_tiny_timer_stop(&t, 1) == 0);
    ocre_tiny_timers_poll(&t, now + 500);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);
    CHECK(ocre_tiny_timer_create(&t, 2) == 0);
    CHECK(ocre_tiny_timer_start(&t, 1, 5, 1, now) == 0);
    CHECK(ocre_tiny_timer_start(&t, 2, 5, 1, now) == 0);
    ocre_tiny_timers_poll(&t, now + 5);
    CHECK(ocre_tiny_timer_delete(&t, 1) == 0);
    CHECK(ocre_tiny_event_pop(&t, &id) == 0 && id == 2);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);
    CHECK(ocre_tiny_timer_start(&t, 1, 5, 0, now) == -OCRE_TINY_EINVAL);

    /* a full queue drops new events and counts them */
    for (i = 0; i < OCRE_TINY_EVENT_QUEUE + 4; i++) {
        ocre_tiny_timers_poll(&t, now + 10u + 5u * (uint32_t)i);
    }
    CHECK(t.len == OCRE_TINY_EVENT_QUEUE && t.dropped == 4);

    /* the millisecond clock wraps after 49 days */
    ocre_tiny_timers_reset(&t);
    CHECK(ocre_tiny_timer_create(&t, 3) == 0);
    CHECK(ocre_tiny_timer_start(&t, 3, 100, 0, UINT32_MAX - 10u) == 0);
    ocre_tiny_timers_poll(&t, 50);
    CHECK(ocre_tiny_event_pop(&t, &id) == -OCRE_TINY_ENOMSG);
    ocre_tiny_timers_poll(&t, 89);
    CHECK(ocre_tiny_event_pop(&t, &id) == 0 && id == 3);

    if (failed) {
        return 1;
    }
    printf("ok %d\n", checks);
    return 0;
}
