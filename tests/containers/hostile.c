/* Hostile behaviour on demand, each mode printing "key=value" results for the tests. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ocre_api.h"

static int try_read(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    char buf[64];
    int n = (int)read(fd, buf, sizeof buf);
    close(fd);
    return n;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "escape")) { /* argv[2]: the mount point */
        char path[256];
        const char *m = argc > 2 ? argv[2] : "/data";
        snprintf(path, sizeof path, "%s/inside.txt", m);
        printf("inside=%d\n", try_read(path) > 0);
        snprintf(path, sizeof path, "%s/../../../../etc/passwd", m);
        printf("dotdot=%d\n", try_read(path) > 0);
        printf("absolute=%d\n", try_read("/etc/passwd") > 0);
        snprintf(path, sizeof path, "%s/link-out/secret.txt", m);
        printf("symlink_dir=%d\n", try_read(path) > 0);
        snprintf(path, sizeof path, "%s/link-file", m);
        printf("symlink_file=%d\n", try_read(path) > 0);
    } else if (!strcmp(mode, "fds")) {
        char path[256];
        const char *m = argc > 2 ? argv[2] : "/data";
        snprintf(path, sizeof path, "%s/inside.txt", m);
        int opened = 0;
        while (opened < 100000 && open(path, O_RDONLY) >= 0)
            opened++;
        printf("opened_many=%d\n", opened > 100);
        printf("stdout_still_works=1\n");
    } else if (!strcmp(mode, "timers")) {
        int ok = 0;
        for (int id = -5; id < 5000; id++)
            if (ocre_timer_create(id) == 0)
                ok++;
        printf("timers_created=%d\n", ok);
        for (int id = 1; id <= 16; id++)
            ocre_timer_start(id, 1, 1);
        ocre_sleep(300);
        printf("survived=1\n");
    } else if (!strcmp(mode, "flood")) { /* publish until refused; argv[2] payload size */
        int size = argc > 2 ? atoi(argv[2]) : 16;
        char *payload = calloc(1, (size_t)size + 1);
        memset(payload, 'x', (size_t)size);
        int sent = 0, rc = 0;
        for (int i = 0; i < 10000; i++) {
            rc = ocre_publish_message("flood/x", "text/plain", payload, (uint32_t)size);
            if (rc != 0)
                break;
            sent++;
        }
        printf("sent=%d last_rc=%d\n", sent, rc);
    } else if (!strcmp(mode, "stdout")) { /* argv[2] MiB of output */
        int mib = argc > 2 ? atoi(argv[2]) : 8;
        static char line[1024];
        memset(line, 'y', sizeof line - 1);
        line[sizeof line - 2] = '\n';
        for (int i = 0; i < mib * 1024; i++)
            fputs(line, stdout);
    }
    return 0;
}
