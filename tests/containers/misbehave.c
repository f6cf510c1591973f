/* Hostile or broken behaviour on demand: spin, trap, recurse, memhog, sleep, unresolved import. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ocre_api.h"

static volatile unsigned long sink;
static int (*recurse_ptr)(int);
static int recurse(int n) {
    volatile char pad[256];
    int (*volatile next)(int) = recurse_ptr; /* an indirect call defeats tail-call elimination */
    pad[0] = (char)n;
    return pad[0] + next(n + 1);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "spin")) {
        printf("spinning\n");
        for (;;) sink++;
    } else if (!strcmp(mode, "trap")) {
        printf("about to trap\n");
        __builtin_trap();
    } else if (!strcmp(mode, "divzero")) {
        volatile int zero = 0;
        printf("%d\n", 10 / zero);
    } else if (!strcmp(mode, "recurse")) {
        recurse_ptr = recurse;
        printf("%d\n", recurse(0));
    } else if (!strcmp(mode, "memhog")) {
        size_t total = 0;
        for (;;) {
            void *p = malloc(65536);
            if (!p)
                break;
            sink += (unsigned long)p; /* keep the allocation observable */
            total += 65536;
        }
        printf("allocated %zu\n", total);
        return 0;
    } else if (!strcmp(mode, "sleep")) {
        int ms = argc > 2 ? atoi(argv[2]) : 100000;
        printf("sleeping %d\n", ms);
        int rc = ocre_sleep(ms);
        printf("woke rc=%d\n", rc);
        return rc == 0 ? 0 : 3;
    } else if (!strcmp(mode, "sleeploop")) {
        printf("looping\n");
        for (int i = 0;; i++) {
            if (ocre_sleep(20) != 0) {
                printf("stop requested after %d sleeps\n", i);
                return 7;
            }
        }
    } else if (!strcmp(mode, "unresolved")) {
        printf("calling an import nobody provides\n");
        ocre_msg_system_init();
    } else if (!strcmp(mode, "exit")) {
        exit(argc > 2 ? atoi(argv[2]) : 0);
    }
    printf("done\n");
    return 0;
}
