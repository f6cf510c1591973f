/*
 * Ocre container API for WebAssembly containers (Ocre toolkit SDK).
 *
 * ABI-compatible with upstream Ocre's ocre_api.h (ocre-sdk 89d59e3): the same function names,
 * signatures, constants and exported dispatcher names, so containers written for upstream compile
 * unchanged. Host functions are imported from module "env"; the helpers at the bottom
 * (ocre_process_events and the callback registration functions) are implemented in ocre_api.c,
 * which `ocre build` links into every container.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef OCRE_API_H
#define OCRE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCRE_EXPORT(name) __attribute__((export_name(name)))
#define OCRE_IMPORT(name) __attribute__((import_module("env"), import_name(name)))

#define OCRE_SDK_VERSION_MAJOR 1
#define OCRE_SDK_VERSION_MINOR 0
#define OCRE_SDK_VERSION_PATCH 0
#define OCRE_SDK_VERSION "1.0.0"

/* SDK-side return codes (host functions return 0 or a negative errno; compare with == 0). */
#define OCRE_SUCCESS 0
#define OCRE_ERROR_INVALID -1
#define OCRE_ERROR_TIMEOUT -2
#define OCRE_ERROR_NOT_FOUND -3
#define OCRE_ERROR_BUSY -4
#define OCRE_ERROR_NO_MEMORY -5

#define OCRE_MAX_TIMERS 16
#define OCRE_MAX_SENSORS 32
#define OCRE_MAX_CALLBACKS 64
#define OCRE_MAX_TOPIC_LEN 128
#define OCRE_MAX_CONTENT_TYPE_LEN 128
#define OCRE_MAX_PAYLOAD_LEN 1024
#define CONFIG_MAX_SENSOR_NAME_LENGTH 125
#define OCRE_API_POSIX_BUF_SIZE 65

#ifndef CONFIG_OCRE_GPIO_MAX_PINS
#define CONFIG_OCRE_GPIO_MAX_PINS 32
#endif
#ifndef CONFIG_OCRE_GPIO_MAX_PORTS
#define CONFIG_OCRE_GPIO_MAX_PORTS 8
#endif
#ifndef CONFIG_OCRE_GPIO_PINS_PER_PORT
#define CONFIG_OCRE_GPIO_PINS_PER_PORT 16
#endif

typedef struct {
    bool initialized;
    uint32_t active_timers;
    uint32_t active_sensors;
} ocre_sdk_state_t;

/* One event as ocre_get_event() writes it: six little-endian u32 fields. */
typedef struct {
    uint32_t type;        /* ocre_resource_type_t */
    uint32_t id;          /* timer id, GPIO pin, or message id */
    uint32_t port;        /* GPIO port, or guest offset of the message topic */
    uint32_t state;       /* GPIO level, or guest offset of the content type */
    uint32_t extra;       /* guest offset of the message payload */
    uint32_t payload_len; /* message payload length */
} event_data_t;

typedef enum {
    OCRE_RESOURCE_TYPE_TIMER,
    OCRE_RESOURCE_TYPE_GPIO,
    OCRE_RESOURCE_TYPE_SENSOR,
    OCRE_RESOURCE_TYPE_MESSAGE,
    OCRE_RESOURCE_TYPE_COUNT
} ocre_resource_type_t;

/* ---- Timers (host) ---------------------------------------------------------------------- */
OCRE_IMPORT("ocre_timer_create") int ocre_timer_create(int id);
OCRE_IMPORT("ocre_timer_delete") int ocre_timer_delete(int id);
OCRE_IMPORT("ocre_timer_start") int ocre_timer_start(int id, int interval, int is_periodic);
OCRE_IMPORT("ocre_timer_stop") int ocre_timer_stop(int id);
OCRE_IMPORT("ocre_timer_get_remaining") int ocre_timer_get_remaining(int id);

/* ---- GPIO (host) ------------------------------------------------------------------------ */
typedef enum { OCRE_GPIO_DIR_INPUT, OCRE_GPIO_DIR_OUTPUT } ocre_gpio_direction_t;
typedef enum { OCRE_GPIO_PIN_RESET = 0, OCRE_GPIO_PIN_SET = 1 } ocre_gpio_pin_state_t;

OCRE_IMPORT("ocre_gpio_init") int ocre_gpio_init(void);
OCRE_IMPORT("ocre_gpio_configure") int ocre_gpio_configure(int port, int pin, int direction);
OCRE_IMPORT("ocre_gpio_pin_set") int ocre_gpio_pin_set(int port, int pin, ocre_gpio_pin_state_t state);
OCRE_IMPORT("ocre_gpio_pin_get") ocre_gpio_pin_state_t ocre_gpio_pin_get(int port, int pin);
OCRE_IMPORT("ocre_gpio_pin_toggle") int ocre_gpio_pin_toggle(int port, int pin);
OCRE_IMPORT("ocre_gpio_register_callback") int ocre_gpio_register_callback(int port, int pin);
OCRE_IMPORT("ocre_gpio_unregister_callback") int ocre_gpio_unregister_callback(int port, int pin);
OCRE_IMPORT("ocre_gpio_configure_by_name") int ocre_gpio_configure_by_name(const char *name, int direction);
OCRE_IMPORT("ocre_gpio_set_by_name") int ocre_gpio_set_by_name(const char *name, int state);
OCRE_IMPORT("ocre_gpio_get_by_name") int ocre_gpio_get_by_name(const char *name);
OCRE_IMPORT("ocre_gpio_toggle_by_name") int ocre_gpio_toggle_by_name(const char *name);
OCRE_IMPORT("ocre_gpio_register_callback_by_name") int ocre_gpio_register_callback_by_name(const char *name);
OCRE_IMPORT("ocre_gpio_unregister_callback_by_name") int ocre_gpio_unregister_callback_by_name(const char *name);

/* ---- Events (host + SDK helpers) ----------------------------------------------------------- */
typedef void (*timer_callback_func_t)(void);
typedef void (*gpio_callback_func_t)(void);
typedef void (*message_callback_func_t)(const char *topic, const char *content_type, const void *payload,
                                        uint32_t payload_len);

OCRE_IMPORT("ocre_get_event")
int ocre_get_event(uint32_t type_offset, uint32_t id_offset, uint32_t port_offset, uint32_t state_offset,
                   uint32_t extra_offset, uint32_t payload_len_offset);
OCRE_IMPORT("ocre_register_dispatcher")
int ocre_register_dispatcher(ocre_resource_type_t type, const char *function_name);

/* SDK helpers (ocre_api.c): poll up to 5 events, sleeping 10 ms between polls, and dispatch them. */
void ocre_process_events(void);
int ocre_register_timer_callback(int timer_id, timer_callback_func_t callback);
int ocre_register_gpio_callback(int pin, int port, gpio_callback_func_t callback);
int ocre_register_message_callback(const char *topic, message_callback_func_t callback);
int ocre_unregister_timer_callback(int timer_id);
int ocre_unregister_gpio_callback(int pin, int port);
int ocre_unregister_message_callback(const char *topic);

/* ---- Messaging (host) ------------------------------------------------------------------- */
typedef struct ocre_msg {
    uint32_t mid;
    char *topic;
    char *content_type;
    void *payload;
    uint32_t payload_len;
} ocre_msg_t;

/* Declared upstream but implemented by no runtime: calling it traps as an unresolved import. */
OCRE_IMPORT("ocre_msg_system_init") void ocre_msg_system_init(void);
OCRE_IMPORT("ocre_publish_message")
int ocre_publish_message(const char *topic, const char *content_type, const void *payload, uint32_t payload_len);
OCRE_IMPORT("ocre_subscribe_message") int ocre_subscribe_message(const char *topic);
OCRE_IMPORT("ocre_messaging_free_module_event_data")
int ocre_messaging_free_module_event_data(uint32_t topic_offset, uint32_t content_offset, uint32_t payload_offset);

/* ---- Utility (host) --------------------------------------------------------------------- */
OCRE_IMPORT("ocre_sleep") int ocre_sleep(int milliseconds);
#define ocre_pause() ocre_sleep(9999999)

/* ---- Sensors (host) --------------------------------------------------------------------- */
typedef int ocre_sensor_handle_t;

OCRE_IMPORT("ocre_sensors_init") int ocre_sensors_init(void);
OCRE_IMPORT("ocre_sensors_discover") int ocre_sensors_discover(void);
OCRE_IMPORT("ocre_sensors_open") int ocre_sensors_open(ocre_sensor_handle_t handle);
OCRE_IMPORT("ocre_sensors_get_handle") int ocre_sensors_get_handle(int sensor_id);
OCRE_IMPORT("ocre_sensors_get_channel_count") int ocre_sensors_get_channel_count(int sensor_id);
OCRE_IMPORT("ocre_sensors_get_channel_type") int ocre_sensors_get_channel_type(int sensor_id, int channel_index);
OCRE_IMPORT("ocre_sensors_read") double ocre_sensors_read(int sensor_id, int channel_type);
OCRE_IMPORT("ocre_sensors_get_handle_by_name") int ocre_sensors_get_handle_by_name(const char *sensor_name);
OCRE_IMPORT("ocre_sensors_open_by_name") int ocre_sensors_open_by_name(const char *sensor_name);
OCRE_IMPORT("ocre_sensors_get_channel_count_by_name")
int ocre_sensors_get_channel_count_by_name(const char *sensor_name);
OCRE_IMPORT("ocre_sensors_get_channel_type_by_name")
int ocre_sensors_get_channel_type_by_name(const char *sensor_name, int channel_index);
OCRE_IMPORT("ocre_sensors_read_by_name") double ocre_sensors_read_by_name(const char *sensor_name, int channel_type);

/* ---- POSIX ------------------------------------------------------------------------------ */
struct _ocre_posix_utsname {
    char sysname[OCRE_API_POSIX_BUF_SIZE];
    char nodename[OCRE_API_POSIX_BUF_SIZE];
    char release[OCRE_API_POSIX_BUF_SIZE];
    char version[OCRE_API_POSIX_BUF_SIZE];
    char machine[OCRE_API_POSIX_BUF_SIZE];
    char domainname[OCRE_API_POSIX_BUF_SIZE];
};

/* wasi-libc defines its own uname(); this declaration only resolves to the host's env.uname in
 * programs linked without it (as upstream). Use ocre_uname() to always reach the host. */
int uname(struct _ocre_posix_utsname *name);
OCRE_IMPORT("uname") int ocre_uname(struct _ocre_posix_utsname *name);

#ifdef __cplusplus
}
#endif
#endif /* OCRE_API_H */
