/*
 * Host test program for the bundle reader: the Python tests compile it with sanitizers and compare
 * its output with ocre_py.zephyr.bundle.Bundle.describe().
 *
 *   bundle_dump FILE [AVAIL]   validate FILE (AVAIL = partition size, default the file size), print
 *                              the entries, exit 0; or print "refused: ..." and exit 1
 *   bundle_dump --serve        loop: read a u32 little-endian length then that many bytes from stdin,
 *                              answer as above followed by a line "END" (one process for a fuzz run)
 *
 * The input is copied into a buffer of exactly its size, so ASan flags any read past its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "sha256.h"

static void print_strings(const char *list, uint32_t len)
{
    const char *s = NULL;
    int first = 1;

    putchar('[');
    while ((s = ocre_bundle_next_string(list, len, s)) != NULL) {
        if (!first) {
            putchar(',');
        }
        first = 0;
        putchar('"');
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
            if (*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\') {
                putchar(*c);
            } else {
                printf("\\x%02x", *c);
            }
        }
        putchar('"');
    }
    putchar(']');
}

static int dump(const uint8_t *data, size_t avail)
{
    struct ocre_bundle b;
    struct ocre_bundle_entry e;
    enum ocre_bundle_status st = ocre_bundle_open(&b, data, avail);
    uint32_t i;

    if (st != OCRE_BUNDLE_OK) {
        printf("refused: %s\n", ocre_bundle_strerror(st));
        return 1;
    }
    for (i = 0; i < b.count; i++) {
        st = ocre_bundle_entry(&b, i, &e);
        if (st == OCRE_BUNDLE_OK) {
            st = ocre_bundle_verify_entry(&e, ocre_sha256);
        }
        if (st != OCRE_BUNDLE_OK) {
            printf("refused: entry %u: %s\n", (unsigned)i, ocre_bundle_strerror(st));
            return 1;
        }
    }
    printf("bundle v%u count=%u size=%u crc=%08x\n", OCRE_BUNDLE_VERSION, (unsigned)b.count,
           (unsigned)b.total_size, (unsigned)b.crc32);
    for (i = 0; i < b.count; i++) {
        (void)ocre_bundle_entry(&b, i, &e);
        printf("entry %s off=%u size=%u flags=0x%x sha256=", e.name, (unsigned)e.module_offset,
               (unsigned)e.module_size, (unsigned)e.flags);
        for (int k = 0; k < 32; k++) {
            printf("%02x", e.sha256[k]);
        }
        printf(" args=");
        print_strings(e.args, e.args_len);
        printf(" env=");
        print_strings(e.env, e.env_len);
        putchar('\n');
    }
    return 0;
}

static int serve(void)
{
    unsigned char hdr[4];

    while (fread(hdr, 1, 4, stdin) == 4) {
        size_t len = (size_t)hdr[0] | ((size_t)hdr[1] << 8) | ((size_t)hdr[2] << 16) |
                     ((size_t)hdr[3] << 24);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf == NULL || fread(buf, 1, len, stdin) != len) {
            free(buf);
            return 2;
        }
        (void)dump(buf, len);
        free(buf);
        printf("END\n");
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    FILE *f;
    long size;
    uint8_t *buf;
    size_t avail;
    int rc;

    if (argc == 2 && strcmp(argv[1], "--serve") == 0) {
        return serve();
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bundle_dump FILE [AVAIL] | --serve\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(argv[1]);
        return 2;
    }
    buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        perror(argv[1]);
        return 2;
    }
    fclose(f);
    avail = argc == 3 ? (size_t)strtoul(argv[2], NULL, 0) : (size_t)size;
    if (avail > (size_t)size) {
        avail = (size_t)size; /* the reader must never be told more than the buffer holds */
    }
    rc = dump(buf, avail);
    free(buf);
    return rc;
}
