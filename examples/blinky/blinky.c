/* blinky: a periodic timer toggles the LED "led0" (a simulated pin on Linux).
 *   ocre run -k ocre:api blinky.wasm [COUNT] [PERIOD_MS]   (COUNT 0 = forever, the default)
 * Without the ocre:api capability the timer callback cannot be registered and blinky exits with -1,
 * as upstream's blinky does. */
#include <stdio.h>
#include <stdlib.h>

#include "ocre_api.h"

#define TIMER_ID 1

static int blinks;
static int led_state;

static void on_timer(void) {
    led_state = !led_state;
    ocre_gpio_set_by_name("led0", led_state);
    printf("blink %d: LED %s\n", ++blinks, led_state ? "on" : "off");
    fflush(stdout);
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 0;
    int period = argc > 2 ? atoi(argv[2]) : 500;

    ocre_gpio_init();
    ocre_gpio_configure_by_name("led0", OCRE_GPIO_DIR_OUTPUT);
    if (ocre_timer_create(TIMER_ID) != 0 || ocre_register_timer_callback(TIMER_ID, on_timer) != 0) {
        printf("blinky: cannot set up the timer (is the ocre:api capability granted?)\n");
        return -1;
    }
    ocre_timer_start(TIMER_ID, period, 1);
    printf("blinky: toggling led0 every %d ms\n", period);
    fflush(stdout);
    while (count == 0 || blinks < count)
        ocre_process_events();
    ocre_timer_delete(TIMER_ID);
    return 0;
}
