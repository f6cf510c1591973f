/* hello: arguments, environment, stdout and the exit code.
 *   ocre run -e GREETING=Hi -e EXIT_CODE=3 hello.wasm world   → "Hi, world! powered by Ocre", exit 3 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *greeting = getenv("GREETING");
    const char *exit_code = getenv("EXIT_CODE");
    printf("%s, %s! powered by Ocre\n", greeting ? greeting : "Hello", argc > 1 ? argv[1] : "Ocre");
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    return exit_code ? atoi(exit_code) : 0;
}
