/* xorshift.h — the tests' pseudo-random numbers: Marsaglia's xorshift64
 * (13, 7, 17), so a seed gives the same data on every run and machine. */
#ifndef SCRY_TESTS_XORSHIFT_H
#define SCRY_TESTS_XORSHIFT_H

#include <stdint.h>

/* Advances *state (never 0) and returns it. */
static inline uint64_t test_xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif
