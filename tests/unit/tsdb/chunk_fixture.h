/* chunk_fixture.h — shared by the chunk codec tests (test_chunk.c,
 * test_chunk_decode.c): a seeded splitmix64 stream and the double <-> bits
 * views the bit-exact checks compare. Define CHUNK_RNG_SEED before
 * including, so each test keeps its own reproducible sequence. */
#ifndef SCRY_TESTS_TSDB_CHUNK_FIXTURE_H
#define SCRY_TESTS_TSDB_CHUNK_FIXTURE_H

#include <stdint.h>
#include <string.h>

#ifndef CHUNK_RNG_SEED
#error "define CHUNK_RNG_SEED before including chunk_fixture.h"
#endif

static uint64_t rng_state = CHUNK_RNG_SEED;

static inline uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double bits_d(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static inline uint64_t d_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

#endif
