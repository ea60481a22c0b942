/* Tests the chunk decoder's batch path (tsdb_chunk_iter_next_n) against its
 * per-sample path and against the encoder's input: randomized chunks of every value encoding with regular,
 * jittered and wild timestamps (every delta-of-delta bucket boundary, jumps
 * near the int64 range) and values (decimal counters, NaN payloads, the
 * staleness marker, ±Inf, -0.0, constant runs, full-precision floats), then
 * the same chunks with flipped bits, truncated and extended: the new paths
 * must return the same samples, bit for bit, and the same error. The open
 * chunk's iterator (tsdb/chunk_open.c) gets the same treatment. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/chunk.h"
#include "tsdb/head_internal.h"

#define CAP (96 + 36 * TSDB_CHUNK_MAX_SAMPLES)
#define MAXN TSDB_CHUNK_MAX_SAMPLES

#define CHUNK_RNG_SEED 0x2545f4914f6cdd1dull
#include "chunk_fixture.h"

static const uint64_t special_bits[] = {
    0x7ff0000000000002ull, 0x7ff8000000000001ull, 0x7ff8000000000000ull, 0xfff8000000000000ull,
    0x7fffffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull, 0x8000000000000000ull,
    0x0000000000000000ull, 0x0000000000000001ull, 0x7fefffffffffffffull,
};
#define N_SPECIAL (sizeof special_bits / sizeof special_bits[0])

/* A delta-of-delta at or next to a bucket boundary: ±2^k and ±2^k - 1. */
static int64_t boundary_dod(void)
{
    unsigned k = (unsigned)(rnd() % 62);
    int64_t x = (int64_t)1 << k;
    switch (rnd() % 4) {
    case 0: return x;
    case 1: return x - 1;
    case 2: return -x;
    default: return -x + 1;
    }
}

/* Timestamps of one of several shapes; strictly increasing. */
static void gen_ts(int64_t *t, size_t n)
{
    unsigned shape = (unsigned)(rnd() % 6);
    int64_t step = shape == 5 ? (int64_t)(rnd() >> 3) + 1 : 1 + (int64_t)(rnd() % 60000);
    t[0] = (int64_t)(rnd() >> 2) - (int64_t)(rnd() >> 2);
    if (shape == 5 && t[0] > 0)
        t[0] = -t[0]; /* room for huge steps */
    int64_t d = step;
    for (size_t i = 1; i < n; i++) {
        int64_t dd = 0;
        switch (shape) {
        case 0: dd = 0; break;                                         /* regular scrape */
        case 1: dd = (int64_t)(rnd() % 7) - 3; break;                  /* jitter */
        case 2: dd = rnd() % 8 == 0 ? boundary_dod() : 0; break;       /* bucket boundaries */
        case 3: dd = rnd() % 16 == 0 ? (int64_t)(rnd() % 1000000) : 0; break; /* gaps */
        case 4: dd = boundary_dod(); break;
        default: dd = (int64_t)(rnd() % 1000); break;
        }
        int64_t nd = d + dd;
        if (nd <= 0 || nd > ((int64_t)1 << 62))
            nd = 1 + (int64_t)(rnd() % 100000);
        if (t[i - 1] > INT64_MAX - nd - 1024) /* near the top: steps of 1 */
            nd = 1;
        d = nd;
        t[i] = t[i - 1] + d;
    }
}

static double special(void)
{
    return bits_d(special_bits[rnd() % N_SPECIAL]);
}

/* Values of one of several shapes. */
static void gen_values(double *v, size_t n)
{
    unsigned shape = (unsigned)(rnd() % 9);
    unsigned k = (unsigned)(rnd() % 7);
    bool up = rnd() % 2;
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    int64_t c = (int64_t)(rnd() % 100000000);
    double x = bits_d(rnd() >> 2);
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0: /* decimal counter, now and then a staleness marker or reset */
            c += (int64_t)(rnd() % 500);
            if (rnd() % 50 == 0)
                c = 0;
            v[i] = rnd() % 40 == 0 ? special() : (double)c / p10[k];
            break;
        case 1: /* constant */
            v[i] = i == 0 ? (rnd() % 2 ? special() : (double)c) : v[0];
            break;
        case 2: /* constant runs */
            v[i] = i == 0 || rnd() % 10 == 0 ? (double)(rnd() % 1000) / 8 : v[i - 1];
            break;
        case 3: /* full-precision floats */
            v[i] = bits_d(rnd());
            break;
        case 4: /* growing float sum */
            x += bits_d((rnd() & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
            v[i] = x;
            break;
        case 5: /* specials only */
            v[i] = special();
            break;
        case 6: /* large decimal jumps */
            c += (int64_t)(rnd() >> (14 + rnd() % 50)) * (rnd() % 2 ? 1 : -1);
            if (c > (1ll << 50) || c < -(1ll << 50))
                c = 0;
            v[i] = (double)c / p10[k];
            break;
        case 8: /* pages of 4096 (a gcd): a counter, or a gauge up and down */
            c += 4096 * (up ? (int64_t)(rnd() % 100) : (int64_t)(rnd() % 201) - 100);
            v[i] = rnd() % 60 == 0 ? special() : (double)c;
            break;
        default: /* mixed */
            v[i] = rnd() % 3 == 0 ? special() : rnd() % 2 ? (double)(int64_t)(rnd() % 100) : bits_d(rnd());
            break;
        }
    }
}

struct decoded {
    size_t n;
    int err;
    int64_t t[MAXN + 1];
    uint64_t v[MAXN + 1];
};

static void dec_next(const uint8_t *p, size_t len, struct decoded *d)
{
    struct tsdb_chunk_iter it;
    tsdb_chunk_iter_init(&it, p, len);
    d->n = 0;
    while (d->n <= MAXN && tsdb_chunk_iter_next(&it)) {
        double v;
        tsdb_chunk_iter_at(&it, &d->t[d->n], &v);
        d->v[d->n++] = d_bits(v);
    }
    d->err = tsdb_chunk_iter_err(&it);
}

/* next_n with random caps, a next() now and then in between. */
static void dec_batch(const uint8_t *p, size_t len, struct decoded *d)
{
    static double v[MAXN + 1];
    struct tsdb_chunk_iter it;
    tsdb_chunk_iter_init(&it, p, len);
    d->n = 0;
    for (;;) {
        size_t cap = rnd() % 4 == 0 ? MAXN + 1 : 1 + rnd() % 40;
        if (cap > MAXN + 1 - d->n)
            cap = MAXN + 1 - d->n;
        if (cap == 0)
            break;
        if (rnd() % 8 == 0) {
            if (!tsdb_chunk_iter_next(&it))
                break;
            tsdb_chunk_iter_at(&it, &d->t[d->n], &v[d->n]);
            d->n++;
            continue;
        }
        size_t got = tsdb_chunk_iter_next_n(&it, d->t + d->n, v + d->n, cap);
        if (got > 0 && !tsdb_chunk_iter_err(&it)) { /* it stands on the last one returned */
            int64_t lt;
            double lv;
            tsdb_chunk_iter_at(&it, &lt, &lv);
            assert_int_equal(lt, d->t[d->n + got - 1]);
            assert_int_equal(d_bits(lv), d_bits(v[d->n + got - 1]));
        }
        d->n += got;
        if (got < cap)
            break;
    }
    for (size_t i = 0; i < d->n; i++)
        d->v[i] = d_bits(v[i]);
    d->err = tsdb_chunk_iter_err(&it);
    /* Nothing more after the end or an error. */
    int64_t t1;
    double v1;
    assert_int_equal(tsdb_chunk_iter_next_n(&it, &t1, &v1, 1), 0);
    assert_false(tsdb_chunk_iter_next(&it));
}

static void assert_same(const struct decoded *a, const struct decoded *b)
{
    assert_int_equal(a->err, b->err);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->t[i], b->t[i]);
        assert_int_equal(a->v[i], b->v[i]);
    }
}

static struct decoded nxt, bat;

/* Both decoding paths on p; they must agree. Returns the sample count. */
static size_t check_all(const uint8_t *p, size_t len)
{
    dec_next(p, len, &nxt);
    dec_batch(p, len, &bat);
    assert_same(&nxt, &bat);
    return nxt.n;
}

static void test_decode_random_round_trip_matches_input_and_next(void **state)
{
    static int64_t t[MAXN];
    static double v[MAXN];
    static uint8_t buf[CAP];
    unsigned by_venc[TSDB_VENC_N_] = {0};
    for (int iter = 0; iter < 6000; iter++) {
        size_t n = rnd() % 3 == 0 ? 1 + rnd() % MAXN : 1 + rnd() % 130;
        gen_ts(t, n);
        gen_values(v, n);
        for (int venc = TSDB_VENC_AUTO; venc < TSDB_VENC_N_; venc++) {
            size_t len;
            if (tsdb_chunk_encode(t, v, n, venc, buf, sizeof buf, &len, NULL) != 0) {
                assert_true(venc == TSDB_VENC_CONST || venc == TSDB_VENC_DEC);
                continue;
            }
            if (venc >= 0)
                by_venc[venc]++;
            assert_int_equal(check_all(buf, len), n);
            assert_int_equal(bat.err, 0);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(bat.t[i], t[i]);
                assert_int_equal(bat.v[i], d_bits(v[i]));
            }
        }
    }
    for (int k = 0; k < TSDB_VENC_N_; k++)
        assert_true(by_venc[k] > 100); /* every encoding was exercised */
}

static void test_decode_every_dod_bucket_boundary(void **state)
{
    /* One chunk per boundary: regular, a dod of ±2^k(-1), regular again. */
    static int64_t t[120];
    static double v[120];
    static uint8_t buf[CAP];
    for (unsigned k = 0; k < 62; k++) {
        for (int s = 0; s < 4; s++) {
            int64_t x = (int64_t)1 << k;
            int64_t dod = s == 0 ? x : s == 1 ? x - 1 : s == 2 ? -x : -x + 1;
            /* The delta steps by dod at sample 60 and back at 61: both
             * delta-of-deltas sit on the boundary, and t stays far from
             * overflow. */
            t[0] = 1700000000000;
            for (size_t i = 1; i < 120; i++) {
                int64_t d = 15000 + (i == 60 ? dod : 0);
                if (d <= 0)
                    d = 1;
                t[i] = t[i - 1] + d;
                v[i] = (double)i * 0.25;
            }
            v[0] = 0;
            for (int venc = TSDB_VENC_AUTO; venc < TSDB_VENC_N_; venc++) {
                size_t len;
                if (tsdb_chunk_encode(t, v, 120, venc, buf, sizeof buf, &len, NULL) != 0)
                    continue;
                assert_int_equal(check_all(buf, len), 120);
                for (size_t i = 0; i < 120; i++)
                    assert_int_equal(bat.t[i], t[i]);
            }
        }
    }
}

static void test_decode_corrupt_chunks_agree_with_next(void **state)
{
    static int64_t t[MAXN];
    static double v[MAXN];
    static uint8_t buf[CAP + 16], bad[CAP + 16];
    unsigned errors = 0, clean = 0;
    for (int iter = 0; iter < 4000; iter++) {
        size_t n = 1 + rnd() % 200;
        gen_ts(t, n);
        gen_values(v, n);
        int venc = (int)(rnd() % (TSDB_VENC_N_ + 1)) - 1;
        size_t len;
        if (tsdb_chunk_encode(t, v, n, venc, buf, CAP, &len, NULL) != 0)
            continue;
        for (int m = 0; m < 8; m++) {
            size_t blen = len;
            memcpy(bad, buf, len);
            switch (rnd() % 4) {
            case 0: /* flip bits */
                for (unsigned f = 1 + (unsigned)(rnd() % 3); f > 0; f--) {
                    size_t bit = rnd() % (8 * len);
                    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
                break;
            case 1: /* truncate */
                blen = rnd() % len;
                break;
            case 2: /* trailing bytes, zero or not */
                for (size_t e = 1 + rnd() % 9; e > 0; e--)
                    bad[blen++] = rnd() % 2 ? 0 : (uint8_t)rnd();
                break;
            default: /* a random byte in the bit stream's tail */
                bad[len - 1 - rnd() % (len < 8 ? len : 8)] = (uint8_t)rnd();
                break;
            }
            /* A private copy of exactly blen bytes: ASan sees any read past it. */
            uint8_t *p = malloc(blen ? blen : 1);
            assert_non_null(p);
            memcpy(p, bad, blen);
            check_all(p, blen);
            free(p);
            if (nxt.err)
                errors++;
            else
                clean++;
        }
    }
    assert_true(errors > 1000 && clean > 100); /* both outcomes were exercised */
}

/* Decodes an open chunk's bytes to the end: never more samples than it
 * claims, and the same answer twice (no state outside the iterator). */
static int ochunk_drain(const uint8_t *b, size_t len, uint16_t n)
{
    struct tsdb__ochunk_iter a, r;
    tsdb__ochunk_iter_init(&a, b, len, n);
    tsdb__ochunk_iter_init(&r, b, len, n);
    size_t got = 0;
    for (;;) {
        bool ga = tsdb__ochunk_iter_next(&a), gr = tsdb__ochunk_iter_next(&r);
        assert_int_equal(ga, gr);
        if (!ga)
            break;
        assert_true(++got <= n);
        assert_int_equal(a.t, r.t);
        assert_int_equal(a.v, r.v);
    }
    assert_int_equal(a.err, r.err);
    return a.err;
}

static void test_decode_open_chunk_matches_input(void **state)
{
    static int64_t t[MAXN];
    static double v[MAXN];
    static uint8_t bad[4096];
    unsigned errors = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + rnd() % 200;
        gen_ts(t, n);
        gen_values(v, n);
        struct tsdb__ochunk c = {0};
        for (size_t i = 0; i < n; i++)
            tsdb__ochunk_append(&c, t[i], v[i]);
        size_t len = tsdb__ochunk_len(&c);
        assert_true(len <= sizeof bad - 16);
        struct tsdb__ochunk_iter it;
        tsdb__ochunk_iter_init(&it, c.b, len, c.n);
        for (size_t i = 0; i < n; i++) {
            assert_true(tsdb__ochunk_iter_next(&it));
            assert_int_equal(it.t, t[i]);
            assert_int_equal(it.v, d_bits(v[i]));
        }
        assert_false(tsdb__ochunk_iter_next(&it));
        assert_int_equal(it.err, 0);
        assert_int_equal(ochunk_drain(c.b, len, c.n), 0);
        for (int m = 0; m < 6; m++) {
            size_t blen = len;
            memcpy(bad, c.b, len);
            uint16_t bn = c.n;
            switch (rnd() % 3) {
            case 0:
                for (unsigned f = 1 + (unsigned)(rnd() % 3); f > 0; f--) {
                    size_t bit = rnd() % (8 * len);
                    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
                break;
            case 1:
                blen = rnd() % len;
                break;
            default: /* more samples claimed than written */
                bn = (uint16_t)(c.n + 1 + rnd() % 4);
                break;
            }
            uint8_t *p = malloc(blen ? blen : 1);
            assert_non_null(p);
            memcpy(p, bad, blen);
            errors += ochunk_drain(p, blen, bn) != 0;
            free(p);
        }
        tsdb__ochunk_fini(&c);
    }
    assert_true(errors > 1000); /* corruption was seen, not only clean decodes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_random_round_trip_matches_input_and_next),
        cmocka_unit_test(test_decode_every_dod_bucket_boundary),
        cmocka_unit_test(test_decode_corrupt_chunks_agree_with_next),
        cmocka_unit_test(test_decode_open_chunk_matches_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
