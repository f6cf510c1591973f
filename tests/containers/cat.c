/* Copies stdin to stdout, or to stderr with -e (upstream's cat fixture). */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    FILE *out = (argc > 1 && strcmp(argv[1], "-e") == 0) ? stderr : stdout;
    int c;
    while ((c = getchar()) != EOF)
        fputc(c, out);
    fflush(out);
    return 0;
}
