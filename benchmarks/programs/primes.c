/* CPU-bound benchmark: sieve of Eratosthenes up to 2,000,000, repeated ROUNDS times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 2000000
#define ROUNDS 50

int main(void) {
    static unsigned char composite[LIMIT + 1];
    int count = 0;
    for (int r = 0; r < ROUNDS; r++) {
        memset(composite, 0, sizeof composite);
        count = 0;
        for (int i = 2; i <= LIMIT; i++) {
            if (composite[i])
                continue;
            count++;
            for (long long j = (long long)i * i; j <= LIMIT; j += i)
                composite[j] = 1;
        }
    }
    printf("%d primes up to %d\n", count, LIMIT);
    return count == 148933 ? 0 : 1;
}
