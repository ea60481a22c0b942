/* Tests core/postings.c: intersect, merge and without against set
 * arithmetic on random sorted lists, seek semantics, and nesting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/postings.h"
#include "tests/unit/xorshift.h"

static uint64_t rng_state;
static uint64_t rnd(void) { return test_xorshift(&rng_state); }

#define UNIVERSE 600

/* A random subset of [1, UNIVERSE] as a sorted list and as a bitmap. */
static size_t random_list(struct scry_arena *a, uint64_t **out, bool *bits)
{
    unsigned density = (unsigned)(rnd() % 100);
    uint64_t *v = scry_arena_alloc(a, UNIVERSE * sizeof *v);
    size_t n = 0;
    memset(bits, 0, (UNIVERSE + 1) * sizeof *bits);
    for (uint64_t r = 1; r <= UNIVERSE; r++)
        if (rnd() % 100 < density) {
            v[n++] = r;
            bits[r] = true;
        }
    *out = v;
    return n;
}

static void expect(struct scry_postings_iter *it, const bool *want)
{
    uint64_t prev = 0;
    size_t n = 0, n_want = 0;
    while (scry_postings_next(it)) {
        uint64_t r = scry_postings_at(it);
        assert_true(r > prev);
        assert_true(r <= UNIVERSE && want[r]);
        prev = r;
        n++;
    }
    assert_int_equal(scry_postings_err(it), 0);
    for (size_t r = 0; r <= UNIVERSE; r++)
        n_want += want[r];
    assert_int_equal(n, n_want);
}

static void test_postings_algebra_matches_sets(void **state)
{
    bool b[4][UNIVERSE + 1], want[UNIVERSE + 1];
    for (int seed = 1; seed <= 300; seed++) {
        rng_state = (uint64_t)seed * 0x2545F4914F6CDD1Dull;
        struct scry_arena *a = scry_arena_create(0);
        uint64_t *l[4];
        size_t n[4];
        size_t k = 1 + rnd() % 4;
        for (size_t i = 0; i < k; i++)
            n[i] = random_list(a, &l[i], b[i]);
        struct scry_postings_iter *its[4];

        for (size_t i = 0; i < k; i++)
            its[i] = scry_postings_list(a, l[i], n[i]);
        for (size_t r = 0; r <= UNIVERSE; r++) {
            want[r] = true;
            for (size_t i = 0; i < k; i++)
                want[r] = want[r] && b[i][r];
        }
        expect(scry_postings_intersect(a, its, k), want);

        for (size_t i = 0; i < k; i++)
            its[i] = scry_postings_list(a, l[i], n[i]);
        for (size_t r = 0; r <= UNIVERSE; r++) {
            want[r] = false;
            for (size_t i = 0; i < k; i++)
                want[r] = want[r] || b[i][r];
        }
        expect(scry_postings_merge(a, its, k), want);

        /* (l0 ∪ l1) − (l2 ∩ l3), with the lists that exist. */
        struct scry_postings_iter *u2[2] = { scry_postings_list(a, l[0], n[0]),
                                             scry_postings_list(a, l[k > 1], n[k > 1]) };
        struct scry_postings_iter *i2[2] = { scry_postings_list(a, l[k > 2 ? 2 : 0], n[k > 2 ? 2 : 0]),
                                             scry_postings_list(a, l[k > 3 ? 3 : 0], n[k > 3 ? 3 : 0]) };
        for (size_t r = 0; r <= UNIVERSE; r++)
            want[r] = (b[0][r] || b[k > 1][r]) && !(b[k > 2 ? 2 : 0][r] && b[k > 3 ? 3 : 0][r]);
        expect(scry_postings_without(a, scry_postings_merge(a, u2, 2),
                                     scry_postings_intersect(a, i2, 2)), want);
        scry_arena_destroy(a);
    }
}

static void test_postings_seek_never_goes_back(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    static const uint64_t l[] = { 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };
    struct scry_postings_iter *it = scry_postings_list(a, l, 10);
    assert_true(scry_postings_seek(it, 9));
    assert_int_equal(scry_postings_at(it), 16);
    assert_true(scry_postings_seek(it, 3)); /* stays */
    assert_int_equal(scry_postings_at(it), 16);
    assert_true(scry_postings_seek(it, 1024));
    assert_int_equal(scry_postings_at(it), 1024);
    assert_false(scry_postings_seek(it, 1025));
    assert_false(scry_postings_next(it));

    static const uint64_t m1[] = { 1, 5, 9 }, m2[] = { 2, 5, 10 };
    struct scry_postings_iter *its[2] = { scry_postings_list(a, m1, 3), scry_postings_list(a, m2, 3) };
    struct scry_postings_iter *m = scry_postings_merge(a, its, 2);
    assert_true(scry_postings_seek(m, 3));
    assert_int_equal(scry_postings_at(m), 5);
    assert_true(scry_postings_next(m));
    assert_int_equal(scry_postings_at(m), 9);
    assert_true(scry_postings_seek(m, 9));
    assert_int_equal(scry_postings_at(m), 9);
    assert_true(scry_postings_next(m));
    assert_int_equal(scry_postings_at(m), 10);
    assert_false(scry_postings_next(m));

    assert_false(scry_postings_next(scry_postings_empty(a)));
    assert_false(scry_postings_next(scry_postings_intersect(a, NULL, 0)));
    assert_false(scry_postings_next(scry_postings_merge(a, NULL, 0)));
    scry_arena_destroy(a);
}

static void test_postings_expand_collects_in_order(void **state)
{
    struct scry_arena *a = scry_arena_create(0);
    uint64_t *big = scry_arena_alloc(a, 1000 * sizeof *big);
    for (int i = 0; i < 1000; i++)
        big[i] = (uint64_t)i * 3 + 1;
    uint64_t *out;
    size_t n;
    assert_int_equal(scry_postings_expand(scry_postings_list(a, big, 1000), a, &out, &n, NULL), 0);
    assert_int_equal(n, 1000);
    assert_memory_equal(out, big, 1000 * sizeof *big);
    scry_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postings_algebra_matches_sets),
        cmocka_unit_test(test_postings_seek_never_goes_back),
        cmocka_unit_test(test_postings_expand_collects_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
