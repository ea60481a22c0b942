/* Tests tsdb/chunk_open.c: the open chunk's Gorilla stream round-trips
 * every timestamp step and value bit pattern, keeps its buffer across
 * resets, is small for regular data, and sealing re-encodes exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/head_internal.h"
#include "tests/unit/xorshift.h"

static uint64_t rng_state;
static uint64_t rnd(void) { return test_xorshift(&rng_state); }

static double special(unsigned k)
{
    switch (k % 8) {
    case 0: return tsdb__bitsf(0x7ff0000000000002ull); /* staleness marker */
    case 1: return NAN;
    case 2: return INFINITY;
    case 3: return -INFINITY;
    case 4: return -0.0;
    case 5: return 5e-324;
    case 6: return 1.0;
    default: return tsdb__bitsf(rnd());
    }
}

static void check_round_trip(const int64_t *t, const double *v, size_t n)
{
    struct tsdb__ochunk c = { 0 };
    for (size_t i = 0; i < n; i++)
        tsdb__ochunk_append(&c, t[i], v[i]);
    assert_int_equal(c.n, n);
    assert_true(c.tlast == t[n - 1]);
    assert_true(tsdb__ochunk_mint(&c) == t[0]);
    struct tsdb__ochunk_iter it;
    tsdb__ochunk_iter_init(&it, c.b, tsdb__ochunk_len(&c), c.n);
    size_t k = 0;
    while (tsdb__ochunk_iter_next(&it)) {
        assert_true(k < n);
        assert_true(it.t == t[k]);
        assert_true(it.v == tsdb__fbits(v[k]));
        k++;
    }
    assert_int_equal(it.err, 0);
    assert_int_equal(k, n);
    tsdb__ochunk_fini(&c);
}

static void test_chunk_open_round_trips_every_step_size(void **state)
{
    static const int64_t steps[] = { 15000, 1, 15003, 14990, 100000, 1000000, 1ll << 40 };
    int64_t t[120];
    double v[120];
    for (int seed = 1; seed <= 200; seed++) {
        rng_state = (uint64_t)seed * 0x9e3779b97f4a7c15ull;
        size_t n = 1 + rnd() % 120;
        t[0] = (int64_t)(rnd() % 2000000000000ull) - 1000000000000ll;
        for (size_t i = 1; i < n; i++)
            t[i] = t[i - 1] + (seed % 3 ? steps[rnd() % 7] : 1 + (int64_t)(rnd() % 50000));
        for (size_t i = 0; i < n; i++)
            v[i] = seed % 4 == 0 ? special((unsigned)rnd()) : (seed % 4 == 1 ? 42.0 : (double)(rnd() % 1000) / 100);
        check_round_trip(t, v, n);
    }
}

static void test_chunk_open_regular_samples_are_small(void **state)
{
    struct tsdb__ochunk c = { 0 };
    for (int i = 0; i < 120; i++)
        tsdb__ochunk_append(&c, 1700000000000ll + i * 15000, 7.0);
    /* 16 bytes of sample 0, 24 bits for the first delta, then 2 bits a sample. */
    assert_true(tsdb__ochunk_len(&c) <= 16 + 3 + 30 + 1);
    tsdb__ochunk_fini(&c);
}

/* Decimal deltas: a cpu-seconds counter costs ~1 + 18 bits a sample, where
 * XOR needs ~45. */
static void test_chunk_open_decimal_counter_is_small(void **state)
{
    struct tsdb__ochunk c = { 0 };
    double v = 12345.67;
    rng_state = 5;
    for (int i = 0; i < 120; i++) {
        v = round((v + (double)(rnd() % 1500) / 100) * 100) / 100;
        tsdb__ochunk_append(&c, 1700000000000ll + i * 15000, v);
    }
    assert_true(tsdb__ochunk_len(&c) <= 16 + 3 + 119 * 20 / 8 + 1);
    struct tsdb__ochunk_iter it;
    tsdb__ochunk_iter_init(&it, c.b, tsdb__ochunk_len(&c), c.n);
    size_t k = 0;
    while (tsdb__ochunk_iter_next(&it))
        k++;
    assert_int_equal(k, 120);
    assert_true(tsdb__bitsf(it.v) == v);
    tsdb__ochunk_fini(&c);
}

static void test_chunk_open_reset_keeps_buffer(void **state)
{
    struct tsdb__ochunk c = { 0 };
    for (int i = 0; i < 100; i++)
        tsdb__ochunk_append(&c, i * 1000, (double)i * 1.5);
    uint8_t *b = c.b;
    uint16_t cap = c.cap;
    tsdb__ochunk_reset(&c);
    assert_int_equal(c.n, 0);
    assert_ptr_equal(c.b, b);
    for (int i = 0; i < 100; i++)
        tsdb__ochunk_append(&c, 5 + i * 1000, (double)i * 1.5);
    assert_ptr_equal(c.b, b); /* same data size: no growth */
    assert_int_equal(c.cap, cap);
    struct tsdb__ochunk_iter it;
    tsdb__ochunk_iter_init(&it, c.b, tsdb__ochunk_len(&c), c.n);
    assert_true(tsdb__ochunk_iter_next(&it));
    assert_true(it.t == 5);
    tsdb__ochunk_fini(&c);
}

static void test_chunk_open_truncated_bytes_are_corrupt(void **state)
{
    struct tsdb__ochunk c = { 0 };
    for (int i = 0; i < 50; i++)
        tsdb__ochunk_append(&c, i * 1000 + (i % 3), (double)i * 1.1);
    struct tsdb__ochunk_iter it;
    tsdb__ochunk_iter_init(&it, c.b, tsdb__ochunk_len(&c) / 2, c.n);
    size_t k = 0;
    while (tsdb__ochunk_iter_next(&it))
        k++;
    assert_true(k < 50);
    assert_int_equal(it.err, SCRY_ECORRUPT);
    tsdb__ochunk_fini(&c);
}

static void test_chunk_open_seal_round_trips(void **state)
{
    int64_t t[120];
    double v[120];
    rng_state = 77;
    for (int i = 0; i < 120; i++) {
        t[i] = 1000 + i * 15000 + (int64_t)(rnd() % 5);
        v[i] = i % 10 == 0 ? special((unsigned)i) : (double)(rnd() % 100000) / 100;
    }
    struct tsdb__chunk *c = tsdb__chunk_seal(t, v, 120);
    assert_true(c->mint == t[0] && c->maxt == t[119]);
    assert_int_equal(c->n, 120);
    struct tsdb_chunk_iter it;
    tsdb_chunk_iter_init(&it, c->b, c->len);
    for (int i = 0; i < 120; i++) {
        assert_true(tsdb_chunk_iter_next(&it));
        int64_t ct;
        double cv;
        tsdb_chunk_iter_at(&it, &ct, &cv);
        assert_true(ct == t[i]);
        assert_true(tsdb__fbits(cv) == tsdb__fbits(v[i]));
    }
    assert_false(tsdb_chunk_iter_next(&it));
    tsdb__chunk_acquire(c);
    tsdb__chunk_release(c);
    tsdb__chunk_release(c); /* refs 1 → 0: freed (ASan checks) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_open_round_trips_every_step_size),
        cmocka_unit_test(test_chunk_open_regular_samples_are_small),
        cmocka_unit_test(test_chunk_open_decimal_counter_is_small),
        cmocka_unit_test(test_chunk_open_reset_keeps_buffer),
        cmocka_unit_test(test_chunk_open_truncated_bytes_are_corrupt),
        cmocka_unit_test(test_chunk_open_seal_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
