/* Exercises the Ocre API and prints "key=value" lines for the tests to check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ocre_api.h"

static int timer_fires[OCRE_MAX_TIMERS + 1];
static void on_t1(void) { timer_fires[1]++; }
static void on_t2(void) { timer_fires[2]++; }

static int messages;
static char last_topic[128], last_payload[256];
static void on_msg(const char *topic, const char *ctype, const void *payload, uint32_t len) {
    (void)ctype;
    messages++;
    snprintf(last_topic, sizeof last_topic, "%s", topic);
    snprintf(last_payload, sizeof last_payload, "%.*s", (int)len, (const char *)payload);
    printf("msg topic=%s ctype=%s payload=%s\n", topic, ctype, last_payload);
}

static int gpio_events;
static void on_button(void) { gpio_events++; printf("gpio event %d level=%d\n", gpio_events, ocre_gpio_get_by_name("sw0")); }

static void drain(int ms) { for (int t = 0; t < ms; t += 20) ocre_process_events(); }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "timers")) {
        printf("create0=%d\n", ocre_timer_create(0));
        printf("create1=%d\n", ocre_timer_create(1));
        printf("create1again=%d\n", ocre_timer_create(1));
        printf("create2=%d\n", ocre_timer_create(2));
        printf("create17=%d\n", ocre_timer_create(17));
        printf("start_unknown=%d\n", ocre_timer_start(5, 100, 0));
        printf("start_bad_interval=%d\n", ocre_timer_start(1, 0, 0));
        printf("reg1=%d\n", ocre_register_timer_callback(1, on_t1));
        ocre_register_timer_callback(2, on_t2);
        printf("start1=%d\n", ocre_timer_start(1, 100, 0)); /* one-shot */
        printf("start2=%d\n", ocre_timer_start(2, 60, 1));  /* periodic */
        int rem = ocre_timer_get_remaining(1);
        printf("remaining_ok=%d\n", rem > 0 && rem <= 100);
        drain(450);
        printf("fires1=%d\n", timer_fires[1]);
        printf("fires2_ge4=%d\n", timer_fires[2] >= 4);
        printf("remaining_after_oneshot=%d\n", ocre_timer_get_remaining(1));
        printf("stop2=%d\n", ocre_timer_stop(2));
        int before = timer_fires[2];
        drain(200);
        printf("fires2_after_stop_delta=%d\n", timer_fires[2] - before);
        printf("delete2=%d\n", ocre_timer_delete(2));
        printf("delete2again=%d\n", ocre_timer_delete(2));
    } else if (!strcmp(mode, "publish")) { /* publish without subscribers, then args[2] messages */
        const char *topic = argc > 2 ? argv[2] : "probe/x";
        int count = argc > 3 ? atoi(argv[3]) : 1;
        for (int i = 0; i < count; i++) {
            char p[32];
            int n = snprintf(p, sizeof p, "m%d", i);
            printf("publish%d=%d\n", i, ocre_publish_message(topic, "text/plain", p, (uint32_t)n));
            ocre_sleep(30);
        }
        printf("publish_empty_topic=%d\n", ocre_publish_message("", "text/plain", "x", 1));
        printf("publish_zero_len=%d\n", ocre_publish_message(topic, "text/plain", "x", 0));
    } else if (!strcmp(mode, "subscribe")) { /* subscribe to argv[2], wait for argv[3] messages */
        const char *topic = argc > 2 ? argv[2] : "probe/";
        int want = argc > 3 ? atoi(argv[3]) : 1;
        printf("subscribe=%d\n", ocre_subscribe_message(topic));
        printf("subscribe_again=%d\n", ocre_subscribe_message(topic));
        printf("subscribe_empty=%d\n", ocre_subscribe_message(""));
        ocre_register_message_callback(topic, on_msg);
        printf("ready\n");
        for (int i = 0; i < 400 && messages < want; i++) ocre_process_events();
        printf("messages=%d\n", messages);
    } else if (!strcmp(mode, "self")) { /* the publisher receives its own message */
        printf("subscribe=%d\n", ocre_subscribe_message("self/"));
        ocre_register_message_callback("self/", on_msg);
        printf("publish=%d\n", ocre_publish_message("self/echo", "text/plain", "ping", 4));
        drain(200);
        printf("messages=%d payload=%s\n", messages, last_payload);
    } else if (!strcmp(mode, "events")) { /* raw get_event: empty queue, bad pointer */
        uint32_t f[6];
        printf("empty=%d\n", ocre_get_event((uint32_t)&f[0], (uint32_t)&f[1], (uint32_t)&f[2], (uint32_t)&f[3],
                                            (uint32_t)&f[4], (uint32_t)&f[5]));
        printf("badptr=%d\n", ocre_get_event(0xFFFFFFF0u, (uint32_t)&f[1], (uint32_t)&f[2], (uint32_t)&f[3],
                                             (uint32_t)&f[4], (uint32_t)&f[5]));
        printf("dispatcher_missing=%d\n", ocre_register_dispatcher(OCRE_RESOURCE_TYPE_TIMER, "no_such_export"));
        printf("dispatcher_ok=%d\n", ocre_register_dispatcher(OCRE_RESOURCE_TYPE_TIMER, "timer_callback"));
    } else if (!strcmp(mode, "gpio")) { /* configure sw0 as input, report events for argv[2] ms */
        int ms = argc > 2 ? atoi(argv[2]) : 1000;
        printf("bad_port=%d\n", ocre_gpio_configure(99, 0, 1));
        printf("bad_alias=%d\n", ocre_gpio_configure_by_name("led9", 1));
        printf("configure=%d\n", ocre_gpio_configure_by_name("sw0", OCRE_GPIO_DIR_INPUT));
        printf("level=%d\n", ocre_gpio_get_by_name("sw0"));
        printf("register=%d\n", ocre_register_gpio_callback(0, 1, on_button));
        printf("ready\n");
        drain(ms);
        printf("gpio_events=%d\n", gpio_events);
    } else if (!strcmp(mode, "uname")) {
        struct _ocre_posix_utsname u;
        memset(&u, 0x7f, sizeof u);
        printf("rc=%d\n", ocre_uname(&u));
        printf("sysname=%s\n", u.sysname);
        printf("release=%s\n", u.release);
        printf("nodename_empty=%d\n", u.nodename[0] == 0);
        printf("terminated=%d\n", u.domainname[OCRE_API_POSIX_BUF_SIZE - 1] == 0);
        printf("too_small=%d\n", ocre_uname((struct _ocre_posix_utsname *)(uintptr_t)(__builtin_wasm_memory_size(0) * 65536 - 100)));
    } else if (!strcmp(mode, "sensors")) {
        int h = ocre_sensors_get_handle_by_name("RNG Sensor");
        int ch = ocre_sensors_get_channel_type(h, 0);
        printf("count=%d handle=%d\n", ocre_sensors_discover(), h);
        for (int i = 0; i < 3; i++) printf("rng%d=%.0f\n", i, ocre_sensors_read(h, ch));
        printf("bad=%.0f\n", ocre_sensors_read(99, 0));
        printf("temp=%.1f\n", ocre_sensors_read_by_name("humidity", 13));
    } else if (!strcmp(mode, "badstring")) { /* a string pointer outside memory traps */
        ocre_subscribe_message((const char *)0xFFFFFF00u);
    }
    return 0;
}
