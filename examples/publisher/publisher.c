/* publisher: publishes a temperature reading on "sensor/temperature" every PERIOD_MS.
 *   ocre run -k ocre:api publisher.wasm [COUNT] [PERIOD_MS]   (COUNT 0 = forever, the default) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocre_api.h"

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 0;
    int period = argc > 2 ? atoi(argv[2]) : 500;
    char payload[64];

    for (int i = 1; count == 0 || i <= count; i++) {
        int len = snprintf(payload, sizeof payload, "{\"seq\":%d,\"celsius\":%d.%d}", i, 20 + i % 5, i % 10);
        int rc = ocre_publish_message("sensor/temperature", "application/json", payload, (uint32_t)len);
        printf("published %d (%s)\n", i, rc == 0 ? "delivered" : "no subscriber");
        fflush(stdout);
        ocre_sleep(period);
    }
    return 0;
}
