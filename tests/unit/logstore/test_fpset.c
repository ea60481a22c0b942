/* Tests logstore/fpset.c: every key added is found in its chunks after
 * encode + parse, absent keys are rarely reported (about 2^-LS_FP_SLACK per
 * probe), and damaged encodings are rejected or harmless. Also the word
 * classes of README.md "Token index". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logstore/fpset.h"

struct hits {
    uint32_t v[64];
    size_t n;
};
static void on_hit(void *ud, uint32_t chunk)
{
    struct hits *h = ud;
    if (h->n < 64)
        h->v[h->n++] = chunk;
}

static uint64_t key(uint32_t i) { return ls__fp_hash(LS_FP_DOMAIN_GRAM, (const char *)&i, 4); }

static void roundtrip(uint32_t n_keys, uint32_t n_chunks)
{
    struct ls_fpw w = { 0 };
    for (uint32_t i = 0; i < n_keys; i++) {
        ls__fpw_add(&w, key(i), i % n_chunks);
        if (i % 5 == 0)
            ls__fpw_add(&w, key(i), (i * 7 + 1) % n_chunks); /* a second chunk */
        ls__fpw_add(&w, key(i), i % n_chunks);               /* a repeat */
    }
    struct scry_buf b = { 0 };
    ls__fpw_encode(&w, n_chunks, &b);
    struct ls_fpset s;
    size_t used = 0;
    assert_int_equal(ls__fpset_parse(&s, (const uint8_t *)b.p, b.len, n_chunks, &used), 0);
    assert_int_equal(used, b.len);
    for (uint32_t i = 0; i < n_keys; i++) {
        struct hits h = { .n = 0 };
        ls__fpset_probe(&s, key(i), on_hit, &h);
        bool a = false, c = false;
        for (size_t k = 0; k < h.n; k++) {
            a |= h.v[k] == i % n_chunks;
            c |= h.v[k] == (i * 7 + 1) % n_chunks;
            if (k)
                assert_true(h.v[k] > h.v[k - 1]);
        }
        assert_true(a);
        assert_true(i % 5 || c);
    }
    size_t fp = 0;
    for (uint32_t i = n_keys; i < n_keys + 10000; i++) {
        struct hits h = { .n = 0 };
        ls__fpset_probe(&s, key(i), on_hit, &h);
        fp += h.n;
    }
    assert_true(fp < 10000 / 64); /* 2^-8 expected per probe */
    if (n_keys >= 1000) /* header aside: ~ slack + chunk bits + 2.5 per entry */
        assert_true(b.len * 8 < (size_t)n_keys * 1.2 * 40);
    /* Damage: any byte flipped or a short buffer must not crash; most fail. */
    for (size_t i = 0; i < b.len; i += 1 + b.len / 300) {
        b.p[i] ^= 0x21;
        struct ls_fpset t;
        if (ls__fpset_parse(&t, (const uint8_t *)b.p, b.len, n_chunks, &used) == 0) {
            struct hits h = { .n = 0 };
            ls__fpset_probe(&t, key(1), on_hit, &h);
        }
        b.p[i] ^= 0x21;
    }
    for (size_t l = 0; l + 1 < b.len; l += 1 + b.len / 100) {
        struct ls_fpset t;
        size_t u = 0;
        if (ls__fpset_parse(&t, (const uint8_t *)b.p, l, n_chunks, &u) == 0)
            assert_true(u <= l);
    }
    scry_buf_fini(&b);
    ls__fpw_fini(&w);
}

static void test_fpset_roundtrip(void **state)
{
    (void)state;
    roundtrip(0, 1);
    roundtrip(1, 1);
    roundtrip(300, 3);
    roundtrip(20000, 172);
    roundtrip(5000, 70000);
}

static void test_fpset_classes(void **state)
{
    (void)state;
    assert_true(ls__is_hexid("0af7651916cd43dd", 16));
    assert_true(ls__is_hexid("12345", 5));
    assert_false(ls__is_hexid("1234", 4));
    assert_false(ls__is_hexid("deadbeef", 8)); /* no digit: a word */
    assert_false(ls__is_hexid("u0093808", 8));
    assert_true(ls__is_numish("476362z", 7));
    assert_true(ls__is_numish("890910ms", 8));
    assert_false(ls__is_numish("890910msx", 9));
    assert_false(ls__is_numish("1234ms", 6));
    assert_true(ls__numish_piece("ms", 2));
    assert_true(ls__numish_piece("0910m", 5));
    assert_false(ls__numish_piece("m0", 2));
    assert_true(ls__all_hex("00ff", 4));
    assert_false(ls__all_hex("00fg", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fpset_roundtrip),
        cmocka_unit_test(test_fpset_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
