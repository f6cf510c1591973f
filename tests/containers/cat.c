/* Copies stdin (or FILE) to stdout, or to stderr with -e (upstream's cat fixture).
 *   cat [-e] [FILE] */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    int i = 1;
    FILE *out = (argc > i && strcmp(argv[i], "-e") == 0) ? (i++, stderr) : stdout;
    FILE *in = stdin;
    if (argc > i && !(in = fopen(argv[i], "r"))) {
        fprintf(stderr, "cat: cannot open %s\n", argv[i]);
        return 1;
    }
    int c;
    while ((c = fgetc(in)) != EOF)
        fputc(c, out);
    fflush(out);
    return 0;
}
