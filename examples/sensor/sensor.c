/* sensor: lists the sensors the runtime offers and reads the "rng" sensor.
 *   ocre run sensor.wasm [READINGS] */
#include <stdio.h>
#include <stdlib.h>

#include "ocre_api.h"

int main(int argc, char **argv) {
    int readings = argc > 1 ? atoi(argv[1]) : 3;
    if (ocre_sensors_init() != 0) {
        printf("sensor: no sensor subsystem\n");
        return 1;
    }
    int n = ocre_sensors_discover();
    printf("sensor: %d sensors\n", n);
    for (int i = 0; i < n; i++) {
        int h = ocre_sensors_get_handle(i);
        ocre_sensors_open(h);
        printf("sensor %d: handle %d, %d channels\n", i, h, ocre_sensors_get_channel_count(h));
    }
    if (ocre_sensors_open_by_name("rng") != 0) {
        printf("sensor: no rng sensor\n");
        return 1;
    }
    int channel = ocre_sensors_get_channel_type_by_name("rng", 0);
    for (int i = 0; i < readings; i++) {
        printf("rng reading %d: %.3f\n", i, ocre_sensors_read_by_name("rng", channel));
        ocre_sleep(10);
    }
    return 0;
}
