/*
 * Ocre container SDK helpers (Ocre toolkit): event polling and callback dispatch.
 *
 * The host never calls into a container. Containers poll with ocre_process_events(), which pops
 * events through the host's ocre_get_event() and calls the callbacks registered here. The three
 * dispatchers are exported under the names the host checks in ocre_register_dispatcher().
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "ocre_api.h"

#include <string.h>

#define EVENTS_PER_POLL 5
#define POLL_SLEEP_MS 10

static timer_callback_func_t timer_cbs[OCRE_MAX_CALLBACKS];

static struct {
    int pin, port; /* -1 when free */
    gpio_callback_func_t cb;
} gpio_slots[OCRE_MAX_CALLBACKS];

static struct {
    char topic[OCRE_MAX_TOPIC_LEN]; /* "" when free */
    message_callback_func_t cb;
} msg_slots[OCRE_MAX_CALLBACKS];

static void ensure_init(void) {
    static bool done;
    if (done)
        return;
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        gpio_slots[i].pin = -1;
        gpio_slots[i].port = -1;
    }
    done = true;
}

OCRE_EXPORT("timer_callback") void timer_callback(int timer_id) {
    ensure_init();
    if (timer_id >= 0 && timer_id < OCRE_MAX_CALLBACKS && timer_cbs[timer_id])
        timer_cbs[timer_id]();
}

OCRE_EXPORT("gpio_callback") void gpio_callback(int pin, int state, int port) {
    (void)state;
    ensure_init();
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        if (gpio_slots[i].cb && gpio_slots[i].pin == pin && gpio_slots[i].port == port) {
            gpio_slots[i].cb();
            return;
        }
    }
}

OCRE_EXPORT("message_callback")
void message_callback(uint32_t message_id, char *topic, char *content_type, uint8_t *payload, uint32_t len) {
    (void)message_id;
    ensure_init();
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        size_t n = strlen(msg_slots[i].topic);
        if (msg_slots[i].cb && n && strncmp(msg_slots[i].topic, topic, n) == 0) {
            msg_slots[i].cb(topic, content_type, payload, len);
            return;
        }
    }
}

static void copy_string(char *dst, size_t cap, uint32_t offset) {
    strncpy(dst, (const char *)(uintptr_t)offset, cap - 1);
    dst[cap - 1] = '\0';
}

void ocre_process_events(void) {
    static char topic[OCRE_MAX_TOPIC_LEN];
    static char content_type[OCRE_MAX_CONTENT_TYPE_LEN];
    static uint8_t payload[OCRE_MAX_PAYLOAD_LEN];
    event_data_t ev;
    int handled = 0;

    while (handled < EVENTS_PER_POLL) {
        int rc = ocre_get_event((uint32_t)(uintptr_t)&ev.type, (uint32_t)(uintptr_t)&ev.id,
                                (uint32_t)(uintptr_t)&ev.port, (uint32_t)(uintptr_t)&ev.state,
                                (uint32_t)(uintptr_t)&ev.extra, (uint32_t)(uintptr_t)&ev.payload_len);
        ocre_sleep(POLL_SLEEP_MS);
        if (rc != 0)
            break;
        switch (ev.type) {
        case OCRE_RESOURCE_TYPE_TIMER:
            timer_callback((int)ev.id);
            break;
        case OCRE_RESOURCE_TYPE_GPIO:
            gpio_callback((int)ev.id, (int)ev.state, (int)ev.port);
            break;
        case OCRE_RESOURCE_TYPE_MESSAGE: {
            /* Copy out of the host-owned region, give the copies back, then dispatch. */
            uint32_t len = ev.payload_len < OCRE_MAX_PAYLOAD_LEN ? ev.payload_len : OCRE_MAX_PAYLOAD_LEN;
            copy_string(topic, sizeof topic, ev.port);
            copy_string(content_type, sizeof content_type, ev.state);
            memcpy(payload, (const void *)(uintptr_t)ev.extra, len);
            ocre_messaging_free_module_event_data(ev.port, ev.state, ev.extra);
            message_callback(ev.id, topic, content_type, payload, len);
            break;
        }
        default:
            break;
        }
        handled++;
    }
    if (handled == 0)
        ocre_sleep(POLL_SLEEP_MS);
}

int ocre_register_timer_callback(int timer_id, timer_callback_func_t callback) {
    ensure_init();
    if (timer_id < 0 || timer_id >= OCRE_MAX_CALLBACKS || !callback)
        return OCRE_ERROR_INVALID;
    if (ocre_register_dispatcher(OCRE_RESOURCE_TYPE_TIMER, "timer_callback") != 0)
        return OCRE_ERROR_INVALID;
    timer_cbs[timer_id] = callback;
    return OCRE_SUCCESS;
}

int ocre_unregister_timer_callback(int timer_id) {
    ensure_init();
    if (timer_id < 0 || timer_id >= OCRE_MAX_CALLBACKS)
        return OCRE_ERROR_INVALID;
    if (!timer_cbs[timer_id])
        return OCRE_ERROR_NOT_FOUND;
    timer_cbs[timer_id] = NULL;
    return OCRE_SUCCESS;
}

int ocre_register_gpio_callback(int pin, int port, gpio_callback_func_t callback) {
    int slot = -1;
    ensure_init();
    if (!callback || pin < 0 || pin >= CONFIG_OCRE_GPIO_PINS_PER_PORT || port < 0 ||
        port >= CONFIG_OCRE_GPIO_MAX_PORTS)
        return OCRE_ERROR_INVALID;
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        if (gpio_slots[i].pin == pin && gpio_slots[i].port == port) {
            slot = i;
            break;
        }
        if (slot < 0 && gpio_slots[i].pin == -1)
            slot = i;
    }
    if (slot < 0)
        return OCRE_ERROR_NO_MEMORY;
    if (ocre_register_dispatcher(OCRE_RESOURCE_TYPE_GPIO, "gpio_callback") != 0)
        return OCRE_ERROR_INVALID;
    gpio_slots[slot].pin = pin;
    gpio_slots[slot].port = port;
    gpio_slots[slot].cb = callback;
    return ocre_gpio_register_callback(port, pin);
}

int ocre_unregister_gpio_callback(int pin, int port) {
    ensure_init();
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        if (gpio_slots[i].cb && gpio_slots[i].pin == pin && gpio_slots[i].port == port) {
            gpio_slots[i].pin = gpio_slots[i].port = -1;
            gpio_slots[i].cb = NULL;
            return ocre_gpio_unregister_callback(port, pin);
        }
    }
    return OCRE_ERROR_NOT_FOUND;
}

int ocre_register_message_callback(const char *topic, message_callback_func_t callback) {
    int slot = -1;
    ensure_init();
    if (!topic || !topic[0] || !callback)
        return OCRE_ERROR_INVALID;
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        if (msg_slots[i].cb && strcmp(msg_slots[i].topic, topic) == 0) {
            slot = i;
            break;
        }
        if (slot < 0 && !msg_slots[i].topic[0])
            slot = i;
    }
    if (slot < 0)
        return OCRE_ERROR_NO_MEMORY;
    if (ocre_register_dispatcher(OCRE_RESOURCE_TYPE_MESSAGE, "message_callback") != 0)
        return OCRE_ERROR_INVALID;
    strncpy(msg_slots[slot].topic, topic, OCRE_MAX_TOPIC_LEN - 1);
    msg_slots[slot].topic[OCRE_MAX_TOPIC_LEN - 1] = '\0';
    msg_slots[slot].cb = callback;
    return OCRE_SUCCESS;
}

int ocre_unregister_message_callback(const char *topic) {
    ensure_init();
    if (!topic || !topic[0])
        return OCRE_ERROR_INVALID;
    for (int i = 0; i < OCRE_MAX_CALLBACKS; i++) {
        if (msg_slots[i].cb && strcmp(msg_slots[i].topic, topic) == 0) {
            msg_slots[i].topic[0] = '\0';
            msg_slots[i].cb = NULL;
            return OCRE_SUCCESS;
        }
    }
    return OCRE_ERROR_NOT_FOUND;
}
