/* ticker: the tiny profile's Ocre subset — a periodic timer, its events, ocre_sleep and printf.
 *   ticker [COUNT] [PERIOD_MS]   prints "tick N" COUNT times (default 3, every 50 ms), then "ticker done" */
#include <stdio.h>
#include <stdlib.h>

#include "ocre_api.h"

#define TIMER_ID 1

static int ticks;

static void on_timer(void) {
    printf("tick %d\n", ++ticks);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 3;
    int period = argc > 2 ? atoi(argv[2]) : 50;

    if (ocre_timer_create(TIMER_ID) != 0 || ocre_register_timer_callback(TIMER_ID, on_timer) != 0) {
        printf("ticker: cannot set up the timer (is the ocre:api capability granted?)\n");
        return 1;
    }
    ocre_timer_start(TIMER_ID, period, 1);
    while (ticks < count)
        ocre_process_events();
    ocre_timer_delete(TIMER_ID);
    printf("ticker done\n");
    return 0;
}
