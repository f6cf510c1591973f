/* subscriber: receives every message whose topic starts with "sensor/".
 *   ocre run -k ocre:api subscriber.wasm [COUNT]   (exits after COUNT messages; 0 = forever) */
#include <stdio.h>
#include <stdlib.h>

#include "ocre_api.h"

static int received;

static void on_message(const char *topic, const char *content_type, const void *payload, uint32_t len) {
    printf("received %s [%s]: %.*s\n", topic, content_type, (int)len, (const char *)payload);
    fflush(stdout);
    received++;
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 0;
    if (ocre_subscribe_message("sensor/") != 0 || ocre_register_message_callback("sensor/", on_message) != 0) {
        printf("subscriber: cannot subscribe (is the ocre:api capability granted?)\n");
        return -1;
    }
    printf("subscriber: waiting for sensor/ messages\n");
    fflush(stdout);
    while (count == 0 || received < count)
        ocre_process_events();
    return 0;
}
