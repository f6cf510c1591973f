/* files: keeps a run counter in its own data directory (the `filesystem` capability preopens it as
 * "/") and writes a report into a mounted directory when one is given.
 *   ocre run -k filesystem -v /tmp/out:/data files.wasm /data */
#include <stdio.h>
#include <stdlib.h>

static int bump_counter(const char *path) {
    int runs = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%d", &runs) != 1)
            runs = 0;
        fclose(f);
    }
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", ++runs);
    fclose(f);
    return runs;
}

int main(int argc, char **argv) {
    int runs = bump_counter("/runs.txt");
    if (runs < 0) {
        printf("files: cannot write /runs.txt (is the filesystem capability granted?)\n");
        return 1;
    }
    printf("files: run %d\n", runs);
    if (argc > 1) {
        char path[256];
        snprintf(path, sizeof path, "%s/report.txt", argv[1]);
        FILE *f = fopen(path, "w");
        if (!f) {
            printf("files: cannot write %s\n", path);
            return 2;
        }
        fprintf(f, "files container, run %d\n", runs);
        fclose(f);
        printf("files: wrote %s\n", path);
    }
    return 0;
}
